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
import { blockHooks, rqAfterQueue } from "./lib/disks.js";
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
  io: number;
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

export const tool: Tool = {
  name: "biotop",
  summary: "Block device (disk) I/O by process",
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
    const disks = diskstats();
    const out = ctx.out;
    const clear = !a.flag("noclear");
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
        const avgMs = Number(v.us) / 1000 / v.io;
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
