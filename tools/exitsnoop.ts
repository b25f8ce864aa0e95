/**
 * exitsnoop: trace process termination (exit, fatal signal), bcc's columns
 * and options. Hook: the sched:sched_process_exit tracepoint, as bcc's.
 */
import type { BPF, RingBuf } from "../src/index.js";
import type { Tool } from "./lib/runtime.js";

interface ExitEvent {
  start_time: bigint;
  exit_time: bigint;
  pid: number;
  tid: number;
  ppid: number;
  exit_code: number;
  sig_info: number;
  comm: string;
}

/** Signal names without "SIG" (bcc's table from Python's signal module, with USR1/USR2, which its pattern missed). */
const SIGNAMES: Record<number, string> = {
  1: "HUP",
  2: "INT",
  3: "QUIT",
  4: "ILL",
  5: "TRAP",
  6: "ABRT",
  7: "BUS",
  8: "FPE",
  9: "KILL",
  10: "USR1",
  11: "SEGV",
  12: "USR2",
  13: "PIPE",
  14: "ALRM",
  15: "TERM",
  16: "STKFLT",
  17: "CHLD",
  18: "CONT",
  19: "STOP",
  20: "TSTP",
  21: "TTIN",
  22: "TTOU",
  23: "URG",
  24: "XCPU",
  25: "XFSZ",
  26: "VTALRM",
  27: "PROF",
  28: "WINCH",
  29: "POLL",
  30: "PWR",
  31: "SYS",
  34: "RTMIN",
  64: "RTMAX",
};

/** bcc's signum_to_signame. */
export function signame(sig: number): string {
  return SIGNAMES[sig] ?? "unknown";
}

/** The local time zone's abbreviation (strftime's %Z). */
function zoneName(): string {
  const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(new Date())
    .find((p) => p.type === "timeZoneName");
  return part?.value ?? "";
}

/** bcc's `strftime("%H:%M:%S.%f")[:-3]`, local or UTC. */
function clock(d: Date, utc: boolean): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return utc
    ? `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`
    : `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export const tool: Tool = {
  name: "exitsnoop",
  summary: "Trace all process termination (exit, fatal signal)",
  options: [
    { short: "t", long: "timestamp", type: "flag", help: "include timestamp (local time default)" },
    { long: "utc", type: "flag", help: "include timestamp in UTC (-t implied)" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { long: "label", type: "string", help: "label each line" },
    { short: "x", long: "failed", type: "flag", help: "trace only fails, exclude exit(0)" },
    { long: "per-thread", type: "flag", help: "trace per thread termination" },
  ],
  examples: [
    "tsbpf exitsnoop                # trace all process termination",
    "tsbpf exitsnoop -x             # trace only fails, exclude exit(0)",
    "tsbpf exitsnoop -t             # include timestamps (local time)",
    "tsbpf exitsnoop --utc          # include timestamps (UTC)",
    "tsbpf exitsnoop -p 181         # only trace PID 181",
    "tsbpf exitsnoop --label=exit   # label each output line with 'exit'",
    "tsbpf exitsnoop --per-thread   # trace per thread termination",
  ],
  jsonFields: [
    "time",
    "comm",
    "pid",
    "ppid",
    "tid",
    "age",
    "exit_code",
    "signal",
    "signal_name",
    "core_dumped",
  ],
  hooks: () => "tracepoint sched:sched_process_exit",

  async run(ctx) {
    const a = ctx.args;
    const utc = a.flag("utc");
    const timestamp = a.flag("timestamp") || utc;
    const label = a.str("label");
    const pid = a.num("pid");
    const b: BPF = await ctx.open({
      rodata: { targ_pid: pid ?? 0, per_thread: a.flag("per-thread"), failed_only: a.flag("failed") },
    });
    b.attachTracepoint({ tp: "sched:sched_process_exit", fnName: "on_exit" });
    const out = ctx.out;
    let header = "";
    if (timestamp) header += `TIME-${utc ? "UTC" : zoneName()}`.padEnd(13);
    if (label !== undefined) header += "LABEL".padEnd(6);
    out.printf(
      `${header.replace(/%/g, "%%")}%-16s %-7s %-7s %-7s %-7s %-10s`,
      "PCOMM",
      "PID",
      "PPID",
      "TID",
      "AGE(s)",
      "EXIT_CODE",
    );
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as ExitEvent;
      const now = new Date();
      const age = Number(e.exit_time - e.start_time) / 1e9;
      const sig = e.sig_info & 0x7f;
      if (out.json) {
        out.record({
          time: now.toISOString(),
          comm: e.comm,
          pid: e.pid,
          ppid: e.ppid,
          tid: e.tid,
          age,
          exit_code: e.exit_code,
          signal: sig || null,
          signal_name: sig ? signame(sig) : null,
          core_dumped: (e.sig_info & 0x80) !== 0,
        });
      } else {
        let row = "";
        if (timestamp) row += clock(now, utc).padEnd(13);
        if (label !== undefined) row += (label.length ? label : "exit").padEnd(6);
        let status: string;
        if (e.sig_info === 0) status = e.exit_code === 0 ? "0" : `code ${e.exit_code}`;
        else {
          status = sig ? `signal ${sig} (${signame(sig)})` : "";
          if (e.sig_info & 0x80) status += ", core dumped ";
        }
        out.printf("%s%-16s %-7d %-7d %-7d %-7.2f %s", row, e.comm, e.pid, e.ppid, e.tid, age, status);
      }
      // bcc's exitsnoop -p returns once the process has exited
      if (pid !== undefined) ctx.stop();
    });
    await ctx.done();
  },
};
