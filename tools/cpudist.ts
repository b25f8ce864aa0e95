import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { printHist } from "./lib/hist.js";
import { histMetric } from "./lib/metrics.js";
import { hms } from "./lib/output.js";
import { commOf } from "./lib/proc.js";
import type { Tool } from "./lib/runtime.js";

function pidToComm(pid: number): string {
  const comm = commOf(pid);
  return comm === undefined ? String(pid) : `${pid} ${comm}`;
}

function pyTs(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${hms(d)}`;
}

export const tool: Tool = {
  name: "cpudist",
  summary: "Summarize on- and off-CPU time per task as a histogram.",
  prometheus: true,
  options: [
    { short: "O", long: "offcpu", type: "flag", help: "measure off-CPU time" },
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "m", long: "milliseconds", type: "flag", help: "millisecond histogram" },
    { short: "P", long: "pids", type: "flag", help: "print a histogram per process ID" },
    { short: "L", long: "tids", type: "flag", help: "print a histogram per thread ID" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "I", long: "include-idle", type: "flag", help: "include CPU idle time" },
    {
      short: "e",
      long: "extension",
      type: "flag",
      help: "show extension summary (average/total/count)",
    },
  ],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf cpudist              # summarize on-CPU time as a histogram",
    "tsbpf cpudist -O           # summarize off-CPU time as a histogram",
    "tsbpf cpudist 1 10         # print 1 second summaries, 10 times",
    "tsbpf cpudist -mT 1        # 1s summaries, milliseconds, and timestamps",
    "tsbpf cpudist -P           # show each PID separately",
    "tsbpf cpudist -p 185       # trace PID 185 only",
    "tsbpf cpudist -I           # include CPU idle time",
    "tsbpf cpudist -e           # show extension summary (average/total/count)",
  ],
  jsonFields: ["ts", "val_type", "data", "pid|tid", "avg", "total", "count"],
  hooks: () => "raw_tp/sched_switch",
  hookNote: () =>
    "the sched_switch raw tracepoint (bcc: a kprobe on finish_task_switch): the same switches, timed per thread rather than per thread and CPU",

  async run(ctx) {
    const a = ctx.args;
    if (a.flag("pids") && a.flag("tids")) throw new UsageError("--pids and --tids cannot be used together");
    const label = a.flag("milliseconds") ? "msecs" : "usecs";
    const b: BPF = await ctx.open({
      rodata: {
        offcpu: a.flag("offcpu"),
        targ_tgid: a.num("pid") ?? 0,
        include_idle: a.flag("include-idle"),
        milliseconds: a.flag("milliseconds"),
        per_process: a.flag("pids"),
        per_thread: a.flag("tids"),
        extension: a.flag("extension"),
      },
    });
    b.attachRawTracepoint({ tp: "sched_switch", fnName: "on_switch" });
    const hists = b.getTable<Table>("hists");
    const ext = b.getTable<Table>("ext");
    const out = ctx.out;
    const section = a.flag("pids") ? "pid" : a.flag("tids") ? "tid" : undefined;
    const off = a.flag("offcpu");
    ctx.exportMetrics(b, [
      histMetric(
        off ? "cpudist_offcpu_seconds" : "cpudist_oncpu_seconds",
        `Time tasks spend ${off ? "off" : "on"} CPU per switch`,
        label,
        section ? { label: section } : undefined,
      ),
    ]);
    out.line(`Tracing ${a.flag("offcpu") ? "off" : "on"}-CPU time... Hit Ctrl-C to end.`);
    await ctx.intervals(a.num("interval") ?? 99999999, a.num("count"), () => {
      out.line("");
      if (a.flag("timestamp")) out.line(hms());
      printHist(out, hists, {
        label,
        ...(section ? { section, ...(out.json ? {} : { sectionName: pidToComm }) } : {}),
      });
      if (a.flag("extension")) {
        const v = ext.get(0) as { total: bigint | number; count: bigint | number };
        const total = Number(v.total);
        const count = Number(v.count);
        if (count > 0) {
          const avg = Math.trunc(total / count);
          out.printf("\navg = %ld %s, total: %ld %s, count: %ld\n", avg, label, total, label, count);
          out.record({ ts: pyTs(), val_type: label, avg, total, count });
        }
        ext.clear();
      }
    });
  },
};
