/**
 * statsnoop: trace stat() system calls, bcc's columns and options. Hooks:
 * the syscalls:sys_{enter,exit}_* tracepoints of the stat family that take a
 * path (newstat, newlstat, newfstatat, statx, statfs, and the 32-bit ones
 * where they exist).
 */
import type { BPF, RingBuf } from "../src/index.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface StatEvent {
  ts_ns: bigint;
  pid: number;
  ret: number;
  syscall: number;
  comm: string;
  fname: string;
}

/** In the order of the BPF program's numbers. */
const SYSCALLS = [
  "newstat",
  "newlstat",
  "newfstatat",
  "statx",
  "statfs",
  "stat",
  "lstat",
  "stat64",
  "lstat64",
  "fstatat64",
  "statfs64",
];
const TRACEPOINTS: Array<[string, string]> = SYSCALLS.flatMap(
  (s): Array<[string, string]> => [
    [`syscalls:sys_enter_${s}`, `${s}_enter`],
    [`syscalls:sys_exit_${s}`, `${s}_exit`],
  ],
);

export const tool: Tool = {
  name: "statsnoop",
  summary: "Trace stat() syscalls",
  options: [
    { short: "t", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "x", long: "failed", type: "flag", help: "only show failed stats" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
  ],
  examples: [
    "tsbpf statsnoop           # trace all stat() syscalls",
    "tsbpf statsnoop -t        # include timestamps",
    "tsbpf statsnoop -x        # only show failed stats",
    "tsbpf statsnoop -p 181    # only trace PID 181",
  ],
  jsonFields: ["time", "ts", "pid", "comm", "ret", "err", "path", "syscall"],
  hookNote: () =>
    "syscall tracepoints (bcc: kprobes on stat, statx, statfs, newstat, newlstat): newfstatat, which libc's stat() uses, is traced too; fstat() (fstatat with an empty path) is not, as in bcc",
  hooks: () =>
    TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
      .map(([tp]) => tp)
      .join(", "),

  async run(ctx) {
    const a = ctx.args;
    const b: BPF = await ctx.open({
      rodata: { targ_pid: a.num("pid") ?? 0, failed_only: a.flag("failed") },
    });
    ctx.attachTracepoints(b, TRACEPOINTS);
    const out = ctx.out;
    const ts = a.flag("timestamp");
    out.printf(`${ts ? "TIME(s)".padEnd(14) : ""}%-7s %-16s %4s %3s %s`, "PID", "COMM", "FD", "ERR", "PATH");
    let start: bigint | undefined;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as StatEvent;
      start ??= e.ts_ns;
      const delta = Number(e.ts_ns - start) / 1e9;
      const fd = e.ret >= 0 ? e.ret : -1;
      const err = e.ret >= 0 ? 0 : -e.ret;
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          ts: delta,
          pid: e.pid,
          comm: e.comm,
          ret: e.ret,
          err,
          path: e.fname,
          syscall: SYSCALLS[e.syscall] ?? "stat",
        });
        return;
      }
      out.printf(
        "%s%-7d %-16s %4d %3d %s",
        ts ? delta.toFixed(9).padEnd(14) : "",
        e.pid,
        e.comm,
        fd,
        err,
        e.fname,
      );
    });
    await ctx.done();
  },
};
