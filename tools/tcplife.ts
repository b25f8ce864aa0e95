/**
 * tcplife: trace TCP sessions and summarize their lifespan, bcc's columns
 * and options. Hook: the sock:inet_sock_set_state tracepoint, as bcc's
 * tcplife uses where the kernel has it.
 */
import type { BPF, RingBuf } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { AF_INET, AF_INET6, formatAddr, ipVersion, parsePorts, portArray } from "./lib/net.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

interface LifeEvent {
  saddr: number[];
  daddr: number[];
  ts_us: bigint;
  span_us: bigint;
  rx_b: bigint;
  tx_b: bigint;
  pid: number;
  lport: number;
  dport: number;
  family: number;
  comm: string;
}

export const tool: Tool = {
  name: "tcplife",
  summary: "Trace the lifespan of TCP sessions and summarize",
  options: [
    { short: "T", long: "time", type: "flag", help: "include time column on output (HH:MM:SS)" },
    { short: "t", long: "timestamp", type: "flag", help: "include timestamp on output (seconds)" },
    { short: "w", long: "wide", type: "flag", help: "wide column output (fits IPv6 addresses)" },
    { short: "s", long: "csv", type: "flag", help: "comma separated values output" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    {
      short: "L",
      long: "localport",
      type: "string",
      metavar: "LOCALPORT",
      help: "comma-separated list of local ports to trace.",
    },
    {
      short: "D",
      long: "remoteport",
      type: "string",
      metavar: "REMOTEPORT",
      help: "comma-separated list of remote ports to trace.",
    },
    { short: "4", long: "ipv4", type: "flag", help: "trace IPv4 family only" },
    { short: "6", long: "ipv6", type: "flag", help: "trace IPv6 family only" },
  ],
  examples: [
    "tsbpf tcplife           # trace all TCP connect()s",
    "tsbpf tcplife -T        # include time column (HH:MM:SS)",
    "tsbpf tcplife -w        # wider columns (fit IPv6)",
    "tsbpf tcplife -stT      # csv output, with times & timestamps",
    "tsbpf tcplife -p 181    # only trace PID 181",
    "tsbpf tcplife -L 80     # only trace local port 80",
    "tsbpf tcplife -L 80,81  # only trace local ports 80 and 81",
    "tsbpf tcplife -D 80     # only trace remote port 80",
    "tsbpf tcplife -4        # only trace IPv4 family",
    "tsbpf tcplife -6        # only trace IPv6 family",
  ],
  jsonFields: [
    "time",
    "pid",
    "comm",
    "ip",
    "laddr",
    "lport",
    "raddr",
    "rport",
    "tx_kb",
    "rx_kb",
    "tx_bytes",
    "rx_bytes",
    "ms",
  ],
  hooks: () => "sock:inet_sock_set_state",

  async run(ctx) {
    const a = ctx.args;
    if (a.flag("ipv4") && a.flag("ipv6"))
      throw new UsageError("-4/--ipv4 and -6/--ipv6 cannot be used together");
    const lports = parsePorts(a.str("localport"), "-L/--localport");
    const rports = parsePorts(a.str("remoteport"), "-D/--remoteport");
    const b: BPF = await ctx.open({
      rodata: {
        targ_tgid: a.num("pid") ?? 0,
        targ_family: a.flag("ipv4") ? AF_INET : a.flag("ipv6") ? AF_INET6 : 0,
        n_lports: lports.length,
        targ_lports: portArray(lports),
        n_rports: rports.length,
        targ_rports: portArray(rports),
      },
    });
    b.attachTracepoint({ tp: "sock:inet_sock_set_state", fnName: "on_state" });
    const out = ctx.out;
    const wide = a.flag("wide");
    const csv = a.flag("csv");
    let header = "%-5s %-10.10s %s%-15s %-5s %-15s %-5s %5s %5s %s";
    let format = "%-5d %-10.10s %s%-15s %-5d %-15s %-5d %5d %5d %.2f";
    if (wide) {
      header = "%-5s %-16.16s %-2s %-26s %-5s %-26s %-5s %6s %6s %s";
      format = "%-5d %-16.16s %-2s %-26s %-5s %-26s %-5d %6d %6d %.2f";
    }
    if (csv) {
      header = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s";
      format = "%d,%s,%s,%s,%s,%s,%d,%d,%d,%.2f";
    }
    let prefix = "";
    if (a.flag("time")) prefix += csv ? "TIME," : "TIME     ";
    if (a.flag("timestamp")) prefix += csv ? "TIME(s)," : "TIME(s)   ";
    out.printf(
      `${prefix}${header}`,
      "PID",
      "COMM",
      wide || csv ? "IP" : "",
      "LADDR",
      "LPORT",
      "RADDR",
      "RPORT",
      "TX_KB",
      "RX_KB",
      "MS",
    );
    let startTs: bigint | undefined;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as LifeEvent;
      const laddr = formatAddr(e.family, e.saddr);
      const raddr = formatAddr(e.family, e.daddr);
      const ms = Number(e.span_us) / 1000;
      const txKb = Number(e.tx_b / 1024n);
      const rxKb = Number(e.rx_b / 1024n);
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          pid: e.pid,
          comm: e.comm,
          ip: ipVersion(e.family),
          laddr,
          lport: e.lport,
          raddr,
          rport: e.dport,
          tx_kb: txKb,
          rx_kb: rxKb,
          tx_bytes: e.tx_b,
          rx_bytes: e.rx_b,
          ms,
        });
        return;
      }
      let row = "";
      if (a.flag("time")) row += csv ? `${hms()},` : `${hms().padEnd(8)} `;
      if (a.flag("timestamp")) {
        startTs ??= e.ts_us;
        const s = (Number(e.ts_us - startTs) / 1e6).toFixed(6);
        row += csv ? `${s},` : `${s.padEnd(9)} `;
      }
      out.printf(
        `%s${format}`,
        row,
        e.pid,
        e.comm,
        wide || csv ? String(ipVersion(e.family)) : "",
        laddr,
        e.lport,
        raddr,
        e.dport,
        txKb,
        rxKb,
        ms,
      );
    });
    await ctx.done();
  },
};
