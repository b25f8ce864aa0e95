// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * A counts map keyed by stack ids (bcc's `counts[key]++` with
 * `key.user_stack_id = stack_traces.get_stackid(ctx, BPF_F_USER_STACK)`),
 * read with its stack map and symbolized once: the rows bcc's profilers
 * print, folded lines, a flame graph and a pprof file. The tools use it, and
 * so can a user's own program: `stacks.folded(counts)`.
 */

import { sym } from "../elf/procmaps.js";
import { ksym } from "../kernel/kallsyms.js";
import type { StackTrace, Table } from "../maps/table.js";
import { type FlameGraphOptions, flameGraphSvg } from "./flamegraph.js";
import { type PprofOptions, pprofProfile, type StackCount } from "./pprof.js";

/** One key of the counts map with its count and its symbolized frames (innermost first). */
export interface StackRow<K = unknown> {
  key: K;
  value: bigint;
  /** The user stack's id (negative: none or lost, as the kernel returned it). */
  userStackId: number;
  kernelStackId: number;
  /** The process whose symbols named the user frames (-1: none known). */
  pid: number;
  /** The task's name, when the key has a name field (which may be empty: bcc's stackcount without -P). */
  comm: string | undefined;
  user: string[];
  kernel: string[];
}

/** How to read the counts map's keys and name the frames. */
export interface StackCountOptions<K = unknown> {
  /**
   * Where the stack ids are in the key: field names (default: the first
   * present of user_stack_id/user_stack/ustack_id/ustack, and of
   * kernel_stack_id/kernel_stack/kstack_id/kstack/stack_id). A key that is a
   * plain number is one stack id, of the kind `kind` says (default kernel).
   */
  userStackField?: string;
  kernelStackField?: string;
  kind?: "user" | "kernel";
  /**
   * The process whose symbols name a key's user frames: a number for every
   * key, a function of the key, or (default) the key's pid or tgid field.
   */
  pid?: number | ((key: K) => number);
  /** The task-name field (default: name or comm), the folded line's first frame. */
  commField?: string;
  /** Only the user stacks, or only the kernel's. */
  userOnly?: boolean;
  kernelOnly?: boolean;
  /** A "-" frame between the user and kernel frames (bcc's -d). */
  delimited?: boolean;
  /** Kernel frames end in "_[k]" (bcc profile's -a). */
  annotate?: boolean;
  /** Symbols with their offset ("vfs_read+0x1a"). */
  offsets?: boolean;
  /** Each frame's address before its symbol (stackcount -v). */
  addresses?: boolean;
  /**
   * Keep V8's markers on JavaScript frames ("JS:*fib /app.js:3:13"; `~`
   * interpreted, `^` Sparkplug, `+` Maglev, `*` TurboFan). Default false:
   * "fib /app.js:3:13", so the tiers of one function count together.
   */
  v8Markers?: boolean;
}

const EFAULT = 14;
const ENOMEM = 12;

/** bcc's stack_id_err: a lost stack (-EFAULT is "no stack of that kind", a kernel thread's user stack). */
export function stackIdErr(id: number): boolean {
  return id < 0 && id !== -EFAULT;
}

/** The frames of the probe itself (the program, the tracepoint's runner), innermost first: dropped. */
const OWN_FRAME = /^(bpf_prog_\w+|bpf_trace_run\d+|__traceiter_\w+|__bpf_trace_\w+)$/;

/** V8's perf-map prefixes of JavaScript functions and their tier markers (Node 12+: "JS:", older "LazyCompile:"). */
const V8_MARKERS = /^(?:JS|LazyCompile|Function):[~^+*]?/;

/** A JavaScript frame's name without V8's type prefix and tier marker; other names unchanged. */
export function stripV8Markers(name: string): string {
  return name.replace(V8_MARKERS, "");
}

const USER_FIELDS = ["user_stack_id", "user_stack", "ustack_id", "ustack"];
const KERNEL_FIELDS = ["kernel_stack_id", "kernel_stack", "kstack_id", "kstack", "stack_id"];

function field(key: Record<string, unknown>, named: string | undefined, names: string[]): string | undefined {
  if (named !== undefined) return named;
  return names.find((n) => typeof key[n] === "number");
}

/** A row's frames root first, as folded lines have them: comm, user frames, "-", kernel frames. */
export function foldedFrames(
  row: StackRow,
  o: Pick<StackCountOptions, "userOnly" | "kernelOnly" | "delimited">,
): string[] {
  // (an empty name still opens the line, as in bcc's folded output: ";main 25")
  const line = row.comm !== undefined ? [row.comm] : [];
  if (!o.kernelOnly) {
    if (stackIdErr(row.userStackId)) line.push("[Missed User Stack]");
    else line.push(...[...row.user].reverse());
  }
  if (!o.userOnly) {
    if (o.delimited && !o.kernelOnly && row.kernelStackId >= 0 && row.userStackId >= 0) line.push("-");
    if (stackIdErr(row.kernelStackId)) line.push("[Missed Kernel Stack]");
    else line.push(...[...row.kernel].reverse());
  }
  return line;
}

/** Every key of the counts map with its frames, least frequent first (bcc's order). */
export class StackCounts<K = unknown> {
  /** How many stacks the kernel lost, and whether for lack of room in the stack map (-ENOMEM). */
  readonly missing: number;
  readonly enomem: boolean;

