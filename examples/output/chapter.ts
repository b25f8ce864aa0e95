/** Chapter 2, Output: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 2,
  dir: "output",
  title: "Output",
  programs: [
    {
      name: "perf_output_sample",
      summary: "execve struct sent through BPF_PERF_OUTPUT and decoded from BTF",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
  ],
};
