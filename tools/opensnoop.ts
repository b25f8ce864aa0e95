/**
 * opensnoop: trace open() system calls, bcc's columns and options. Hooks:
 * the syscalls:sys_{enter,exit}_open, _openat and _openat2 tracepoints (bcc
 * uses kprobes or fexit on the same system call functions). -F completes a
 * relative path in the kernel from the directory it is relative to.
 */
import { cpus } from "node:os";
import { BPF, type RingBuf } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { ROW_BATCH_MS } from "./lib/output.js";
import { splitCStrings } from "./lib/proc.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";
import { parseUid } from "./lib/users.js";

interface OpenEvent {
  ts: bigint;
  pid: number;
  tid: number;
  uid: number;
  ret: number;
  flags: number;
  path_size: number;
  parts: number;
  truncated: number;
  comm: string;
}

/** Where the path starts in a record (a _Static_assert in opensnoop.bpf.c keeps them equal). */
const PATH_OFFSET = 56;

const TRACEPOINTS: Array<[string, string]> = [
  ["syscalls:sys_enter_open", "open_enter"],
  ["syscalls:sys_exit_open", "open_exit"],
  ["syscalls:sys_enter_openat", "openat_enter"],
  ["syscalls:sys_exit_openat", "openat_exit"],
  ["syscalls:sys_enter_openat2", "openat2_enter"],
  ["syscalls:sys_exit_openat2", "openat2_exit"],
];

/** The O_ flags as Python's os module has them (bcc's -f takes those names), for this machine's architecture. */
function openFlags(): Record<string, number> {
  const f: Record<string, number> = {
    O_RDONLY: 0,
    O_WRONLY: 0o1,
    O_RDWR: 0o2,
    O_ACCMODE: 0o3,
    O_CREAT: 0o100,
    O_EXCL: 0o200,
    O_NOCTTY: 0o400,
    O_TRUNC: 0o1000,
    O_APPEND: 0o2000,
    O_NONBLOCK: 0o4000,
    O_NDELAY: 0o4000,
    O_DSYNC: 0o10000,
    O_ASYNC: 0o20000,
    O_DIRECT: 0o40000,
    O_LARGEFILE: 0,
    O_DIRECTORY: 0o200000,
    O_NOFOLLOW: 0o400000,
    O_NOATIME: 0o1000000,
    O_CLOEXEC: 0o2000000,
    O_SYNC: 0o4010000,
    O_FSYNC: 0o4010000,
    O_RSYNC: 0o4010000,
    O_PATH: 0o10000000,
    O_TMPFILE: 0o20200000,
  };
  if (process.arch === "arm64" || process.arch === "arm") {
    Object.assign(f, {
      O_DIRECTORY: 0o40000,
      O_NOFOLLOW: 0o100000,
      O_DIRECT: 0o200000,
      O_TMPFILE: 0o20040000,
    });
  }
  return f;
}

/**
 * bcc's `os.path.join(*reversed(parts))` of a name and, with -F, the
 * directories it is relative to (innermost first, up to the root).
 */
export function joinPath(parts: string[], full: boolean): string {
  const [name = "", ...dirs] = parts;
  if (!full || name.startsWith("/")) return name;
  return `/${[...dirs].reverse().join("/")}${dirs.length ? "/" : ""}${name}`;
}

