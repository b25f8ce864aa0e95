/** Chapter 1, First step: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 1,
  dir: "first_step",
  title: "First step",
  programs: [
    {
      name: "printk_sample",
      summary: "kprobe on execve, bpf_trace_printk, trace_fields rows",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
  ],
};
