/**
 * offcputime: off-CPU time summed by kernel and user stack trace, printed
 * at the end as bcc prints it (multi-line stacks, or folded with -f for
 * flame graphs). Hook: the sched_switch raw tracepoint (bcc: a kprobe on
 * finish_task_switch); stacks through a BPF_MAP_TYPE_STACK_TRACE map,
 * symbols from kallsyms and the processes' ELF files.
 */
import type { BPF, StackTrace, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import type { Tool } from "./lib/runtime.js";
import {
  lostStacksWarning,
  PROFILE_FILE_OPTIONS,
  printStacks,
  readStacks,
  type StackShape,
  V8_MARKERS_OPTION,
  writeProfileFiles,
} from "./lib/stacks.js";

interface Key {
  pid: number;
  tgid: number;
  user_stack_id: number;
  kernel_stack_id: number;
  name: string;
}

export const tool: Tool = {
  name: "offcputime",
  summary: "Summarize off-CPU time by stack trace",
  options: [
    { short: "p", long: "pid", type: "int", metavar: "PID", help: "trace this PID only" },
    { short: "t", long: "tid", type: "int", metavar: "TID", help: "trace this TID only" },
    {
      short: "u",
      long: "user-threads-only",
      type: "flag",
      help: "user threads only (no kernel threads)",
    },
    {
      short: "k",
      long: "kernel-threads-only",
      type: "flag",
      help: "kernel threads only (no user threads)",
    },
    {
      short: "U",
      long: "user-stacks-only",
      type: "flag",
      help: "show stacks from user space only (no kernel space stacks)",
    },
    {
      short: "K",
      long: "kernel-stacks-only",
      type: "flag",
      help: "show stacks from kernel space only (no user space stacks)",
    },
    { short: "d", long: "delimited", type: "flag", help: "insert delimiter between kernel/user stacks" },
    { short: "f", long: "folded", type: "flag", help: "output folded format" },
    ...PROFILE_FILE_OPTIONS,
    V8_MARKERS_OPTION,
    {
      long: "stack-storage-size",
      type: "int",
      help: "the number of unique stack traces that can be stored and displayed (default 1024)",
    },
    {
      short: "m",
      long: "min-block-time",
      type: "int",
      help: "the amount of time in microseconds over which we store traces (default 1)",
    },
    {
      short: "M",
      long: "max-block-time",
      type: "int",
      help: "the amount of time in microseconds under which we store traces (default U64_MAX)",
    },
    {
      long: "state",
      type: "int",
      help: "filter on this thread state bitmask (eg, 2 == TASK_UNINTERRUPTIBLE) see include/linux/sched.h",
    },
  ],
  positionals: [{ name: "duration", type: "int", help: "duration of trace, in seconds" }],
  examples: [
    "tsbpf offcputime             # trace off-CPU stack time until Ctrl-C",
    "tsbpf offcputime 5           # trace for 5 seconds only",
    "tsbpf offcputime -f 5        # 5 seconds, and output in folded format",
    "tsbpf offcputime -m 1000     # trace only events that last more than 1000 usec",
    "tsbpf offcputime -M 10000    # trace only events that last less than 10000 usec",
    "tsbpf offcputime -p 185      # only trace threads for PID 185",
    "tsbpf offcputime -t 188      # only trace thread 188",
    "tsbpf offcputime -u          # only trace user threads (no kernel)",
    "tsbpf offcputime -k          # only trace kernel threads (no user)",
    "tsbpf offcputime -U          # only show user space stacks (no kernel)",
    "tsbpf offcputime -K          # only show kernel space stacks (no user)",
  ],
  jsonFields: ["pid", "tgid", "comm", "user_stack", "kernel_stack", "total_us"],
  hooks: () => "raw_tp/sched_switch",
  hookNote: () =>
    "the sched_switch raw tracepoint (bcc: a kprobe on finish_task_switch): stacks are taken as the task leaves the CPU, so kernel stacks end in the tracepoint's caller (__schedule) rather than finish_task_switch",

  async run(ctx) {
    const a = ctx.args;
    const threadOpts = ["pid", "tid", "user-threads-only", "kernel-threads-only"].filter(
      (o) => a.num(o) !== undefined || a.flag(o),
    );
    if (threadOpts.length > 1)
      throw new UsageError(`argument --${threadOpts[1]}: not allowed with argument --${threadOpts[0]}`);
    if (a.flag("user-stacks-only") && a.flag("kernel-stacks-only"))
      throw new UsageError(
        "argument -K/--kernel-stacks-only: not allowed with argument -U/--user-stacks-only",
      );
    for (const o of ["pid", "tid", "state"]) {
      const v = a.num(o);
      if (v !== undefined && v < 0) throw new UsageError(`--${o}: must be positive`);
    }
    for (const o of ["stack-storage-size", "min-block-time", "max-block-time", "duration"]) {
      const v = a.num(o);
      if (v !== undefined && v <= 0) throw new UsageError(`--${o}: must be nonzero`);
    }
    if (a.flag("kernel-threads-only") && a.flag("user-stacks-only"))
      throw new UsageError("Displaying user stacks for kernel threads doesn't make sense.");
    const userOnly = a.flag("user-stacks-only");
    const kernelOnly = a.flag("kernel-stacks-only");
    const folded = a.flag("folded");
    const b: BPF = await ctx.open({
      rodata: {
        targ_tgid: a.num("pid") ?? 0,
        targ_pid: a.num("tid") ?? 0,
        user_threads_only: a.flag("user-threads-only"),
        kernel_threads_only: a.flag("kernel-threads-only"),
        user_stacks: !kernelOnly,
        kernel_stacks: !userOnly,
        state: BigInt(a.num("state") ?? -1),
        min_us: BigInt(a.num("min-block-time") ?? 1),
        max_us:
          a.num("max-block-time") === undefined ? 2n ** 64n - 1n : BigInt(a.num("max-block-time") as number),
      },
      mapSizes: { stack_traces: a.num("stack-storage-size") ?? 1024 },
    });
    b.attachRawTracepoint({ tp: "sched_switch", fnName: "on_switch" });
    const out = ctx.out;
    const pid = a.num("pid");
    const tid = a.num("tid");
    const threadContext =
      pid !== undefined
        ? `PID ${pid}`
        : tid !== undefined
          ? `TID ${tid}`
          : a.flag("user-threads-only")
            ? "user threads"
            : a.flag("kernel-threads-only")
              ? "kernel threads"
              : "all threads";
    const stackContext = userOnly ? "user" : kernelOnly ? "kernel" : "user + kernel";
    const duration = a.duration;
    if (!folded) {
      out.text(`Tracing off-CPU time (us) of ${threadContext} by ${stackContext} stack`);
      out.line(
        duration !== undefined && duration < 99999999
          ? ` for ${Math.trunc(duration)} secs.`
          : "... Hit Ctrl-C to end.",
      );
    }
    const started = Date.now();
    await ctx.done();
    if (!folded) out.line("");

    const shape: StackShape = {
      userOnly,
      kernelOnly,
      delimited: a.flag("delimited"),
      v8Markers: a.flag("v8-markers"),
    };
    const { rows, missing, enomem } = readStacks<Key>(
      b.getTable<Table>("counts"),
      b.getTable<StackTrace>("stack_traces"),
      shape,
      (k) => k.tgid,
    );
    printStacks(out, rows, shape, {
      folded,
      pidOf: (k) => k.pid,
      record: ({ key: k, value }, stacks) => ({
        pid: k.pid,
        tgid: k.tgid,
        comm: k.name,
        ...stacks,
        total_us: value,
      }),
    });
    const lost = lostStacksWarning(missing, enomem);
    if (lost) ctx.note(lost);
    writeProfileFiles(
      rows,
      shape,
      { svg: a.str("svg"), pprof: a.str("pprof") },
      {
        title: "Off-CPU time",
        countName: "us",
        sampleType: ["off-cpu", "microseconds"],
        startMs: started,
        durationMs: Date.now() - started,
        comment: `tsbpf offcputime ${process.argv.slice(3).join(" ")}`.trim(),
      },
    );
  },
};
