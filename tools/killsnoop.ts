/**
 * killsnoop: trace signals issued by the kill() system call, bcc's columns
 * and options. Hooks: the syscalls:sys_{enter,exit}_kill tracepoints, and
 * also tkill and tgkill (bcc traces kill() alone, with a kprobe).
 */
import { readFileSync } from "node:fs";
import type { BPF, RingBuf } from "../src/index.js";
import { hms } from "./lib/output.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface KillEvent {
  pid: number;
  tpid: number;
  sig: number;
  ret: number;
  syscall: number;
  comm: string;
}

const SYSCALLS = ["kill", "tkill", "tgkill"];
const TRACEPOINTS: Array<[string, string]> = SYSCALLS.flatMap(
  (s): Array<[string, string]> => [
    [`syscalls:sys_enter_${s}`, `${s}_enter`],
    [`syscalls:sys_exit_${s}`, `${s}_exit`],
  ],
);

/** bcc's PID column width: the digits of pid_max, plus one. */
function pidWidth(): number {
  try {
    return readFileSync("/proc/sys/kernel/pid_max", "utf8").trim().length + 1;
  } catch {
    return 6;
  }
}

export const tool: Tool = {
  name: "killsnoop",
  summary: "Trace signals issued by the kill() syscall",
  options: [
    { short: "x", long: "failed", type: "flag", help: "only show failed kill syscalls" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only which is the sender of signal" },
    {
      short: "T",
      long: "tpid",
      type: "int",
      help: "trace this target PID only which is the receiver of signal",
    },
    { short: "s", long: "signal", type: "int", help: "trace this signal only" },
  ],
  examples: [
    "tsbpf killsnoop           # trace all kill() signals",
    "tsbpf killsnoop -x        # only show failed kills",
    "tsbpf killsnoop -p 181    # only trace PID 181",
    "tsbpf killsnoop -T 189    # only trace target PID 189",
    "tsbpf killsnoop -s 9      # only trace signal 9",
  ],
  jsonFields: ["time", "pid", "comm", "sig", "tpid", "ret", "syscall"],
  hookNote: () =>
    "syscall tracepoints (bcc: a kprobe on the kill syscall function): tkill() and tgkill() are traced too (TPID: tgkill's process)",
  hooks: () =>
    TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
      .map(([tp]) => tp)
      .join(", "),

  async run(ctx) {
    const a = ctx.args;
    const b: BPF = await ctx.open({
      rodata: {
        targ_pid: a.num("pid") ?? 0,
        targ_tpid: a.num("tpid") ?? 0,
        targ_sig: a.num("signal") ?? 0,
        failed_only: a.flag("failed"),
      },
    });
    ctx.attachTracepoints(b, TRACEPOINTS);
    const w = pidWidth();
    const out = ctx.out;
    out.printf(`%-9s %-${w}s %-16s %-4s %-${w}s %s`, "TIME", "PID", "COMM", "SIG", "TPID", "RESULT");
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as KillEvent;
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          pid: e.pid,
          comm: e.comm,
          sig: e.sig,
          tpid: e.tpid,
          ret: e.ret,
          syscall: SYSCALLS[e.syscall] ?? "kill",
        });
        return;
      }
      out.printf(`%-9s %-${w}d %-16s %-4d %-${w}d %d`, hms(), e.pid, e.comm, e.sig, e.tpid, e.ret);
    });
    await ctx.done();
  },
};
