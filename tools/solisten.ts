/**
 * solisten: trace listen() on IPv4 and IPv6 stream sockets, bcc's columns
 * and options. Hooks: the syscalls:sys_{enter,exit}_listen tracepoints; the
 * socket is found from the fd through the task's file table (bcc: a kprobe
 * on inet_listen).
 */
import type { BPF, RingBuf } from "../src/index.js";
import { formatAddr } from "./lib/net.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface ListenEvent {
  addr: number[];
  ts_us: bigint;
  pid: number;
  backlog: number;
  netns: number;
  ret: number;
  family: number;
  type: number;
  lport: number;
  comm: string;
}

const TRACEPOINTS: Array<[string, string]> = [
  ["syscalls:sys_enter_listen", "listen_enter"],
  ["syscalls:sys_exit_listen", "listen_exit"],
];

export const tool: Tool = {
  name: "solisten",
  summary: "Stream sockets listen",
  options: [
    { long: "show-netns", type: "flag", help: "show network namespace" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "n", long: "netns", type: "int", help: "trace this Network Namespace only" },
  ],
  examples: [
    "tsbpf solisten              # Stream socket listen",
    "tsbpf solisten -p 1234      # Stream socket listen for specified PID only",
    'tsbpf solisten --netns 4242 # " for the specified network namespace ID only',
    "tsbpf solisten --show-netns # Show network ns ID (useful for containers)",
  ],
  jsonFields: ["time", "pid", "comm", "netns", "proto", "backlog", "port", "addr", "ret"],
  hookNote: () =>
    "syscall tracepoints (bcc: a kprobe on inet_listen): the socket from the fd, read when listen() returns (so an unbound socket shows the port it was given)",
  hooks: () =>
    TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
      .map(([tp]) => tp)
      .join(", "),

  async run(ctx) {
    const a = ctx.args;
    const b: BPF = await ctx.open({
      rodata: { targ_pid: a.num("pid") ?? 0, targ_netns: a.num("netns") ?? 0 },
    });
    ctx.attachTracepoints(b, TRACEPOINTS);
    const out = ctx.out;
    const netns = a.flag("show-netns");
    if (netns)
      out.printf(
        "%-7s %-12s %-12s %-6s %-8s %-5s %-39s",
        "PID",
        "COMM",
        "NETNS",
        "PROTO",
        "BACKLOG",
        "PORT",
        "ADDR",
      );
    else out.printf("%-7s %-12s %-6s %-8s %-5s %-39s", "PID", "COMM", "PROTO", "BACKLOG", "PORT", "ADDR");
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as ListenEvent;
      const proto = (e.type === 1 ? "TCP" : e.type === 2 ? "UDP" : "UNK") + (e.family === 2 ? "v4" : "v6");
      const addr = formatAddr(e.family, e.addr);
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          pid: e.pid,
          comm: e.comm,
          netns: e.netns,
          proto,
          backlog: e.backlog,
          port: e.lport,
          addr,
          ret: e.ret,
        });
        return;
      }
      if (netns)
        out.printf(
          "%-7d %-12.12s %-12d %-6s %-8d %-5d %-39s",
          e.pid,
          e.comm,
          e.netns,
          proto,
          e.backlog,
          e.lport,
          addr,
        );
      else out.printf("%-7d %-12.12s %-6s %-8d %-5d %-39s", e.pid, e.comm, proto, e.backlog, e.lport, addr);
    });
    await ctx.done();
  },
};
