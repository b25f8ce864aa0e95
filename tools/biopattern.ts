/**
 * biopattern: random vs sequential block I/O per disk, per interval, bcc's
 * columns and options. Hook: the block_rq_complete raw tracepoint (bcc:
 * the block:block_rq_complete tracepoint; the raw one gives the request,
 * so the same dev, sector and size are read from it on every kernel).
 */
import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { diskDev, partitionNames } from "./lib/disks.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

interface Counter {
  last_sector: bigint;
  bytes: bigint;
  sequential: number;
  random: number;
}

/** Python 3's round(): halves to even. */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

export const tool: Tool = {
  name: "biopattern",
  summary: "Show block device I/O pattern.",
  prometheus: true,
  options: [{ short: "d", long: "disk", type: "string", help: "Trace this disk only" }],
  positionals: [
    { name: "interval", type: "float", help: "Output interval in seconds" },
    { name: "count", type: "int", help: "Number of outputs" },
  ],
  examples: [
    "tsbpf biopattern            # show block device I/O pattern.",
    "tsbpf biopattern 1 10       # print 1 second summaries, 10 times",
    "tsbpf biopattern -d sdb     # show sdb only",
  ],
  jsonFields: ["time", "disk", "random_pct", "sequential_pct", "count", "kbytes"],
  hooks: () => "raw_tp/block_rq_complete",
  hookNote: () =>
    "the block_rq_complete raw tracepoint (bcc: the block:block_rq_complete tracepoint): the same completions",

  async run(ctx) {
    const a = ctx.args;
    if (a.cgroup)
      throw new UsageError("--cgroup: I/O completions do not run in the submitting process's cgroup");
    const diskText = a.str("disk");
    const b: BPF = await ctx.open({
      rodata: { targ_dev: diskText === undefined ? 0 : diskDev(diskText) },
    });
    b.attachRawTracepoint({ tp: "block_rq_complete", fnName: "on_complete" });
    const counters = b.getTable<Table>("counters");
    // bcc reads the partition names once, at start
    const names = partitionNames();
    const out = ctx.out;
    const disk = { name: "disk", format: (d: string) => names.get(Number(d)) ?? "Unknown" };
    ctx.exportMetrics(b, [
      {
        type: "counter",
        name: "biopattern_random_total",
        help: "Random block I/O completions by disk",
        table: "counters",
        labels: [disk],
        valueField: "random",
      },
      {
        type: "counter",
        name: "biopattern_sequential_total",
        help: "Sequential block I/O completions by disk",
        table: "counters",
        labels: [disk],
        valueField: "sequential",
      },
      {
        type: "counter",
        name: "biopattern_bytes_total",
        help: "Bytes of block I/O completed by disk",
        table: "counters",
        labels: [disk],
        valueField: "bytes",
      },
    ]);
    out.printf("%-9s %-7s %5s %5s %8s %10s", "TIME", "DISK", "%RND", "%SEQ", "COUNT", "KBYTES");
    await ctx.intervals(a.num("interval") ?? 99999999, a.num("count"), () => {
      const now = new Date();
      const rows = [...counters.items()] as Array<[number, Counter]>;
      counters.clear();
      rows.sort(([x], [y]) => x - y);
      for (const [dev, v] of rows) {
        const total = v.random + v.sequential;
        if (total === 0) continue;
        const disk = names.get(dev) ?? "Unknown";
        const rnd = pyRound((v.random * 100) / total);
        const kbytes = Math.trunc(Number(v.bytes) / 1024);
        out.printf("%-9s %-7s %5d %5d %8d %10d", hms(now), disk, rnd, 100 - rnd, total, kbytes);
        out.record({
          time: now.toISOString(),
          disk,
          random_pct: rnd,
          sequential_pct: 100 - rnd,
          count: total,
          kbytes,
        });
      }
    });
  },
};
