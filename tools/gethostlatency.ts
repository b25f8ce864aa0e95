/**
 * gethostlatency: show the latency of host name lookups (getaddrinfo,
 * gethostbyname, gethostbyname2), one line per call: bcc's columns. Hooks:
 * uprobes and uretprobes on those functions of libc, as bcc.
 */
import type { BPF, RingBuf } from "../src/index.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

interface HostEvent {
  host: string;
  comm: string;
  delta: bigint;
  pid: number;
}

const FUNCS = ["getaddrinfo", "gethostbyname", "gethostbyname2"];

export const tool: Tool = {
  name: "gethostlatency",
  summary: "Show latency for getaddrinfo/gethostbyname[2] calls",
  options: [{ short: "p", long: "pid", type: "int", help: "trace this PID only" }],
  examples: [
    "tsbpf gethostlatency           # time getaddrinfo/gethostbyname[2] calls",
    "tsbpf gethostlatency -p 181    # only trace PID 181",
  ],
  jsonFields: ["time", "pid", "comm", "lat_ms", "host"],
  hooks: () => FUNCS.map((f) => `uprobe+uretprobe libc:${f}`).join(", "),

  async run(ctx) {
    const pid = ctx.args.num("pid") ?? -1;
    const b: BPF = await ctx.open();
    for (const sym of FUNCS) {
      b.attachUprobe({ name: "c", sym, fnName: "do_entry", pid });
      b.attachUretprobe({ name: "c", sym, fnName: "do_return", pid });
    }
    const out = ctx.out;
    out.printf("%-9s %-7s %-16s %10s %s", "TIME", "PID", "COMM", "LATms", "HOST");
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as HostEvent;
      const lat = Number(e.delta) / 1e6;
      if (out.json) {
        out.record({ time: new Date().toISOString(), pid: e.pid, comm: e.comm, lat_ms: lat, host: e.host });
        return;
      }
      out.printf("%-9s %-7d %-16s %10.2f %s", hms(), e.pid, e.comm, lat, e.host);
    });
    await ctx.done();
  },
};
