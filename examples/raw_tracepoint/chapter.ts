/** Chapter 7, Raw tracepoints: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 7,
  dir: "raw_tracepoint",
  title: "Raw tracepoints",
  programs: [
    {
      name: "check_raw_tracepoint",
      summary: "BPF.supportRawTracepoint()",
      here: "native",
    },
    {
      name: "sched_switch_simple",
      summary: "RAW_TRACEPOINT_PROBE(sched_switch), prev/next tgid",
      here: "native",
    },
    {
      name: "sched_switch_attach_tracepoint",
      summary: "attachRawTracepoint by name; a misspelt name lists the close ones",
      here: "native",
    },
  ],
};
