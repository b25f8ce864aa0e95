/**
 * Stack-count maps as bcc's profilers print them (profile, offcputime):
 * read a `counts` map keyed by (pid, user stack id, kernel stack id, comm)
 * with its stack map, symbolize once, then print bcc's multi-line stacks or
 * folded lines, JSON records, and the frames a flame graph or a pprof file
 * is made of.
 */
import { writeFileSync } from "node:fs";
import type { BPF, StackTrace, Table } from "../../src/index.js";
import { flameGraphSvg } from "../../src/profile/flamegraph.js";
import { pprofProfile } from "../../src/profile/pprof.js";
import type { Output } from "./output.js";

/** What the counts map's key must hold (other fields are ignored). */
export interface StackKey {
  user_stack_id: number;
  kernel_stack_id: number;
  name: string;
}

/** One key with its count and symbolized frames (innermost first). */
export interface StackRow<K extends StackKey = StackKey> {
  key: K;
  value: bigint;
  user: string[];
  kernel: string[];
}

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
}

const EFAULT = 14;
const ENOMEM = 12;

/** bcc's stack_id_err: -EFAULT means no stack of that kind (a kernel thread's user stack). */
export function stackIdErr(id: number): boolean {
  return id < 0 && id !== -EFAULT;
}

/** The frames of the probe itself (the program, the tracepoint's runner), innermost first: dropped. */
const OWN_FRAME = /^(bpf_prog_\w+|bpf_trace_run\d+|__traceiter_\w+|__bpf_trace_\w+)$/;

function ownFramesOff(frames: string[]): string[] {
  let i = 0;
  while (i < frames.length && OWN_FRAME.test(frames[i] as string)) i++;
  return frames.slice(i);
}

/**
 * Every key of `counts` with its frames, least frequent first (bcc's order),
 * and how many stacks were lost (and whether for lack of room in the stack map).
 */
export function readStacks<K extends StackKey>(
  b: BPF,
  counts: Table,
  stacks: StackTrace,
  shape: StackShape,
  /** The process whose user stack a key holds (its symbols are used). */
  processOf: (key: K) => number,
): { rows: Array<StackRow<K>>; missing: number; enomem: boolean } {
  const rows = ([...counts.items()] as Array<[K, bigint | number]>).map(([key, v]) => ({
    key,
    value: BigInt(v),
  }));
  rows.sort((x, y) => (x.value < y.value ? -1 : x.value > y.value ? 1 : 0));
  let missing = 0;
  let enomem = false;
  const withAddress = (ip: bigint, name: string): string =>
    shape.addresses ? `${ip.toString(16).padEnd(16)} ${name}` : name;
  const kernelName = (ip: bigint): string => {
    const s = b.ksym(ip, { showOffset: shape.offsets === true });
    return withAddress(ip, shape.annotate ? `${s}_[k]` : s);
  };
  const out = rows.map(({ key, value }) => {
    for (const [id, skip] of [
      [key.kernel_stack_id, shape.userOnly],
      [key.user_stack_id, shape.kernelOnly],
    ] as const) {
      if (!skip && stackIdErr(id)) {
        missing++;
        enomem ||= id === -ENOMEM;
      }
    }
    const user =
      key.user_stack_id < 0
        ? []
        : stacks.walk(key.user_stack_id, (ip) =>
            withAddress(ip, b.sym(ip, processOf(key), { showOffset: shape.offsets === true })),
          );
    const kernel = key.kernel_stack_id < 0 ? [] : ownFramesOff(stacks.walk(key.kernel_stack_id, kernelName));
    return { key, value, user, kernel };
  });
  return { rows: out, missing, enomem };
}

/** A row's frames root first, as folded output has them: comm, user frames, "-", kernel frames. */
export function foldedFrames(row: StackRow, shape: StackShape): string[] {
  const { key, user, kernel } = row;
  const line = [key.name];
  if (!shape.kernelOnly) {
    if (stackIdErr(key.user_stack_id)) line.push("[Missed User Stack]");
    else line.push(...[...user].reverse());
  }
  if (!shape.userOnly) {
    if (shape.delimited && !shape.kernelOnly && key.kernel_stack_id >= 0 && key.user_stack_id >= 0)
      line.push("-");
    if (stackIdErr(key.kernel_stack_id)) line.push("[Missed Kernel Stack]");
    else line.push(...[...kernel].reverse());
  }
  return line;
}

/** bcc's folded line: "comm;outer;…;inner count". */
export function foldedLine(row: StackRow, shape: StackShape): string {
  return `${foldedFrames(row, shape).join(";")} ${row.value}`;
}

/** bcc's multi-line block: kernel frames, "--", user frames, "- comm (pid)", the count and a blank line. */
export function printStackBlock(out: Output, row: StackRow, pid: number, shape: StackShape): void {
  const { key, user, kernel } = row;
  const delimit = shape.delimited && !shape.userOnly && !shape.kernelOnly;
  if (!shape.userOnly) {
    if (stackIdErr(key.kernel_stack_id)) out.line("    [Missed Kernel Stack]");
    else for (const f of kernel) out.line(`    ${f}`);
  }
  if (!shape.kernelOnly) {
    if (delimit && key.user_stack_id >= 0 && key.kernel_stack_id >= 0) out.line("    --");
    if (stackIdErr(key.user_stack_id)) out.line("    [Missed User Stack]");
    else for (const f of user) out.line(`    ${f}`);
  }
  out.printf("    %-16s %s (%d)", "-", key.name, pid);
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
    ...(shape.kernelOnly ? {} : { user_stack: stackIdErr(row.key.user_stack_id) ? null : row.user }),
    ...(shape.userOnly ? {} : { kernel_stack: stackIdErr(row.key.kernel_stack_id) ? null : row.kernel }),
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
