import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { attachFirstHook, describeHooks, HOOK_OPTION, type HookOffer, hookCandidates } from "./lib/hooks.js";
import { hms } from "./lib/output.js";
import { loadavg } from "./lib/proc.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface Info {
  inode: bigint;
  dev: number;
  rdev: number;
  pid: number;
  name_len: number;
  comm: string;
  name: string;
  type: number | string;
}
interface Val {
  reads: bigint;
  writes: bigint;
  rbytes: bigint;
  wbytes: bigint;
}

const READS = ["read", "pread64", "readv", "preadv", "preadv2"];
const WRITES = ["write", "pwrite64", "writev", "pwritev", "pwritev2"];

/** [tracepoint, function] for every call filetop counts. */
const TRACEPOINTS: Array<[string, string]> = [
  ...READS.map((s): [string, string] => [`syscalls:sys_enter_${s}`, "read_enter"]),
  ...WRITES.map((s): [string, string] => [`syscalls:sys_enter_${s}`, "write_enter"]),
  ...[...READS, ...WRITES].map((s): [string, string] => [`syscalls:sys_exit_${s}`, "rw_exit"]),
];

const offer = (): HookOffer => ({
  functions: ["vfs_read", "vfs_write"],
  tracepoint: TRACEPOINTS.some(([tp]) => hasTracepoint(tp)),
  tracepointPartial: true,
});

/** What the tracepoint variant misses, said on stderr when it is used. */
const TRACEPOINT_NOTE =
  "approximate: read/write/pread64/pwrite64/readv/writev/preadv/pwritev(2) syscall tracepoints, " +
  "the file found from the fd (bcc: kprobes on vfs_read/vfs_write). Reads and writes the kernel " +
  "does itself (sendfile, splice, io_uring, mmap page faults, …) are not seen, readv/writev are; " +
  "bytes are those moved, not those asked for";

/** bcc's DNAME_INLINE_LEN: names longer than this show their first 29 bytes and "...". */
const DNAME_INLINE_LEN = 32;

/** What `clear` writes on a terminal: cursor home, erase the screen and the scrollback. */
const CLEAR = "\x1b[H\x1b[2J\x1b[3J";

const SORTS = ["all", "reads", "writes", "rbytes", "wbytes"] as const;
type Sort = (typeof SORTS)[number];

function sortKey(v: Val, sort: Sort): bigint {
  return sort === "all" ? v.rbytes + v.wbytes + v.reads + v.writes : v[sort];
}

/**
 * The FILE column: the name as bcc shows it, cut with "..." when the
 * dentry's is longer than 32 bytes (the BPF program writes the "..." into
 * the key's name already: this cuts the names of older objects, and keeps
 * the cut ones as they are).
 */
export function fileName(name: string, nameLen: number): string {
  return nameLen > DNAME_INLINE_LEN ? `${name.slice(0, DNAME_INLINE_LEN - 3)}...` : name;
}

/** The T column's letters (the key's char), as the metrics' type label. */
const FILE_TYPES: Record<string, string> = {
  [String("R".charCodeAt(0))]: "regular",
  [String("S".charCodeAt(0))]: "socket",
  [String("O".charCodeAt(0))]: "other",
};

/** The map's bound: at most this many (thread, file) series a metric. */
const MAX_ENTRIES = 10240;

