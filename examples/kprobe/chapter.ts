/** Chapter 3, kprobe / kretprobe: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 3,
  dir: "kprobe",
  title: "kprobe / kretprobe",
  programs: [
    {
      name: "tcpv4connect_simple",
      summary: "kprobe__/kretprobe__tcp_v4_connect auto-attached, PT_REGS_RC",
      here: "fallback: tracepoints sock:inet_sock_set_state + syscalls:sys_exit_connect",
    },
    {
      name: "tcpv4connect_args",
      summary: "kprobe with declared arguments mapped onto registers (addr_len)",
      here: "fallback: tracepoints syscalls:sys_enter_connect + sock:inet_sock_set_state",
    },
  ],
};
