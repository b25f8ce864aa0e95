/** Chapter 5, USDT: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 5,
  dir: "usdt",
  title: "USDT",
  programs: [
    {
      name: "target_sample",
      summary:
        "builds and runs the C target, which fires USDT probe target-sample:test-probe (counter, string)",
      here: "native",
    },
    {
      name: "probe_sample",
      summary: "USDT(pid), enable_probe, bpf_usdt_readarg of a counter and a string",
      here: "native",
    },
  ],
};
