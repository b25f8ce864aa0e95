/** Chapter 9, kfunc / kretfunc: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 9,
  dir: "kfunc",
  title: "kfunc / kretfunc",
  programs: [
    {
      name: "check_kfunc",
      summary: "BPF.supportKfunc()",
      here: "native",
    },
    {
      name: "opensnoop_simple",
      summary:
        "KRETFUNC_PROBE on do_sys_openat2 (the original's do_sys_open), perf buffer of 64 pages: PID COMM FD ERR PATH",
      here: "fallback: tracepoints syscalls:sys_enter_openat/sys_exit_openat",
    },
  ],
};
