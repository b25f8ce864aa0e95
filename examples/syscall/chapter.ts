/** Chapter 8, System-call probes: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 8,
  dir: "syscall",
  title: "System-call probes",
  programs: [
    {
      name: "execve_simple",
      summary: "syscall__execve + get_syscall_fnname + attach_kprobe",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
    {
      name: "execve_kprobe_simple",
      summary: "kprobe__execve: the error that names the real symbol",
      here: "error",
    },
  ],
};
