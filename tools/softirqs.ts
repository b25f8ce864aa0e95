/**
 * softirqs: time spent in soft interrupts, per kind: totals or histograms
 * (-d) or counts (-C), per interval. Hooks: the irq:softirq_entry/exit
 * tracepoints, as bcc's softirqs.
 */
import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { printHist } from "./lib/hist.js";
import { histMetric } from "./lib/metrics.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

const TRACEPOINTS: Array<[string, string]> = [
  ["irq:softirq_entry", "on_entry"],
  ["irq:softirq_exit", "on_exit"],
];

/** Soft interrupt vectors' names (bcc's vec_to_name). */
export const SOFTIRQ_NAMES = [
  "hi",
  "timer",
  "net_tx",
  "net_rx",
  "block",
  "irq_poll",
  "tasklet",
  "sched",
  "hrtimer",
  "rcu",
];

const vecName = (vec: number): string => SOFTIRQ_NAMES[vec] ?? String(vec);

export const tool: Tool = {
  name: "softirqs",
  summary: "Summarize soft irq event time as histograms.",
  prometheus: true,
  options: [
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "N", long: "nanoseconds", type: "flag", help: "output in nanoseconds" },
    { short: "C", long: "events", type: "flag", help: "show the number of soft irq events" },
    { short: "d", long: "dist", type: "flag", help: "show distributions as histograms" },
    { short: "c", long: "cpu", type: "int", help: "trace this CPU only" },
  ],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf softirqs            # sum soft irq event time",
    "tsbpf softirqs -C         # show the number of soft irq events",
    "tsbpf softirqs -d         # show soft irq event time as histograms",
    "tsbpf softirqs 1 10       # print 1 second summaries, 10 times",
    "tsbpf softirqs -NT 1      # 1s summaries, nanoseconds, and timestamps",
    "tsbpf softirqs -c 1       # sum soft irq event time on CPU 1 only",
  ],
  jsonFields: ["time", "softirq", "vec", "unit", "total", "(-d: ts, val_type, data, softirq)"],
  hooks: () => TRACEPOINTS.map(([tp]) => tp).join(", "),

  async run(ctx) {
    const a = ctx.args;
    const events = a.flag("events");
    if (events && (a.flag("dist") || a.flag("nanoseconds")))
      throw new UsageError("The --events option can't be used with time-based options");
    const label = events ? "count" : a.flag("nanoseconds") ? "nsecs" : "usecs";
    const factor = label === "usecs" ? 1000 : 1;
    const b: BPF = await ctx.open({
      rodata: {
        count_only: events,
        dist: a.flag("dist"),
        nsecs: a.flag("nanoseconds"),
        targ_cpu: a.num("cpu") ?? -1,
      },
    });
    ctx.attachTracepoints(b, TRACEPOINTS);
    const sums = b.getTable<Table>("sums");
    const hists = b.getTable<Table>("hists");
    const out = ctx.out;
    const vecLabel = { name: "softirq", format: (v: string) => vecName(Number(v)) };
    ctx.exportMetrics(b, [
      a.flag("dist")
        ? histMetric("softirqs_seconds", "Time spent in soft IRQ handlers", label as "usecs" | "nsecs", {
            label: "softirq",
            format: vecName,
          })
        : events
          ? {
              type: "counter",
              name: "softirqs_total",
              help: "Soft IRQ events",
              table: "sums",
              labels: [vecLabel],
            }
          : {
              type: "counter",
              name: "softirqs_seconds_total",
              help: "Time spent in soft IRQ handlers",
              table: "sums",
              labels: [vecLabel],
              multiplier: 1e-9,
            },
    ]);
    out.line(
      events
        ? "Tracing soft irq events... Hit Ctrl-C to end."
        : "Tracing soft irq event time... Hit Ctrl-C to end.",
    );
    await ctx.intervals(a.num("interval") ?? 99999999, a.num("count"), () => {
      out.line("");
      if (a.flag("timestamp")) out.line(hms().padEnd(8));
      if (a.flag("dist")) {
        printHist(out, hists, { label, section: "softirq", sectionName: vecName });
        return;
      }
      const rows: Array<[number, number]> = [];
      for (const [k, v] of sums.items()) rows.push([Number(k), Number(v)]);
      sums.clear();
      rows.sort((x, y) => x[1] - y[1]);
      const time = new Date().toISOString();
      if (!out.json) out.printf("%-16s %11s", "SOFTIRQ", `TOTAL_${label}`);
      for (const [vec, total] of rows) {
        const v = Math.trunc(total / factor);
        if (out.json) out.record({ time, softirq: vecName(vec), vec, unit: label, total: v });
        else out.printf("%-16s %11d", vecName(vec), v);
      }
    });
  },
};