export const tool: Tool = {
  name: "filetop",
  summary: "File reads and writes by process",
  prometheus: true,
  options: [
    {
      short: "a",
      long: "all-files",
      type: "flag",
      help: "include non-regular file types (sockets, FIFOs, etc)",
    },
    { short: "C", long: "noclear", type: "flag", help: "don't clear the screen" },
    { short: "r", long: "maxrows", type: "int", help: "maximum rows to print, default 20" },
    {
      short: "s",
      long: "sort",
      type: "string",
      metavar: "{all,reads,writes,rbytes,wbytes}",
      help: "sort column, default all",
    },
    { short: "p", long: "pid", type: "int", metavar: "PID", help: "trace this PID only" },
    HOOK_OPTION,
  ],
  positionals: [
    { name: "interval", type: "int", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf filetop            # file I/O top, 1 second refresh",
    "tsbpf filetop -C         # don't clear the screen",
    "tsbpf filetop -p 181     # PID 181 only",
    "tsbpf filetop 5          # 5 second summaries",
    "tsbpf filetop 5 10       # 5 second summaries, 10 times only",
    `tsbpf filetop --prometheus 9100  # counters since start by tid, comm, file, type: tsbpf_filetop_{reads,writes,read_bytes,write_bytes}_total; at most ${MAX_ENTRIES} (thread, file) series, later ones not counted`,
  ],
  jsonFields: [
    "time",
    "tid",
    "comm",
    "reads",
    "writes",
    "rbytes",
    "wbytes",
    "type",
    "file",
    "inode",
    "major",
    "minor",
  ],
  hooks: () =>
    describeHooks(offer(), {
      kprobe: "kprobes vfs_read, vfs_write",
      tracepoint: TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
        .map(([tp]) => tp)
        .join(", "),
    }),

  async run(ctx) {
    const a = ctx.args;
    const maxrows = a.num("maxrows") ?? 20;
    if (maxrows < 1) throw new UsageError("-r/--maxrows: expected a positive number of rows");
    const sortText = a.str("sort") ?? "all";
    if (!(SORTS as readonly string[]).includes(sortText)) {
      throw new UsageError(
        `-s/--sort: invalid choice: '${sortText}' (choose from ${SORTS.map((s) => `'${s}'`).join(", ")})`,
      );
    }
    const sort = sortText as Sort;
    const interval = a.num("interval") ?? 1;
    const candidates = hookCandidates("filetop", a.str("hook"), offer());
    const b: BPF = await ctx.open({
      rodata: { targ_pid: a.num("pid") ?? 0, all_files: a.flag("all-files") },
    });
    const hook = attachFirstHook(candidates, (kind) => {
      if (kind === "tracepoint") ctx.attachTracepoints(b, TRACEPOINTS);
      else
        for (const fn of ["vfs_read", "vfs_write"]) {
          if (kind === "kprobe") b.attachKprobe({ event: fn, fnName: `${fn}_kprobe` });
          else b.attachKfunc({ fnName: `${fn}_fentry`, target: fn });
        }
    });
    if (hook === "tracepoint") ctx.note(TRACEPOINT_NOTE);
    const counts = b.getTable<Table>("counts");
    // the thread and the file as the columns show them; keys of the same
    // name (other inodes) add up. The map is never cleared when served.
    const labels = [
      { name: "tid", field: "pid" },
      { name: "comm", field: "comm" },
      { name: "file", field: "name" },
      { name: "type", field: "type", format: (t: string) => FILE_TYPES[t] ?? "other" },
    ];
    const bytesHelp = hook === "tracepoint" ? "moved" : "asked for";
    ctx.exportMetrics(b, [
      {
        type: "counter",
        name: "filetop_reads_total",
        help: "File reads by thread and file",
        table: "counts",
        labels,
        valueField: "reads",
      },
      {
        type: "counter",
        name: "filetop_writes_total",
        help: "File writes by thread and file",
        table: "counts",
        labels,
        valueField: "writes",
      },
      {
        type: "counter",
        name: "filetop_read_bytes_total",
        help: `Bytes read (${bytesHelp}) by thread and file`,
        table: "counts",
        labels,
        valueField: "rbytes",
      },
      {
        type: "counter",
        name: "filetop_write_bytes_total",
        help: `Bytes written (${bytesHelp}) by thread and file`,
        table: "counts",
        labels,
        valueField: "wbytes",
      },
    ]);
    const out = ctx.out;
    const clear = !a.flag("noclear");
    if (!ctx.servingMetrics)
      out.line(`Tracing... Output every ${Math.trunc(interval)} secs. Hit Ctrl-C to end`);
    await ctx.intervals(interval, a.num("count"), (last) => {
      const now = new Date();
      if (clear) out.text(CLEAR);
      else out.line("");
      out.printf("%-8s loadavg: %s", hms(now), loadavg() ?? "\n");
      out.printf(
        "%-7s %-16s %-6s %-6s %-7s %-7s %1s %s",
        "TID",
        "COMM",
        "READS",
        "WRITES",
        "R_Kb",
        "W_Kb",
        "T",
        "FILE",
      );
      const rows = [...counts.items()] as Array<[Info, Val]>;
      counts.clear();
      rows.sort(([, x], [, y]) => {
        const kx = sortKey(x, sort);
        const ky = sortKey(y, sort);
        return kx < ky ? 1 : kx > ky ? -1 : 0;
      });
      for (const [k, v] of rows.slice(0, maxrows)) {
        const file = fileName(k.name, k.name_len);
        const type = typeof k.type === "number" ? String.fromCharCode(k.type) : k.type;
        out.printf(
          "%-7d %-16s %-6d %-6d %-7d %-7d %1s %s",
          k.pid,
          k.comm,
          v.reads,
          v.writes,
          v.rbytes / 1024n,
          v.wbytes / 1024n,
          type,
          file,
        );
        out.record({
          time: now.toISOString(),
          tid: k.pid,
          comm: k.comm,
          reads: v.reads,
          writes: v.writes,
          rbytes: v.rbytes,
          wbytes: v.wbytes,
          type,
          file,
          inode: k.inode,
          major: k.dev >>> 20,
          minor: k.dev & 0xfffff,
        });
      }
      if (last) out.line("Detaching...");
    });
  },
};
