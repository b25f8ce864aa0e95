/** Chapter 6, Tracepoints: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 6,
  dir: "tracepoint",
  title: "Tracepoints",
  programs: [
    {
      name: "tcp_probe_simple",
      summary: "TRACEPOINT_PROBE(tcp, tcp_probe) printing the first bytes of args->daddr",
      here: "native",
    },
    {
      name: "tcp_probe_filter",
      summary: "tcp_probe filtered to IPv4, destination port and pid/tgid",
      here: "native",
    },
    {
      name: "tcp_probe",
      summary: "tcp_probe struct through BPF_PERF_OUTPUT: COMM PID sport dport",
      here: "native",
    },
    {
      name: "tcp_probe_attach_tracepoint",
      summary: "explicit args struct and attachTracepoint(tcp:tcp_probe)",
      here: "native",
    },
  ],
};
