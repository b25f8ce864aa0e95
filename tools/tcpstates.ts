/**
 * tcpstates: trace TCP session state changes and durations, bcc's columns
 * and options. Hook: the sock:inet_sock_set_state tracepoint, as bcc's
 * tcpstates uses where the kernel has it.
 */
import { type BPF, NotSupportedError, type RingBuf } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { AF_INET, AF_INET6, formatAddr, ipVersion, parsePorts, portArray, tcpStateName } from "./lib/net.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

interface StateEvent {
  saddr: number[];
  daddr: number[];
  skaddr: bigint;
  ts_us: bigint;
  span_us: bigint;
  pid: number;
  oldstate: number;
  newstate: number;
  lport: number;
  dport: number;
  family: number;
  comm: string;
}

export const tool: Tool = {
  name: "tcpstates",
  summary: "Trace TCP session state changes with durations",
  options: [
    { short: "T", long: "time", type: "flag", help: "include time column on output (HH:MM:SS)" },
    { short: "t", long: "timestamp", type: "flag", help: "include timestamp on output (seconds)" },
    { short: "w", long: "wide", type: "flag", help: "wide column output (fits IPv6 addresses)" },
    { short: "s", long: "csv", type: "flag", help: "comma separated values output" },
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
    {
      short: "Y",
      long: "journal",
      type: "flag",
      help: "log session state changes to the systemd journal (not supported: pipe --json to systemd-cat)",
    },
    { short: "4", long: "ipv4", type: "flag", help: "trace IPv4 family only" },
    { short: "6", long: "ipv6", type: "flag", help: "trace IPv6 family only" },
  ],
  examples: [
    "tsbpf tcpstates           # trace all TCP state changes",
    "tsbpf tcpstates -t        # include timestamp column",
    "tsbpf tcpstates -T        # include time column (HH:MM:SS)",
    "tsbpf tcpstates -w        # wider columns (fit IPv6)",
    "tsbpf tcpstates -stT      # csv output, with times & timestamps",
    "tsbpf tcpstates -L 80     # only trace local port 80",
    "tsbpf tcpstates -L 80,81  # only trace local ports 80 and 81",
    "tsbpf tcpstates -D 80     # only trace remote port 80",
    "tsbpf tcpstates -4        # trace IPv4 family only",
    "tsbpf tcpstates -6        # trace IPv6 family only",
  ],
  jsonFields: [
    "time",
    "skaddr",
    "pid",
    "comm",
    "ip",
    "laddr",
    "lport",
    "raddr",
    "rport",
    "oldstate",
    "newstate",
    "ms",
  ],
  hooks: () => "sock:inet_sock_set_state",

  async run(ctx) {
    const a = ctx.args;
    if (a.flag("ipv4") && a.flag("ipv6"))
      throw new UsageError("-4/--ipv4 and -6/--ipv6 cannot be used together");
    if (a.flag("journal"))
      throw new NotSupportedError(
        "tcpstates -Y/--journal",
        "tsbpf does not write to the systemd journal",
        "pipe the --json records to systemd-cat",
      );
    const lports = parsePorts(a.str("localport"), "-L/--localport");
    const rports = parsePorts(a.str("remoteport"), "-D/--remoteport");
    const b: BPF = await ctx.open({
      rodata: {
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
    let header = "%-16s %-5s %-10.10s %s%-15s %-5s %-15s %-5s %-11s -> %-11s %s";
    let format = "%-16x %-5d %-10.10s %s%-15s %-5d %-15s %-5d %-11s -> %-11s %.3f";
    if (wide) {
      header = "%-16s %-5s %-16.16s %-2s %-26s %-5s %-26s %-5s %-11s -> %-11s %s";
      format = "%-16x %-5d %-16.16s %-2s %-26s %-5s %-26s %-5d %-11s -> %-11s %.3f";
    }
    if (csv) {
      header = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s";
      format = "%x,%d,%s,%s,%s,%s,%s,%d,%s,%s,%.3f";
    }
    let prefix = "";
    if (a.flag("time")) prefix += csv ? "TIME," : "TIME     ";
    if (a.flag("timestamp")) prefix += csv ? "TIME(s)," : "TIME(s)   ";
    out.printf(
      `${prefix}${header}`,
      "SKADDR",
      "C-PID",
      "C-COMM",
      wide || csv ? "IP" : "",
      "LADDR",
      "LPORT",
      "RADDR",
      "RPORT",
      "OLDSTATE",
      "NEWSTATE",
      "MS",
    );
    let startTs: bigint | undefined;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as StateEvent;
      const laddr = formatAddr(e.family, e.saddr);
      const raddr = formatAddr(e.family, e.daddr);
      const ms = Number(e.span_us) / 1000;
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          skaddr: `0x${e.skaddr.toString(16)}`,
          pid: e.pid,
          comm: e.comm,
          ip: ipVersion(e.family),
          laddr,
          lport: e.lport,
          raddr,
          rport: e.dport,
          oldstate: tcpStateName(e.oldstate),
          newstate: tcpStateName(e.newstate),
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
        e.skaddr,
        e.pid,
        e.comm,
        wide || csv ? String(ipVersion(e.family)) : "",
        laddr,
        e.lport,
        raddr,
        e.dport,
        tcpStateName(e.oldstate),
        tcpStateName(e.newstate),
        ms,
      );
    });
    await ctx.done();
  },
};
