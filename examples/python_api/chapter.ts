/** Chapter 14, The Python API: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 14,
  dir: "python_api",
  title: "The Python API",
  programs: [
    {
      name: "trace_print",
      summary: 'trace_print() raw and with fmt "{1} {5}"',
      here: "native",
    },
    {
      name: "trace_fields",
      summary: "trace_fields() tuples",
      here: "native",
    },
    {
      name: "task_switch",
      summary: "(prev, next) pid pairs on finish_task_switch in a BPF_HASH, printed from items()",
      here: "fallback: tracepoint sched:sched_switch",
    },
    {
      name: "map_values_sample",
      summary: "keys() vs values() of root/non-root counters",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
    {
      name: "symbols",
      summary: "ksymname and ksym, sym of a process's openat stacks, numOpenKprobes",
      here: "fallback: tracepoint syscalls:sys_enter_openat",
    },
  ],
};
