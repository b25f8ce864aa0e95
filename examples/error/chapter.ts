/** Chapter 10, Errors: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 10,
  dir: "error",
  title: "Errors",
  programs: [
    {
      name: "error_sample",
      summary: "non-GPL program calling a GPL-only helper: VerifierError",
      here: "error",
    },
    {
      name: "invalid_mem_access",
      summary:
        "a direct dereference of user memory (execve's filename): VerifierError naming the line and the helper",
      here: "error",
    },
  ],
};
