/**
 * syncsnoop: trace sync() and the other calls that flush file data, bcc's
 * columns. Hooks: the syscalls:sys_enter_* tracepoints of sync, fsync,
 * fdatasync, syncfs, sync_file_range and msync (bcc: a kprobe on sync()).
 */
import type { BPF, RingBuf } from "../src/index.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface SyncEvent {
  ts: bigint;
  pid: number;
  tid: number;
  fd: number;
  syscall: number;
  comm: string;
}

/** In the order of the BPF program's numbers. */
const SYSCALLS = ["sync", "fsync", "fdatasync", "syncfs", "sync_file_range", "msync"];
const TRACEPOINTS: Array<[string, string]> = SYSCALLS.map((s): [string, string] => [
  `syscalls:sys_enter_${s}`,
  `${s}_enter`,
]);

export const tool: Tool = {
  name: "syncsnoop",
  summary: "Trace sync() and the other syscalls that flush file data",
  options: [],
  examples: [
    "tsbpf syncsnoop          # trace sync(), fsync(), … calls",
    "tsbpf syncsnoop --json   # with pid, comm and fd",
  ],
  jsonFields: ["time", "ts", "pid", "tid", "comm", "call", "fd"],
  hookNote: () =>
    "syscall tracepoints (bcc: a kprobe on sync()): fsync, fdatasync, syncfs, sync_file_range and msync are traced too; the CALL column names each",
  hooks: () =>
    TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
      .map(([tp]) => tp)
      .join(", "),

  async run(ctx) {
    const b: BPF = await ctx.open();
    ctx.attachTracepoints(b, TRACEPOINTS);
    const out = ctx.out;
    out.printf("%-18s %s", "TIME(s)", "CALL");
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as SyncEvent;
      const call = SYSCALLS[e.syscall] ?? "sync";
      // bcc: kernel monotonic time in seconds
      const ts = Number(e.ts / 1000n) / 1e6;
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          ts,
          pid: e.pid,
          tid: e.tid,
          comm: e.comm,
          call,
          fd: e.fd >= 0 && call !== "sync" && call !== "msync" ? e.fd : null,
        });
        return;
      }
      out.printf("%-18.9f %s()", ts, call);
    });
    await ctx.done();
  },
};
