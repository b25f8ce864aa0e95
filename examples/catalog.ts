/**
 * Every tutorial program ported to tsbpf, chapter by chapter (the chapters
 * of ../shared/TUTORIAL.md). `tsbpf example --list` prints it and the README's
 * example table is generated from it (scripts/readme-tables.mjs).
 */

import { chapter as c11 } from "./data_access/chapter.js";
import { chapter as c12 } from "./debug/chapter.js";
import { chapter as c10 } from "./error/chapter.js";
import { chapter as c01 } from "./first_step/chapter.js";
import { chapter as c09 } from "./kfunc/chapter.js";
import { chapter as c03 } from "./kprobe/chapter.js";
import type { Chapter, ProgramEntry } from "./lib/catalog_types.js";
import { chapter as c13 } from "./maps/chapter.js";
import { chapter as c02 } from "./output/chapter.js";
import { chapter as c14 } from "./python_api/chapter.js";
import { chapter as c07 } from "./raw_tracepoint/chapter.js";
import { chapter as c08 } from "./syscall/chapter.js";
import { chapter as c06 } from "./tracepoint/chapter.js";
import { chapter as c04 } from "./uprobe/chapter.js";
import { chapter as c05 } from "./usdt/chapter.js";

export type { Chapter, ProgramEntry };

export const chapters: readonly Chapter[] = [
  c01,
  c02,
  c03,
  c04,
  c05,
  c06,
  c07,
  c08,
  c09,
  c10,
  c11,
  c12,
  c13,
  c14,
];

/** Every program as "<chapter>/<program>", in tutorial order. */
export function exampleIds(): string[] {
  return chapters.flatMap((c) => c.programs.map((p) => `${c.dir}/${p.name}`));
}

/** The catalog entry of "<chapter>/<program>", if there is one. */
export function findExample(id: string): { chapter: Chapter; program: ProgramEntry } | undefined {
  for (const chapter of chapters)
    for (const program of chapter.programs)
      if (`${chapter.dir}/${program.name}` === id) return { chapter, program };
  return undefined;
}
