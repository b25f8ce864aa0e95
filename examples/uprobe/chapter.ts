/** Chapter 4, uprobe / uretprobe: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 4,
  dir: "uprobe",
  title: "uprobe / uretprobe",
  programs: [
    {
      name: "target_sample",
      summary: "builds and runs the C target, which calls int func(int) once a second",
      here: "native",
    },
    {
      name: "uprobe_simple",
      summary: "uprobe and uretprobe on the target's func: argument and return value",
      here: "native",
    },
    {
      name: "strlen_snoop_simple",
      summary: 'uprobe on libc\'s strlen (library name "c"), prints the length of each string',
      here: "native",
    },
  ],
};
