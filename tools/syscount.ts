import type { BPF, Table } from "../src/index.js";
import { Errno } from "../src/kernel/constants.js";
import { UsageError } from "./lib/args.js";
import { hms } from "./lib/output.js";
import { commOf } from "./lib/proc.js";
import type { Tool } from "./lib/runtime.js";
import { syscallName, syscallNumber, syscallTable } from "./lib/syscalls.js";

interface Data {
  count: bigint;
  total_ns: bigint;
}

function parseErrno(text: string): number {
  if (/^[+-]?\d+$/.test(text)) return Math.abs(Number(text));
  const v = (Errno as Record<string, number>)[text];
  if (v === undefined) throw new UsageError(`-e/--errno: couldn't map ${text} to an errno`);
  return v;
}

function commForPid(pid: number): string {
  return commOf(pid)?.trim() ?? "[unknown]";
}

export const tool: Tool = {
  name: "syscount",
  summary: "Summarize syscall counts and latencies.",
  prometheus: true,
  options: [
    { short: "p", long: "pid", type: "int", help: "trace only this pid" },
    { short: "t", long: "tid", type: "int", help: "trace only this tid" },
    { short: "c", long: "ppid", type: "int", help: "trace only child of this pid" },
    { short: "i", long: "interval", type: "float", help: "print summary at this interval (seconds)" },
    { short: "d", long: "duration", type: "float", help: "total duration of trace, in seconds" },
    {
      short: "T",
      long: "top",
      type: "int",
      help: "print only the top syscalls by count or latency",
    },
    { short: "x", long: "failures", type: "flag", help: "trace only failed syscalls (return < 0)" },
    {
      short: "e",
      long: "errno",
      type: "string",
      help: "trace only syscalls that return this error (numeric or EPERM, etc.)",
    },
    { short: "L", long: "latency", type: "flag", help: "collect syscall latency" },
    {
      short: "m",
      long: "milliseconds",
      type: "flag",
      help: "display latency in milliseconds (default: microseconds)",
    },
    { short: "P", long: "process", type: "flag", help: "count by process and not by syscall" },
    { short: "l", long: "list", type: "flag", help: "print list of recognized syscalls and exit" },
    {
      long: "syscall",
      type: "string",
      help: "trace this syscall only (use option -l to get all recognized syscalls)",
    },
  ],
  examples: [
    "tsbpf syscount                 # count syscalls, print the top 10 at Ctrl-C",
    "tsbpf syscount -P              # count by process",
    "tsbpf syscount -L -i 1         # with latency, every second",
    "tsbpf syscount -x -e ENOENT    # failed syscalls that returned ENOENT",
    "tsbpf syscount -p 181 -d 10    # pid 181, for 10 seconds",
    "tsbpf syscount --json          # one JSON object per row",
  ],
  jsonFields: ["time", "syscall|pid,comm", "count", "total_us|total_ms"],
  hooks: () => "tracepoint/raw_syscalls/sys_enter, tracepoint/raw_syscalls/sys_exit",

  async run(ctx) {
    const a = ctx.args;
    const out = ctx.out;
    if (a.flag("list")) {
      const names = [...new Set(syscallTable().values())].sort();
      for (let i = 0; i < names.length; i += 4)
        out.line(
          names
            .slice(i, i + 4)
            .map((n) => n.padEnd(22))
            .join("   "),
        );
      return;
    }
    const top = a.num("top") ?? 10;
    const sysText = a.str("syscall");
    let nr = -1;
    if (sysText !== undefined) {
      const n = syscallNumber(sysText);
      if (n === undefined) throw new UsageError(`syscall '${sysText}' not found`);
      nr = n;
    }
    const errnoText = a.str("errno");
    const latency = a.flag("latency");
    const ms = a.flag("milliseconds");
    const byProcess = a.flag("process");
    const b: BPF = await ctx.open({
      rodata: {
        // bcc applies one of -p, -t, -c, in that order
        filter_pid: a.num("pid") ?? 0,
        filter_tid: a.num("pid") === undefined ? (a.num("tid") ?? 0) : 0,
        filter_ppid: a.num("pid") === undefined && a.num("tid") === undefined ? (a.num("ppid") ?? 0) : 0,
        filter_failed: a.flag("failures"),
        filter_errno: errnoText === undefined ? 0 : parseErrno(errnoText),
        filter_nr: nr,
        latency,
        by_process: byProcess,
      },
    });
    ctx.attachTracepoints(b, [
      ["raw_syscalls:sys_enter", "sys_enter"],
      ["raw_syscalls:sys_exit", "sys_exit"],
    ]);
    const data = b.getTable<Table>("data");
    // key 0xffffffff: not a call (bcc's syscount leaves it out too)
    const keyLabel = byProcess
      ? { name: "pid", format: (v: string) => (v === "4294967295" ? undefined : v) }
      : { name: "syscall", format: (v: string) => (v === "4294967295" ? undefined : syscallName(Number(v))) };
    const failedHelp = a.flag("failures") ? "Failed system calls" : "System calls";
    ctx.exportMetrics(b, [
      {
        type: "counter",
        name: "syscount_syscalls_total",
        help: `${failedHelp} by ${byProcess ? "process" : "name"}`,
        table: "data",
        labels: [keyLabel],
        valueField: "count",
      },
      ...(latency
        ? [
            {
              type: "counter" as const,
              name: "syscount_syscall_seconds_total",
              help: `Time in ${failedHelp.toLowerCase()} by ${byProcess ? "process" : "name"}`,
              table: "data",
              labels: [keyLabel],
              valueField: "total_ns",
              multiplier: 1e-9,
            },
          ]
        : []),
    ]);
    const failed = a.flag("failures") ? "failed " : "";
    if (sysText !== undefined) out.line(`Tracing ${failed}syscall '${sysText}'... Ctrl+C to quit.`);
    else out.line(`Tracing ${failed}syscalls, printing top ${top}... Ctrl+C to quit.`);
    const aggCol = byProcess ? "PID    COMM" : "SYSCALL";
    const timeCol = ms ? "TIME (ms)" : "TIME (us)";
    await ctx.intervals(a.num("interval") ?? 99999999, undefined, (last) => {
      const now = new Date();
      const rows = ([...data.items()] as Array<[number, Data]>).filter(([k]) => k !== 0xffffffff);
      data.clear();
      if (latency) rows.sort(([, x], [, y]) => Number(y.total_ns - x.total_ns));
      else rows.sort(([, x], [, y]) => Number(y.count - x.count));
      out.line(`[${hms(now)}]`);
      if (latency) out.printf("%-22s %8s %16s", aggCol, "COUNT", timeCol);
      else out.printf("%-22s %8s", aggCol, "COUNT");
      for (const [k, v] of rows.slice(0, top)) {
        const comm = byProcess ? commForPid(k) : "";
        const agg = byProcess ? `${String(k).padEnd(6)} ${comm.padEnd(15)}` : syscallName(k);
        const total = Number(v.total_ns) / (ms ? 1e6 : 1e3);
        if (latency) out.printf(`%-22s %8d ${ms ? "%16.6f" : "%16.3f"}`, agg, v.count, total);
        else out.printf("%-22s %8d", agg, v.count);
        out.record({
          time: now.toISOString(),
          ...(byProcess ? { pid: k, comm } : { syscall: syscallName(k) }),
          count: v.count,
          ...(latency ? { [ms ? "total_ms" : "total_us"]: total } : {}),
        });
      }
      out.line("");
      if (last) out.line("Detaching...");
    });
  },
};
