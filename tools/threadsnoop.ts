/**
 * threadsnoop: trace thread creation through pthread_create(), bcc's
 * columns. Hook: a uprobe on libc's pthread_create (libpthread's on older
 * C libraries), as bcc's. Threads made without pthread_create (a bare
 * clone(), Go's runtime) are not seen, as in bcc.
 */

import { findLibrary, sym } from "../src/elf/procmaps.js";
import type { BPF, RingBuf } from "../src/index.js";
import { NotSupportedError } from "../src/index.js";
import type { Tool } from "./lib/runtime.js";

interface ThreadEvent {
  ts: bigint;
  start: bigint;
  pid: number;
  tid: number;
  comm: string;
}

/** The library that has pthread_create: libc (glibc 2.34+, musl), else libpthread. */
function pthreadLibrary(): string | undefined {
  return findLibrary("c") ?? findLibrary("pthread");
}

export const tool: Tool = {
  name: "threadsnoop",
  summary: "Trace thread creation via pthread_create()",
  options: [{ short: "p", long: "pid", type: "int", help: "trace this PID only" }],
  examples: [
    "tsbpf threadsnoop          # trace new threads",
    "tsbpf threadsnoop -p 181   # only process 181",
  ],
  jsonFields: ["time", "ts_ms", "pid", "tid", "comm", "func", "start"],
  hooks: () => `uprobe ${pthreadLibrary() ?? "libc"}:pthread_create`,

  async run(ctx) {
    const a = ctx.args;
    const b: BPF = await ctx.open({ rodata: { targ_pid: a.num("pid") ?? 0 } });
    let attached = false;
    for (const name of ["c", "pthread"]) {
      try {
        b.attachUprobe({ name, sym: "pthread_create", fnName: "do_entry" });
        attached = true;
        break;
      } catch (err) {
        if (name === "pthread")
          throw new NotSupportedError(
            "threadsnoop's uprobe",
            `no pthread_create in libc or libpthread: ${(err as Error).message}`,
          );
      }
    }
    if (!attached) return;
    const out = ctx.out;
    out.printf("%-10s %-7s %-16s %s", "TIME(ms)", "PID", "COMM", "FUNC");
    let first: bigint | undefined;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as ThreadEvent;
      first ??= e.ts;
      const ms = Number(e.ts - first) / 1e6;
      let func = sym(e.start, e.pid);
      if (func === "[unknown]") func = `0x${e.start.toString(16)}`;
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          ts_ms: ms,
          pid: e.pid,
          tid: e.tid,
          comm: e.comm,
          func,
          start: `0x${e.start.toString(16)}`,
        });
        return;
      }
      out.printf("%-10d %-7d %-16s %s", Math.trunc(ms), e.pid, e.comm, func);
    });
    await ctx.done();
  },
};
