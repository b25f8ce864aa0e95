/** Chapter 11, Data access: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 11,
  dir: "data_access",
  title: "Data access",
  programs: [
    {
      name: "execve_simple",
      summary: "helpers for time, ids, comm, task, random, log2 and probe reads",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
  ],
};
