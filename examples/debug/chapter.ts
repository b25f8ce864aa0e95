/** Chapter 12, Debug: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 12,
  dir: "debug",
  title: "Debug",
  programs: [
    {
      name: "bpf_override_return",
      summary: "bpf_override_return on execve for bash",
      here: "error",
    },
  ],
};