export const tool: Tool = {
  name: "opensnoop",
  summary: "Trace open() syscalls",
  options: [
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "U", long: "print-uid", type: "flag", help: "print UID column" },
    { short: "x", long: "failed", type: "flag", help: "only show failed opens" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "t", long: "tid", type: "int", help: "trace this TID only" },
    { short: "u", long: "uid", type: "string", help: "trace this UID only" },
    { short: "d", long: "duration", type: "float", help: "total duration of trace in seconds" },
    { short: "n", long: "name", type: "string", help: "only print process names containing this name" },
    { short: "e", long: "extended_fields", type: "flag", help: "show extended fields" },
    {
      short: "f",
      long: "flag_filter",
      type: "list",
      help: "filter on flags argument (e.g., O_WRONLY)",
    },
    {
      short: "F",
      long: "full-path",
      type: "flag",
      help: "show full path for an open file with relative path",
    },
    {
      short: "b",
      long: "buffer-pages",
      type: "int",
      help: "size of the ring buffer, in pages per CPU; must be a power of two, defaults to 64",
    },
  ],
  examples: [
    "tsbpf opensnoop                        # trace all open() syscalls",
    "tsbpf opensnoop -T                     # include timestamps",
    "tsbpf opensnoop -U                     # include UID",
    "tsbpf opensnoop -x                     # only show failed opens",
    "tsbpf opensnoop -p 181                 # only trace PID 181",
    "tsbpf opensnoop -t 123                 # only trace TID 123",
    "tsbpf opensnoop -u 1000                # only trace UID 1000",
    "tsbpf opensnoop -d 10                  # trace for 10 seconds only",
    'tsbpf opensnoop -n main                # only print process names containing "main"',
    "tsbpf opensnoop -e                     # show extended fields",
    "tsbpf opensnoop -f O_WRONLY -f O_RDWR  # only print calls for writing",
    "tsbpf opensnoop -F                     # show full path for an open file with relative path",
  ],
  jsonFields: ["time", "ts", "pid", "tid", "uid", "comm", "fd", "err", "flags", "path"],
  hookNote: () =>
    "syscall tracepoints (bcc: kprobes or fexit on the open, openat and openat2 syscall functions): the same calls",
  hooks: () =>
    TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
      .map(([tp]) => tp)
      .join(", "),

  async run(ctx) {
    const a = ctx.args;
    const table = openFlags();
    let mask = 0;
    for (const name of a.list("flag_filter")) {
      const v = table[name];
      if (!name.startsWith("O_") || v === undefined) throw new UsageError(`Bad flag: ${name}`);
      mask |= v;
    }
    const pages = a.num("buffer-pages") ?? 64;
    if (!(pages > 0) || (pages & (pages - 1)) !== 0)
      throw new UsageError("-b/--buffer-pages: expected a power of two");
    // bcc's perf buffer: `pages` per CPU. A record is its header and the path's bytes (~120 bytes
    // for a typical path, up to 4.4 KB with -F), so this holds more of them than bcc's buffer does.
    let ringSize = pages * 4096 * Math.max(1, cpus().length);
    ringSize = 2 ** Math.ceil(Math.log2(ringSize));
    const uidText = a.str("uid");
    const b: BPF = await ctx.open({
      rodata: {
        targ_pid: a.num("pid") ?? 0,
        targ_tid: a.num("tid") ?? 0,
        targ_uid: uidText === undefined ? 0xffffffff : parseUid(uidText),
        flags_mask: mask,
        filter_flags: a.list("flag_filter").length > 0,
        failed_only: a.flag("failed"),
        full_path: a.flag("full-path"),
      },
      mapSizes: { events: ringSize },
    });
    // one load for the programs: the kernel's BTF is read once, not once per program
    b.loadFuncs(
      BPF.TRACEPOINT,
      TRACEPOINTS.filter(([tp]) => hasTracepoint(tp)).map(([, fn]) => fn),
    );
    ctx.attachTracepoints(b, TRACEPOINTS);
    const out = ctx.out;
    const showTid = a.num("tid") !== undefined;
    const name = a.str("name");
    let header = "";
    if (a.flag("timestamp")) header += "TIME(s)".padEnd(14);
    if (a.flag("print-uid")) header += "UID".padEnd(6);
    header += `${(showTid ? "TID" : "PID").padEnd(6)} ${"COMM".padEnd(16)} ${"FD".padStart(4)} ${"ERR".padStart(3)} `;
    if (a.flag("extended_fields")) header += "FLAGS".padEnd(9);
    out.line(`${header}PATH`);
    let initial: bigint | undefined;
    const fullPath = a.flag("full-path");
    const timestamp = a.flag("timestamp");
    const printUid = a.flag("print-uid");
    const extended = a.flag("extended_fields");
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer(
      (_c, data) => {
        const e = events.event(data) as OpenEvent;
        if (name !== undefined && !e.comm.includes(name)) return;
        const parts = splitCStrings(data.subarray(PATH_OFFSET, PATH_OFFSET + e.path_size), e.parts);
        const path = joinPath(parts, fullPath);
        const fd = e.ret >= 0 ? e.ret : -1;
        const err = e.ret >= 0 ? 0 : -e.ret;
        initial ??= e.ts;
        const delta = Number(e.ts - initial) / 1e9;
        if (out.json) {
          out.record({
            time: new Date().toISOString(),
            ts: delta,
            pid: e.pid,
            tid: e.tid,
            uid: e.uid,
            comm: e.comm,
            fd,
            err,
            flags: e.flags,
            path,
          });
          return;
        }
        let row = "";
        if (timestamp) row += `${delta.toFixed(9).padEnd(14)}`;
        if (printUid) row += String(e.uid).padEnd(6);
        out.printf(
          "%s%-6d %-16s %4d %3d %s%s",
          row,
          showTid ? e.tid : e.pid,
          e.comm,
          fd,
          err,
          extended ? `${(e.flags >>> 0).toString(8).padStart(8, "0")} ` : "",
          path,
        );
      },
      { coalesceMs: ROW_BATCH_MS },
    );
    await ctx.done();
  },
};
