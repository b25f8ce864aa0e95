/**
 * wqlat: how long work items wait on kernel workqueues before they run, as
 * a histogram (one per workqueue with -W), bcc's wqlat output and options.
 * Hooks: the workqueue:workqueue_queue_work and workqueue_execute_start
 * tracepoints, as bcc's wqlat.
 */
import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { printHist } from "./lib/hist.js";
import { histMetric } from "./lib/metrics.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

const TRACEPOINTS: Array<[string, string]> = [
  ["workqueue:workqueue_queue_work", "on_queue"],
  ["workqueue:workqueue_execute_start", "on_execute"],
];
const WQ_NAME_LEN = 24;

export const tool: Tool = {
  name: "wqlat",
  summary: "Summarize workqueue request latency as histograms.",
  prometheus: true,
  options: [
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "N", long: "nanoseconds", type: "flag", help: "output in nanoseconds" },
    { short: "W", long: "workqueues", type: "flag", help: "print a histogram per work queue" },
    { short: "w", long: "wqname", type: "string", help: "print this workqueue only" },
  ],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf wqlat                   # summarize workqueue latency as a histogram",
    "tsbpf wqlat 1 10              # print 1 second summaries, 10 times",
    "tsbpf wqlat -W 1 10           # print 1 second, 10 times per workqueue",
    "tsbpf wqlat -NT 1             # 1s summaries, nanoseconds, and timestamps",
    "tsbpf wqlat -w nvmet_tcp_wq 1 # 1s summaries for workqueue nvmet_tcp_wq",
  ],
  jsonFields: ["ts", "val_type", "data", "wqname (with -W)"],
  hooks: () => TRACEPOINTS.map(([tp]) => tp).join(", "),

  async run(ctx) {
    const a = ctx.args;
    const wq = a.str("wqname");
    if (wq !== undefined && Buffer.byteLength(wq) >= WQ_NAME_LEN)
      throw new UsageError(`workqueue name len must be less than ${WQ_NAME_LEN}`);
    const perWq = a.flag("workqueues");
    const b: BPF = await ctx.open({
      rodata: {
        per_wq: perWq,
        nsecs: a.flag("nanoseconds"),
        filter_wq: wq !== undefined,
        ...(wq !== undefined ? { targ_wq: wq } : {}),
      },
    });
    ctx.attachTracepoints(b, TRACEPOINTS);
    const hists = b.getTable<Table>("hists");
    const names = b.getTable<Table>("wqnames");
    const nameOf = (id: number): string =>
      (names.get(id) as { name: string } | undefined)?.name ?? String(id);
    ctx.exportMetrics(b, [
      histMetric(
        "wqlat_seconds",
        "Work queue request latency (queued to started)",
        a.flag("nanoseconds") ? "nsecs" : "usecs",
        perWq ? { label: "workqueue", format: nameOf } : undefined,
      ),
    ]);
    ctx.out.line("Tracing work queue request latency time... Hit Ctrl-C to end.");
    await ctx.intervals(a.num("interval") ?? 99999999, a.num("count"), () => {
      ctx.out.line("");
      if (a.flag("timestamp")) ctx.out.line(hms().padEnd(8));
      printHist(ctx.out, hists, {
        label: a.flag("nanoseconds") ? "nsecs" : "usecs",
        ...(perWq ? { section: "wqname", sectionName: nameOf } : {}),
      });
    });
  },
};
