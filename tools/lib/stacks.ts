/**
 * Stack-count maps as bcc's profilers print them (profile, offcputime):
 * read a `counts` map keyed by (pid, user stack id, kernel stack id, comm)
 * with its stack map, symbolize once, then print bcc's multi-line stacks or
 * folded lines, JSON records, and the frames a flame graph or a pprof file
 * is made of.
 */
import { writeFileSync } from "node:fs";
import type { StackTrace, Table } from "../../src/index.js";
import { flameGraphSvg } from "../../src/profile/flamegraph.js";
import { pprofProfile } from "../../src/profile/pprof.js";
import { foldedFrames, readStackCounts, type StackRow, stackIdErr } from "../../src/profile/stack_counts.js";
import type { Output } from "./output.js";

/** What the counts map's key must hold (other fields are ignored). */
export interface StackKey {
  user_stack_id: number;
  kernel_stack_id: number;
  name: string;
}

export type { StackRow };

/** Which stacks the tool took, and how to print them. */
export interface StackShape {
  userOnly: boolean;
  kernelOnly: boolean;
  /** -d: a "-" (folded) or "--" (multi-line) between the user and kernel frames. */
  delimited: boolean;
  /** -a (profile): kernel frames end in "_[k]". */
  annotate?: boolean;
  /** -s (stackcount): symbols with their offset ("vfs_read+0x1a"). */
  offsets?: boolean;
  /** -v (stackcount): each frame's address before its symbol. */
  addresses?: boolean;
  /** --v8-markers: JavaScript frames keep V8's "JS:*" prefixes. */
  v8Markers?: boolean;
}

/** `--v8-markers`, for the tools that name user frames. */
export const V8_MARKERS_OPTION = {
  long: "v8-markers",
  type: "flag",
  help: "keep V8's tier markers on JavaScript frames (JS:~ interpreted, ^ baseline, + Maglev, * optimized)",
} as const;

/**
 * Every key of `counts` with its frames, least frequent first (bcc's order),
 * and how many stacks were lost (and whether for lack of room in the stack map).
 */
export function readStacks<K extends StackKey>(
  counts: Table,
  stacks: StackTrace,
  shape: StackShape,
  /** The process whose user stack a key holds (its symbols are used). */
  processOf: (key: K) => number,
): { rows: Array<StackRow<K>>; missing: number; enomem: boolean } {
  const r = readStackCounts<K>(counts, stacks, {
    ...shape,
    userStackField: "user_stack_id",
    kernelStackField: "kernel_stack_id",
    commField: "name",
    pid: processOf,
  });
  return { rows: r.rows, missing: r.missing, enomem: r.enomem };
}

/** A row's frames root first, as folded output has them: comm, user frames, "-", kernel frames. */
export { foldedFrames };

/** bcc's folded line: "comm;outer;…;inner count". */
export function foldedLine(row: StackRow, shape: StackShape): string {
  return `${foldedFrames(row, shape).join(";")} ${row.value}`;
}

/** bcc's multi-line block: kernel frames, "--", user frames, "- comm (pid)", the count and a blank line. */
export function printStackBlock(out: Output, row: StackRow, pid: number, shape: StackShape): void {
  const { user, kernel } = row;
  const delimit = shape.delimited && !shape.userOnly && !shape.kernelOnly;
  if (!shape.userOnly) {
    if (stackIdErr(row.kernelStackId)) out.line("    [Missed Kernel Stack]");
    else for (const f of kernel) out.line(`    ${f}`);
  }
  if (!shape.kernelOnly) {
    if (delimit && row.userStackId >= 0 && row.kernelStackId >= 0) out.line("    --");
    if (stackIdErr(row.userStackId)) out.line("    [Missed User Stack]");
    else for (const f of user) out.line(`    ${f}`);
  }
  out.printf("    %-16s %s (%d)", "-", row.comm ?? "", pid);
  out.line(`        ${row.value}\n`);
}

/**
 * Prints rows as bcc's profilers do: a JSON record each (`record`, with the
 * stacks added), folded lines, or multi-line blocks ending in "- comm (pid)".
 */
export function printStacks<K extends StackKey>(
  out: Output,
  rows: Array<StackRow<K>>,
  shape: StackShape,
  how: {
    folded: boolean;
    pidOf: (key: K) => number;
    /** The JSON record of a row, given its stacks' fields (user_stack, kernel_stack). */
    record: (row: StackRow<K>, stacks: Record<string, unknown>) => Record<string, unknown>;
  },
): void {
  for (const row of rows) {
    if (out.json) out.record(how.record(row, stackFields(row, shape)));
    else if (how.folded) out.line(foldedLine(row, shape));
    else printStackBlock(out, row, how.pidOf(row.key), shape);
  }
}

/** The JSON fields of a row's stacks (null for a stack that was lost). */
export function stackFields(row: StackRow, shape: StackShape): Record<string, unknown> {
  return {
    ...(shape.kernelOnly ? {} : { user_stack: stackIdErr(row.userStackId) ? null : row.user }),
    ...(shape.userOnly ? {} : { kernel_stack: stackIdErr(row.kernelStackId) ? null : row.kernel }),
  };
}

/** bcc's warning when stacks were lost. */
export function lostStacksWarning(missing: number, enomem: boolean): string | undefined {
  if (missing === 0) return undefined;
  return `WARNING: ${missing} stack traces lost and could not be displayed.${enomem ? " Consider increasing --stack-storage-size." : ""}`;
}

/** `--svg FILE` and `--pprof FILE`, for the tools that count stacks. */
export const PROFILE_FILE_OPTIONS = [
  {
    long: "svg",
    type: "string",
    metavar: "FILE",
    help: "also write an interactive flame graph (SVG) to FILE",
  },
  {
    long: "pprof",
    type: "string",
    metavar: "FILE",
    help: "also write a gzipped pprof profile (go tool pprof, Speedscope, Pyroscope) to FILE",
  },
] as const;

/** Writes the flame graph and the pprof file the options ask for (none: nothing). */
export function writeProfileFiles(
  rows: StackRow[],
  shape: StackShape,
  files: { svg?: string; pprof?: string },
  what: {
    title: string;
    /** What a count is: "samples", "us". */
    countName: string;
    sampleType: [type: string, unit: string];
    period?: [type: string, unit: string, value: number];
    startMs: number;
    durationMs: number;
    comment: string;
  },
): void {
  if (!files.svg && !files.pprof) return;
  const stacks = rows.map((r) => ({ frames: foldedFrames(r, shape), value: r.value }));
  if (files.pprof) {
    writeFileSync(
      files.pprof,
      pprofProfile(stacks, {
        sampleType: what.sampleType,
        ...(what.period ? { period: what.period } : {}),
        startMs: what.startMs,
        durationMs: what.durationMs,
        comment: what.comment,
      }),
    );
  }
  if (files.svg) {
    writeFileSync(
      files.svg,
      flameGraphSvg(stacks, { title: what.title, countName: what.countName, colors: "js" }),
    );
  }
}