  constructor(
    readonly rows: Array<StackRow<K>>,
    private readonly opts: StackCountOptions<K>,
    lost: { missing: number; enomem: boolean },
  ) {
    this.missing = lost.missing;
    this.enomem = lost.enomem;
  }

  /** A row's frames root first, as folded lines have them: comm, user frames, "-", kernel frames. */
  frames(row: StackRow<K>): string[] {
    return foldedFrames(row, this.opts);
  }

  /** Every row as frames (root first) and a count: what flame graphs and pprof take. */
  stacks(): StackCount[] {
    return this.rows.map((r) => ({ frames: this.frames(r), value: r.value }));
  }

  /** bcc's folded line of a row: "comm;outer;…;inner count". */
  foldedLine(row: StackRow<K>): string {
    return `${this.frames(row).join(";")} ${row.value}`;
  }

  /** Folded lines (flamegraph.pl's input), one per key, each ending in a newline. */
  folded(): string {
    return this.rows.map((r) => `${this.foldedLine(r)}\n`).join("");
  }

  /** A self-contained interactive flame graph (SVG text). */
  flameGraph(opts: FlameGraphOptions = {}): string {
    return flameGraphSvg(this.stacks(), { colors: "js", ...opts });
  }

  /** A gzipped pprof profile (go tool pprof, Speedscope, Grafana Pyroscope). */
  pprof(opts: PprofOptions = {}): Uint8Array {
    return pprofProfile(this.stacks(), opts);
  }
}

/**
 * Reads `counts` (its keys hold stack ids of `stacks`) and symbolizes each
 * stack: kernel frames through /proc/kallsyms, user frames through the
 * process's mappings, ELF symbols, debuginfo and perf map (JavaScript).
 */
export function readStackCounts<K = unknown>(
  counts: Table,
  stacks: StackTrace,
  opts: StackCountOptions<K> = {},
): StackCounts<K> {
  const entries = ([...counts.items()] as Array<[K, bigint | number]>).map(([k, v]): [K, bigint] => [
    k,
    BigInt(v),
  ]);
  entries.sort(([, x], [, y]) => (x < y ? -1 : x > y ? 1 : 0));
  let missing = 0;
  let enomem = false;
  const withAddress = (ip: bigint, name: string): string =>
    opts.addresses ? `${ip.toString(16).padEnd(16)} ${name}` : name;
  // Stacks share most of their frames: each address is named once a process.
  const kernelNames = new Map<bigint, string>();
  const userNames = new Map<number, Map<bigint, string>>();
  const kernelName = (ip: bigint): string => {
    let name = kernelNames.get(ip);
    if (name === undefined) {
      const s = ksym(ip, { showOffset: opts.offsets === true });
      name = withAddress(ip, opts.annotate ? `${s}_[k]` : s);
      kernelNames.set(ip, name);
    }
    return name;
  };
  const rows = entries.map(([key, v]): StackRow<K> => {
    let userStackId = -EFAULT;
    let kernelStackId = -EFAULT;
    let pid = -1;
    let comm: string | undefined;
    if (typeof key === "number") {
      if (opts.kind === "user") userStackId = key;
      else kernelStackId = key;
    } else {
      const k = key as Record<string, unknown>;
      const uf = field(k, opts.userStackField, USER_FIELDS);
      const kf = field(k, opts.kernelStackField, KERNEL_FIELDS);
      if (uf !== undefined) userStackId = Number(k[uf]);
      if (kf !== undefined) kernelStackId = Number(k[kf]);
      const pf = ["pid", "tgid"].find((n) => typeof k[n] === "number");
      if (pf !== undefined) pid = Number(k[pf]);
      const cf = opts.commField ?? ["name", "comm"].find((n) => typeof k[n] === "string");
      if (cf !== undefined) comm = String(k[cf] ?? "");
    }
    if (typeof opts.pid === "number") pid = opts.pid;
    else if (typeof opts.pid === "function") pid = opts.pid(key);
    for (const [id, skip] of [
      [kernelStackId, opts.userOnly],
      [userStackId, opts.kernelOnly],
    ] as const) {
      if (!skip && stackIdErr(id)) {
        missing++;
        enomem ||= id === -ENOMEM;
      }
    }
    const seen = userNames.get(pid) ?? new Map<bigint, string>();
    userNames.set(pid, seen);
    const userName = (ip: bigint): string => {
      let name = seen.get(ip);
      if (name === undefined) {
        const s = pid < 0 ? "[unknown]" : sym(ip, pid, { showOffset: opts.offsets === true });
        name = withAddress(ip, opts.v8Markers ? s : stripV8Markers(s));
        seen.set(ip, name);
      }
      return name;
    };
    const user = userStackId < 0 || opts.kernelOnly ? [] : stacks.walk(userStackId, userName);
    let kernel = kernelStackId < 0 || opts.userOnly ? [] : stacks.walk(kernelStackId, kernelName);
    let i = 0;
    while (i < kernel.length && OWN_FRAME.test(kernel[i] as string)) i++;
    kernel = kernel.slice(i);
    return { key, value: v, userStackId, kernelStackId, pid, comm, user, kernel };
  });
  return new StackCounts(rows, opts, { missing, enomem });
}
