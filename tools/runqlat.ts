/**
 * runqlat: run queue (scheduler) latency as a histogram, bcc's output and
 * options. Hooks: the sched_wakeup, sched_wakeup_new and sched_switch raw
 * tracepoints (as bcc's runqlat uses where it can).
 */
import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { printHist } from "./lib/hist.js";
import { histMetric } from "./lib/metrics.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

export const tool: Tool = {
  name: "runqlat",
  summary: "Summarize run queue (CPU scheduler) latency as a histogram",
  prometheus: true,
  options: [
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "m", long: "milliseconds", type: "flag", help: "millisecond histogram" },
    { short: "P", long: "pids", type: "flag", help: "print a histogram per process ID" },
    { long: "pidnss", type: "flag", help: "print a histogram per PID namespace" },
    { short: "L", long: "tids", type: "flag", help: "print a histogram per thread ID" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
  ],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf runqlat            # summarize run queue latency as a histogram",
    "tsbpf runqlat 1 10       # print 1 second summaries, 10 times",
    "tsbpf runqlat -mT 1      # 1s summaries, milliseconds, and timestamps",
    "tsbpf runqlat -P         # show each PID separately",
    "tsbpf runqlat -p 185     # trace PID 185 only",
  ],
  jsonFields: ["ts", "val_type", "data", "pid, tid or pidns (with -P, -L, --pidnss)"],
  hooks: () => "raw_tp/sched_wakeup, raw_tp/sched_wakeup_new, raw_tp/sched_switch",

  async run(ctx) {
    const a = ctx.args;
    const modes = ["pids", "tids", "pidnss"].filter((m) => a.flag(m));
    if (modes.length > 1) throw new UsageError(`--${modes.join(" and --")} cannot be used together`);
    const b: BPF = await ctx.open({
      rodata: {
        targ_tgid: a.num("pid") ?? 0,
        per_process: a.flag("pids"),
        per_thread: a.flag("tids"),
        per_pidns: a.flag("pidnss"),
        milliseconds: a.flag("milliseconds"),
      },
    });
    ctx.attachRawTracepoints(b, [
      ["sched_wakeup", "on_wakeup"],
      ["sched_wakeup_new", "on_wakeup_new"],
      ["sched_switch", "on_switch"],
    ]);
    const hists = b.getTable<Table>("hists");
    const section = a.flag("pids") ? "pid" : a.flag("tids") ? "tid" : a.flag("pidnss") ? "pidns" : undefined;
    ctx.exportMetrics(b, [
      histMetric(
        "runqlat_seconds",
        "Run queue (CPU scheduler) latency",
        a.flag("milliseconds") ? "msecs" : "usecs",
        section ? { label: section } : undefined,
      ),
    ]);
    ctx.out.line("Tracing run queue latency... Hit Ctrl-C to end.");
    await ctx.intervals(a.num("interval") ?? 99999999, a.num("count"), () => {
      ctx.out.line("");
      if (a.flag("timestamp")) ctx.out.line(hms());
      printHist(ctx.out, hists, {
        label: a.flag("milliseconds") ? "msecs" : "usecs",
        ...(section ? { section } : {}),
      });
    });
  },
};
