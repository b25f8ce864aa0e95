/**
 * tcpaccept: trace passive TCP connections (accept()), bcc's columns and
 * options. Hooks: the syscalls:sys_exit_accept and sys_exit_accept4
 * tracepoints, reading the new socket from the returned file descriptor
 * (bcc: a kretprobe on inet_csk_accept).
 */
import type { BPF, RingBuf } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import {
  AF_INET,
  AF_INET6,
  formatAddr,
  ipVersion,
  PINNED_MAP_OPTIONS,
  parsePorts,
  portArray,
  rejectPinnedMaps,
} from "./lib/net.js";
import { hms } from "./lib/output.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface AcceptEvent {
  saddr: number[];
  daddr: number[];
  ts_us: bigint;
  pid: number;
  lport: number;
  dport: number;
  family: number;
  comm: string;
}

const TRACEPOINTS: Array<[string, string]> = [
  ["syscalls:sys_exit_accept", "accept_exit"],
  ["syscalls:sys_exit_accept4", "accept4_exit"],
];

export const tool: Tool = {
  name: "tcpaccept",
  summary: "Trace TCP accepts",
  options: [
    { short: "T", long: "time", type: "flag", help: "include time column on output (HH:MM:SS)" },
    { short: "t", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    {
      short: "P",
      long: "port",
      type: "string",
      metavar: "PORT",
      help: "comma-separated list of local ports to trace",
    },
    { short: "4", long: "ipv4", type: "flag", help: "trace IPv4 family only" },
    { short: "6", long: "ipv6", type: "flag", help: "trace IPv6 family only" },
    ...PINNED_MAP_OPTIONS,
  ],
  examples: [
    "tsbpf tcpaccept           # trace all TCP accept()s",
    "tsbpf tcpaccept -t        # include timestamps",
    "tsbpf tcpaccept -P 80,81  # only trace port 80 and 81",
    "tsbpf tcpaccept -p 181    # only trace PID 181",
    "tsbpf tcpaccept -4        # trace IPv4 family only",
    "tsbpf tcpaccept -6        # trace IPv6 family only",
    "tsbpf tcpaccept --json    # one JSON object per accept",
  ],
  jsonFields: ["time", "pid", "comm", "ip", "raddr", "rport", "laddr", "lport"],
  hookNote: () =>
    "syscall tracepoints sys_exit_accept/accept4, the socket read from the returned fd " +
    "(bcc: a kretprobe on inet_csk_accept): the same accepts, but not those made through io_uring",
  hooks: () =>
    TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
      .map(([tp]) => tp)
      .join(", "),

  async run(ctx) {
    const a = ctx.args;
    rejectPinnedMaps(a);
    if (a.flag("ipv4") && a.flag("ipv6"))
      throw new UsageError("-4/--ipv4 and -6/--ipv6 cannot be used together");
    const ports = parsePorts(a.str("port"), "-P/--port");
    const b: BPF = await ctx.open({
      rodata: {
        targ_tgid: a.num("pid") ?? 0,
        targ_family: a.flag("ipv4") ? AF_INET : a.flag("ipv6") ? AF_INET6 : 0,
        n_ports: ports.length,
        targ_ports: portArray(ports),
      },
    });
    ctx.attachTracepoints(b, TRACEPOINTS);
    const out = ctx.out;
    let header = "";
    if (a.flag("time")) header += "TIME".padEnd(9);
    if (a.flag("timestamp")) header += "TIME(s)".padEnd(9);
    out.printf(
      `${header}%-7s %-12s %-2s %-16s %-5s %-16s %-5s`,
      "PID",
      "COMM",
      "IP",
      "RADDR",
      "RPORT",
      "LADDR",
      "LPORT",
    );
    let startTs: bigint | undefined;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as AcceptEvent;
      const laddr = formatAddr(e.family, e.saddr);
      const raddr = formatAddr(e.family, e.daddr);
      const ip = ipVersion(e.family);
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          pid: e.pid,
          comm: e.comm,
          ip,
          raddr,
          rport: e.dport,
          laddr,
          lport: e.lport,
        });
        return;
      }
      let row = "";
      if (a.flag("time")) row += hms().padEnd(9);
      if (a.flag("timestamp")) {
        startTs ??= e.ts_us;
        row += (Number(e.ts_us - startTs) / 1e6).toFixed(3).padEnd(9);
      }
      out.printf(
        "%s%-7d %-12.12s %-2d %-16s %-5d %-16s %-5d",
        row,
        e.pid,
        e.comm,
        ip,
        raddr,
        e.dport,
        laddr,
        e.lport,
      );
    });
    await ctx.done();
  },
};
