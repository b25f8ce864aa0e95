/**
 * runqslower: trace run queue (scheduler) waits longer than a threshold,
 * one line each, bcc's columns and options. Hooks: the sched_wakeup,
 * sched_wakeup_new and sched_switch raw tracepoints (as bcc's runqslower
 * uses where it can).
 */
import type { BPF, RingBuf } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

interface SlowEvent {
  task: string;
  prev_task: string;
  delta_us: bigint;
  pid: number;
  prev_pid: number;
}

export const tool: Tool = {
  name: "runqslower",
  summary: "Trace high run queue latency",
  options: [
    { short: "P", long: "previous", type: "flag", help: "also show previous task name and TID" },
    { short: "p", long: "pid", type: "int", metavar: "PID", help: "trace this PID only" },
    {
      short: "t",
      long: "tid",
      type: "int",
      metavar: "TID",
      help: "trace this TID only",
    },
  ],
  positionals: [
    { name: "min_us", type: "int", help: "minimum run queue latency to trace, in us (default 10000)" },
  ],
  examples: [
    "tsbpf runqslower         # trace run queue latency higher than 10000 us (default)",
    "tsbpf runqslower 1000    # trace run queue latency higher than 1000 us",
    "tsbpf runqslower -p 123  # trace pid 123",
    "tsbpf runqslower -t 123  # trace tid 123 (use for threads only)",
    "tsbpf runqslower -P      # also show previous task comm and TID",
  ],
  jsonFields: ["time", "comm", "tid", "lat_us", "prev_comm", "prev_tid"],
  hooks: () => "raw_tp/sched_wakeup, raw_tp/sched_wakeup_new, raw_tp/sched_switch",

  async run(ctx) {
    const a = ctx.args;
    if (a.num("pid") !== undefined && a.num("tid") !== undefined)
      throw new UsageError("argument -t/--tid: not allowed with argument -p/--pid");
    const minUs = a.num("min_us") ?? 10000;
    if (minUs < 0) throw new UsageError("min_us: expected a non-negative number of microseconds");
    const b: BPF = await ctx.open({
      rodata: { min_us: BigInt(minUs), targ_tgid: a.num("pid") ?? 0, targ_pid: a.num("tid") ?? 0 },
    });
    ctx.attachRawTracepoints(b, [
      ["sched_wakeup", "on_wakeup"],
      ["sched_wakeup_new", "on_wakeup_new"],
      ["sched_switch", "on_switch"],
    ]);
    const out = ctx.out;
    const prev = a.flag("previous");
    out.line(`Tracing run queue latency higher than ${minUs} us`);
    if (prev)
      out.printf(
        "%-8s %-16s %-6s %14s %-16s %-6s",
        "TIME",
        "COMM",
        "TID",
        "LAT(us)",
        "PREV COMM",
        "PREV TID",
      );
    else out.printf("%-8s %-16s %-6s %14s", "TIME", "COMM", "TID", "LAT(us)");
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as SlowEvent;
      const now = new Date();
      if (out.json) {
        out.record({
          time: now.toISOString(),
          comm: e.task,
          tid: e.pid,
          lat_us: e.delta_us,
          ...(prev ? { prev_comm: e.prev_task, prev_tid: e.prev_pid } : {}),
        });
        return;
      }
      if (prev)
        out.printf(
          "%-8s %-16s %-6s %14s %-16s %-6s",
          hms(now),
          e.task,
          e.pid,
          e.delta_us,
          e.prev_task,
          e.prev_pid,
        );
      else out.printf("%-8s %-16s %-6s %14s", hms(now), e.task, e.pid, e.delta_us);
    });
    await ctx.done();
  },
};
