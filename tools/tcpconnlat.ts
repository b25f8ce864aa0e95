/**
 * tcpconnlat: trace TCP active connection latency (connect() to the
 * SYN-ACK), bcc's columns and options. Hook: the sock:inet_sock_set_state
 * tracepoint (bcc: kprobes on tcp_v4_connect/tcp_v6_connect and
 * tcp_rcv_state_process).
 */
import type { BPF, RingBuf } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { AF_INET, AF_INET6, formatAddr, ipVersion } from "./lib/net.js";
import type { Tool } from "./lib/runtime.js";

interface ConnLatEvent {
  saddr: number[];
  daddr: number[];
  ts_us: bigint;
  delta_us: bigint;
  pid: number;
  lport: number;
  dport: number;
  family: number;
  comm: string;
}

export const tool: Tool = {
  name: "tcpconnlat",
  summary: "Trace TCP connects and show connection latency",
  options: [
    { short: "t", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "L", long: "lport", type: "flag", help: "include LPORT on output" },
    { short: "4", long: "ipv4", type: "flag", help: "trace IPv4 family only" },
    { short: "6", long: "ipv6", type: "flag", help: "trace IPv6 family only" },
    {
      short: "v",
      long: "verbose",
      type: "flag",
      help: "print the BPF program for debugging purposes (here: where its source is)",
    },
  ],
  positionals: [{ name: "duration_ms", type: "float", help: "minimum duration to trace (ms)" }],
  examples: [
    "tsbpf tcpconnlat           # trace all TCP connect()s",
    "tsbpf tcpconnlat 1         # trace connection latency slower than 1 ms",
    "tsbpf tcpconnlat 0.1       # trace connection latency slower than 100 us",
    "tsbpf tcpconnlat -t        # include timestamps",
    "tsbpf tcpconnlat -p 181    # only trace PID 181",
    "tsbpf tcpconnlat -L        # include LPORT while printing outputs",
    "tsbpf tcpconnlat -4        # trace IPv4 family only",
    "tsbpf tcpconnlat -6        # trace IPv6 family only",
  ],
  jsonFields: ["time", "pid", "comm", "ip", "saddr", "lport", "daddr", "dport", "lat_ms"],
  hookNote: () =>
    "tracepoint sock:inet_sock_set_state, CLOSE->SYN_SENT to SYN_SENT->ESTABLISHED " +
    "(bcc: kprobes on tcp_v[46]_connect and tcp_rcv_state_process): the same span",
  hooks: () => "sock:inet_sock_set_state",

  async run(ctx) {
    const a = ctx.args;
    if (a.flag("ipv4") && a.flag("ipv6"))
      throw new UsageError("-4/--ipv4 and -6/--ipv6 cannot be used together");
    const minMs = a.num("duration_ms") ?? 0;
    if (minMs < 0) throw new UsageError("duration_ms: expected a positive number");
    if (a.flag("verbose")) ctx.note("the BPF program is prebuilt from tools/tcpconnlat.bpf.c");
    const b: BPF = await ctx.open({
      rodata: {
        targ_tgid: a.num("pid") ?? 0,
        targ_family: a.flag("ipv4") ? AF_INET : a.flag("ipv6") ? AF_INET6 : 0,
        min_us: BigInt(Math.floor(minMs * 1000)),
      },
    });
    b.attachTracepoint({ tp: "sock:inet_sock_set_state", fnName: "on_state" });
    const out = ctx.out;
    const lport = a.flag("lport");
    const ts = a.flag("timestamp") ? "TIME(s)".padEnd(9) : "";
    if (lport)
      out.printf(
        `${ts}%-7s %-12s %-2s %-16s %-6s %-16s %-5s %s`,
        "PID",
        "COMM",
        "IP",
        "SADDR",
        "LPORT",
        "DADDR",
        "DPORT",
        "LAT(ms)",
      );
    else
      out.printf(
        `${ts}%-7s %-12s %-2s %-16s %-16s %-5s %s`,
        "PID",
        "COMM",
        "IP",
        "SADDR",
        "DADDR",
        "DPORT",
        "LAT(ms)",
      );
    let startTs: bigint | undefined;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as ConnLatEvent;
      const saddr = formatAddr(e.family, e.saddr);
      const daddr = formatAddr(e.family, e.daddr);
      const ip = ipVersion(e.family);
      const ms = Number(e.delta_us) / 1000;
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          pid: e.pid,
          comm: e.comm,
          ip,
          saddr,
          lport: e.lport,
          daddr,
          dport: e.dport,
          lat_ms: ms,
        });
        return;
      }
      let row = "";
      if (a.flag("timestamp")) {
        startTs ??= e.ts_us;
        row += (Number(e.ts_us - startTs) / 1e6).toFixed(3).padEnd(9);
      }
      if (lport)
        out.printf(
          "%s%-7d %-12.12s %-2d %-16s %-6d %-16s %-5d %.2f",
          row,
          e.pid,
          e.comm,
          ip,
          saddr,
          e.lport,
          daddr,
          e.dport,
          ms,
        );
      else
        out.printf(
          "%s%-7d %-12.12s %-2d %-16s %-16s %-5d %.2f",
          row,
          e.pid,
          e.comm,
          ip,
          saddr,
          daddr,
          e.dport,
          ms,
        );
    });
    await ctx.done();
  },
};
