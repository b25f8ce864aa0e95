/**
 * hardirqs: time spent in hard interrupt handlers, per interrupt: totals or
 * histograms (-d) or counts (-C), per interval. Hooks: the
 * irq:irq_handler_entry/exit tracepoints, as bcc's hardirqs.
 */
import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { printHist } from "./lib/hist.js";
import { histMetric } from "./lib/metrics.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

const TRACEPOINTS: Array<[string, string]> = [
  ["irq:irq_handler_entry", "on_entry"],
  ["irq:irq_handler_exit", "on_exit"],
];

export const tool: Tool = {
  name: "hardirqs",
  summary: "Summarize hard irq event time as histograms",
  prometheus: true,
  options: [
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "N", long: "nanoseconds", type: "flag", help: "output in nanoseconds" },
    { short: "C", long: "count", type: "flag", help: "show event counts instead of timing" },
    { short: "d", long: "dist", type: "flag", help: "show distributions as histograms" },
    { short: "c", long: "cpu", type: "int", help: "trace this CPU only" },
  ],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "outputs", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf hardirqs            # sum hard irq event time",
    "tsbpf hardirqs -d         # show hard irq event time as histograms",
    "tsbpf hardirqs 1 10       # print 1 second summaries, 10 times",
    "tsbpf hardirqs -NT 1      # 1s summaries, nanoseconds, and timestamps",
    "tsbpf hardirqs -c 1       # sum hard irq event time on CPU 1 only",
  ],
  jsonFields: ["time", "hardirq", "irq", "unit", "total", "(-d: ts, val_type, data, hardirq)"],
  hooks: () => TRACEPOINTS.map(([tp]) => tp).join(", "),

  async run(ctx) {
    const a = ctx.args;
    const count = a.flag("count");
    if (count && (a.flag("dist") || a.flag("nanoseconds")))
      throw new UsageError("The --count option can't be used with time-based options");
    const label = count ? "count" : a.flag("nanoseconds") ? "nsecs" : "usecs";
    const factor = label === "usecs" ? 1000 : 1;
    const b: BPF = await ctx.open({
      rodata: {
        count_only: count,
        dist: a.flag("dist"),
        nsecs: a.flag("nanoseconds"),
        targ_cpu: a.num("cpu") ?? -1,
      },
    });
    ctx.attachTracepoints(b, TRACEPOINTS);
    const names = b.getTable<Table>("names");
    const sums = b.getTable<Table>("sums");
    const hists = b.getTable<Table>("hists");
    const nameOf = (irq: number): string => {
      const v = names.get(irq) as { name: string } | undefined;
      return v?.name ?? String(irq);
    };
    const out = ctx.out;
    const irqLabel = { name: "hardirq", format: (v: string) => nameOf(Number(v)) };
    ctx.exportMetrics(b, [
      a.flag("dist")
        ? histMetric("hardirqs_seconds", "Time spent in hard IRQ handlers", label as "usecs" | "nsecs", {
            label: "hardirq",
            format: nameOf,
          })
        : count
          ? {
              type: "counter",
              name: "hardirqs_total",
              help: "Hard IRQ events",
              table: "sums",
              labels: [irqLabel],
            }
          : {
              type: "counter",
              name: "hardirqs_seconds_total",
              help: "Time spent in hard IRQ handlers",
              table: "sums",
              labels: [irqLabel],
              multiplier: 1e-9,
            },
    ]);
    out.line(
      count
        ? "Tracing hard irq events... Hit Ctrl-C to end."
        : "Tracing hard irq event time... Hit Ctrl-C to end.",
    );
    await ctx.intervals(a.num("interval") ?? 99999999, a.num("outputs"), () => {
      out.line("");
      if (a.flag("timestamp")) out.line(hms().padEnd(8));
      if (a.flag("dist")) {
        printHist(out, hists, { label, section: "hardirq", sectionName: nameOf });
        return;
      }
      // bcc keys its totals by the handler's name: irqs that share one add up
      const totals = new Map<string, { irq: number; total: number }>();
      for (const [k, v] of sums.items()) {
        const irq = Number(k);
        const name = nameOf(irq);
        const t = totals.get(name) ?? { irq, total: 0 };
        t.total += Number(v);
        totals.set(name, t);
      }
      sums.clear();
      const rows = [...totals].sort((x, y) => x[1].total - y[1].total);
      const time = new Date().toISOString();
      if (!out.json) out.printf("%-26s %11s", "HARDIRQ", `TOTAL_${label}`);
      for (const [name, { irq, total }] of rows) {
        if (out.json)
          out.record({ time, hardirq: name, irq, unit: label, total: Math.trunc(total / factor) });
        else out.printf("%-26s %11d", name, Math.trunc(total / factor));
      }
    });
  },
};
