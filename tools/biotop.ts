/**
 * biotop: block device I/O by process, top-like, one summary per interval
 * sorted by bytes, bcc's columns and options. Hooks: the block_io_start
 * (6.5+, else block_rq_insert), block_rq_issue and block_rq_complete raw
 * tracepoints, each with the request (bcc: kprobes on
 * blk_account_io_start, blk_mq_start_request and blk_account_io_done).
 */
import { readFileSync } from "node:fs";
import { pyFloatRepr } from "../src/format/pyrepr.js";
import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { blockHooks, diskName, mkdev, rqAfterQueue } from "./lib/disks.js";
import { hms } from "./lib/output.js";
import { loadavg } from "./lib/proc.js";
import type { Tool } from "./lib/runtime.js";

interface Info {
  pid: number;
  rwflag: number;
  major: number;
  minor: number;
  name: string;
}
interface Val {
  bytes: bigint;
  us: bigint;
  io: bigint;
}

const HOOK_FNS: Record<string, string> = {
  block_io_start: "on_io_start",
  block_rq_insert: "on_insert",
  block_rq_issue: "on_issue",
  block_rq_complete: "on_complete",
};

/** /proc/diskstats: "major,minor" → name (bcc reads it once, at start). */
function diskstats(): Map<string, string> {
  const m = new Map<string, string>();
  try {
    for (const line of readFileSync("/proc/diskstats", "utf8").split("\n")) {
      const w = line.trim().split(/\s+/);
      if (w.length >= 3) m.set(`${w[0]},${w[1]}`, w[2] as string);
    }
  } catch {
    // no /proc/diskstats: disks show as "?"
  }
  return m;
}

/** The map's bound: at most this many (process, direction, disk) series a metric. */
const MAX_ENTRIES = 10240;

export const tool: Tool = {
  name: "biotop",
  summary: "Block device (disk) I/O by process",
  prometheus: true,
  options: [
    { short: "C", long: "noclear", type: "flag", help: "don't clear the screen" },
    { short: "r", long: "maxrows", type: "int", help: "maximum rows to print, default 20" },
    { short: "p", long: "pid", type: "int", metavar: "PID", help: "trace this PID only" },
  ],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf biotop            # block device I/O top, 1 second refresh",
    "tsbpf biotop -C         # don't clear the screen",
    "tsbpf biotop -p 181     # only trace PID 181",
    "tsbpf biotop 5          # 5 second summaries",
    "tsbpf biotop 5 10       # 5 second summaries, 10 times only",
    `tsbpf biotop --prometheus 9100  # counters since start by pid, comm, direction, major, minor, disk: tsbpf_biotop_{io,io_bytes,io_seconds}_total; at most ${MAX_ENTRIES} series, later ones not counted`,
  ],
  jsonFields: ["time", "pid", "comm", "type", "major", "minor", "disk", "io", "kbytes", "avg_ms"],
  hooks: () => {
    const h = blockHooks();
    return `raw_tp/${h.account}, raw_tp/${h.issue}, raw_tp/${h.done}`;
  },
  hookNote: () => {
    const h = blockHooks();
    return `block raw tracepoints ${h.account}/${h.issue}/${h.done} with the request (bcc: kprobes on blk_account_io_start, blk_mq_start_request, blk_account_io_done): the same requests and times`;
  },

  async run(ctx) {
    const a = ctx.args;
    const maxrows = a.num("maxrows") ?? 20;
    if (maxrows < 1) throw new UsageError("-r/--maxrows: expected a positive number of rows");
    const interval = a.num("interval") ?? 1;
    const b: BPF = await ctx.open({
      rodata: { targ_pid: a.num("pid") ?? 0, rq_after_queue: rqAfterQueue() },
    });
    const h = blockHooks();
    ctx.attachRawTracepoints(
      b,
      [h.account, h.issue, h.done].map((tp) => [tp, HOOK_FNS[tp] as string] as const),
    );
    const counts = b.getTable<Table>("counts");
    // the columns PID COMM D MAJ MIN DISK; a disk's name read when its first
    // I/O is served (biolatency -D's names), its numbers when it has none
    const labels = [
      { name: "pid", field: "pid" },
      { name: "comm", field: "name" },
      { name: "direction", field: "rwflag", format: (w: string) => (w === "0" ? "read" : "write") },
      { name: "major", field: "major" },
      { name: "minor", field: "minor" },
      {
        name: "disk",
        field: "major",
        // all: the key's labels in this order (major, minor: 3 and 4)
        format: (_: string, all: readonly string[]) =>
          diskName(mkdev(Number(all[3]), Number(all[4]))) ?? `${all[3]}:${all[4]}`,
      },
    ];
    ctx.exportMetrics(b, [
      {
        type: "counter",
        name: "biotop_io_total",
        help: "Block I/O requests completed, by process, direction and disk",
        table: "counts",
        labels,
        valueField: "io",
      },
      {
        type: "counter",
        name: "biotop_io_bytes_total",
        help: "Bytes of block I/O completed, by process, direction and disk",
        table: "counts",
        labels,
        valueField: "bytes",
      },
      {
        type: "counter",
        name: "biotop_io_seconds_total",
        help: "Time block I/O spent from issue to completion, by process, direction and disk",
        table: "counts",
        labels,
        valueField: "us",
        multiplier: 1e-6,
      },
    ]);
    const disks = diskstats();
    const out = ctx.out;
    const clear = !a.flag("noclear");
    if (!ctx.servingMetrics)
      out.line(`Tracing... Output every ${Math.trunc(interval)} secs. Hit Ctrl-C to end`);
    await ctx.intervals(interval, a.num("count"), (last) => {
      const now = new Date();
      if (clear) out.text("\x1b[H\x1b[2J");
      else out.line("");
      out.printf("%-8s loadavg: %s", hms(now), loadavg() ?? "\n");
      out.printf(
        "%-7s %-16s %1s %-3s %-3s %-8s %5s %7s %6s",
        "PID",
        "COMM",
        "D",
        "MAJ",
        "MIN",
        "DISK",
        "I/O",
        "Kbytes",
        "AVGms",
      );
      const rows = [...counts.items()] as Array<[Info, Val]>;
      counts.clear();
      rows.sort(([, x], [, y]) => (x.bytes < y.bytes ? 1 : x.bytes > y.bytes ? -1 : 0));
      for (const [k, v] of rows.slice(0, maxrows)) {
        const disk = disks.get(`${k.major},${k.minor}`) ?? "?";
        const avgMs = Number(v.us) / 1000 / Number(v.io);
        const kbytes = Number(v.bytes) / 1024;
        const type = k.rwflag ? "W" : "R";
        out.printf(
          "%-7d %-16s %1s %-3d %-3d %-8s %5s %7s %6.2f",
          k.pid,
          k.name,
          type,
          k.major,
          k.minor,
          disk,
          v.io,
          pyFloatRepr(kbytes),
          avgMs,
        );
        out.record({
          time: now.toISOString(),
          pid: k.pid,
          comm: k.name,
          type,
          major: k.major,
          minor: k.minor,
          disk,
          io: v.io,
          kbytes,
          avg_ms: avgMs,
        });
      }
      if (last) out.line("Detaching...");
    });
  },
};
