/**
 * tcpconnect: trace active TCP connections (connect()), bcc's columns and
 * options. Hooks: the sock:inet_sock_set_state tracepoint (CLOSE ->
 * SYN_SENT, in the connecting task) and the exits of connect, sendto and
 * sendmsg (bcc: kprobes on tcp_v4_connect/tcp_v6_connect and their returns).
 */
import { type BPF, NotSupportedError, type RingBuf, type Table } from "../src/index.js";
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
import { hasTracepoint, type Tool } from "./lib/runtime.js";
import { parseUid } from "./lib/users.js";

interface ConnectEvent {
  saddr: number[];
  daddr: number[];
  ts_us: bigint;
  pid: number;
  uid: number;
  lport: number;
  dport: number;
  family: number;
  comm: string;
}

interface FlowKey {
  saddr: number[];
  daddr: number[];
  dport: number;
  family: number;
}

const TRACEPOINTS: Array<[string, string]> = [
  ["sock:inet_sock_set_state", "on_state"],
  ["syscalls:sys_exit_connect", "connect_exit"],
  ["syscalls:sys_exit_sendto", "sendto_exit"],
  ["syscalls:sys_exit_sendmsg", "sendmsg_exit"],
];

export const tool: Tool = {
  name: "tcpconnect",
  summary: "Trace TCP connects",
  options: [
    { short: "t", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    {
      short: "P",
      long: "port",
      type: "string",
      metavar: "PORT",
      help: "comma-separated list of destination ports to trace.",
    },
    { short: "4", long: "ipv4", type: "flag", help: "trace IPv4 family only" },
    { short: "6", long: "ipv6", type: "flag", help: "trace IPv6 family only" },
    { short: "L", long: "lport", type: "flag", help: "include LPORT on output" },
    { short: "U", long: "print-uid", type: "flag", help: "include UID on output" },
    { short: "u", long: "uid", type: "string", help: "trace this UID only" },
    { short: "c", long: "count", type: "flag", help: "count connects per src ip and dest ip/port" },
    {
      short: "d",
      long: "dns",
      type: "flag",
      help: "include likely DNS query associated with each connect (needs kprobes)",
    },
    ...PINNED_MAP_OPTIONS,
  ],
  examples: [
    "tsbpf tcpconnect           # trace all TCP connect()s",
    "tsbpf tcpconnect -t        # include timestamps",
    "tsbpf tcpconnect -p 181    # only trace PID 181",
    "tsbpf tcpconnect -P 80     # only trace port 80",
    "tsbpf tcpconnect -P 80,81  # only trace port 80 and 81",
    "tsbpf tcpconnect -4        # only trace IPv4 family",
    "tsbpf tcpconnect -6        # only trace IPv6 family",
    "tsbpf tcpconnect -U        # include UID",
    "tsbpf tcpconnect -u 1000   # only trace UID 1000",
    "tsbpf tcpconnect -c        # count connects per src ip and dest ip/port",
    "tsbpf tcpconnect -L        # include LPORT while printing outputs",
    "tsbpf tcpconnect --cgroup /sys/fs/cgroup/app  # only trace this cgroup",
  ],
  jsonFields: ["time", "pid", "comm", "uid", "ip", "saddr", "lport", "daddr", "dport"],
  hookNote: () =>
    "tracepoint sock:inet_sock_set_state (CLOSE->SYN_SENT) with the connect/sendto/sendmsg syscall exits " +
    "(bcc: kprobes on tcp_v4_connect/tcp_v6_connect): the same connections, reported when the system call returns",
  hooks: () =>
    TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
      .map(([tp]) => tp)
      .join(", "),

  async run(ctx) {
    const a = ctx.args;
    rejectPinnedMaps(a);
    if (a.flag("ipv4") && a.flag("ipv6"))
      throw new UsageError("-4/--ipv4 and -6/--ipv6 cannot be used together");
    if (a.flag("dns")) {
      if (a.flag("count")) throw new UsageError("you may not specify -d/--dns with -c/--count.");
      throw new NotSupportedError(
        "tcpconnect -d/--dns",
        "it reads DNS replies with kprobes on udp_recvmsg and udpv6_queue_rcv_one_skb, and tsbpf's tcpconnect uses no kprobes",
        "resolve the DADDR column with a resolver of your own",
      );
    }
    const ports = parsePorts(a.str("port"), "-P/--port");
    const uidText = a.str("uid");
    const count = a.flag("count");
    const b: BPF = await ctx.open({
      rodata: {
        targ_tgid: a.num("pid") ?? 0,
        targ_uid: uidText === undefined ? 0xffffffff : parseUid(uidText),
        targ_family: a.flag("ipv4") ? AF_INET : a.flag("ipv6") ? AF_INET6 : 0,
        n_ports: ports.length,
        targ_ports: portArray(ports),
        do_count: count,
      },
    });
    ctx.attachTracepoints(b, TRACEPOINTS);
    const out = ctx.out;
    out.line("Tracing connect ... Hit Ctrl-C to end");

    if (count) {
      await ctx.done();
      const rows: Array<{ key: FlowKey; n: number }> = [];
      for (const [k, v] of b.getTable<Table>("counts").items())
        rows.push({ key: k as FlowKey, n: Number(v as bigint) });
      rows.sort((x, y) => y.n - x.n);
      // bcc prints IPv4 flows first, then IPv6, each by count
      rows.sort((x, y) => ipVersion(x.key.family) - ipVersion(y.key.family));
      out.printf("\n%-25s %-25s %-20s %-10s", "LADDR", "RADDR", "RPORT", "CONNECTS");
      for (const { key, n } of rows) {
        const saddr = formatAddr(key.family, key.saddr);
        const daddr = formatAddr(key.family, key.daddr);
        out.printf("%-25s %-25s %-20s %-10d", saddr, daddr, key.dport, n);
        out.record({ saddr, daddr, dport: key.dport, connects: n });
      }
      return;
    }

    let header = "";
    if (a.flag("timestamp")) header += "TIME(s)".padEnd(9);
    if (a.flag("print-uid")) header += "UID".padEnd(6);
    if (a.flag("lport"))
      out.printf(
        `${header}%-7s %-12s %-2s %-16s %-6s %-16s %-6s`,
        "PID",
        "COMM",
        "IP",
        "SADDR",
        "LPORT",
        "DADDR",
        "DPORT",
      );
    else
      out.printf(`${header}%-7s %-12s %-2s %-16s %-16s %-6s`, "PID", "COMM", "IP", "SADDR", "DADDR", "DPORT");
    let startTs: bigint | undefined;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as ConnectEvent;
      const saddr = formatAddr(e.family, e.saddr);
      const daddr = formatAddr(e.family, e.daddr);
      const ip = ipVersion(e.family);
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          pid: e.pid,
          comm: e.comm,
          uid: e.uid,
          ip,
          saddr,
          lport: e.lport,
          daddr,
          dport: e.dport,
        });
        return;
      }
      let row = "";
      if (a.flag("timestamp")) {
        startTs ??= e.ts_us;
        row += `${(Number(e.ts_us - startTs) / 1e6).toFixed(3)}`.padEnd(9);
      }
      if (a.flag("print-uid")) row += String(e.uid).padEnd(6);
      if (a.flag("lport"))
        out.printf(
          `%s%-7d %-12.12s %-2d %-16s %-6d %-16s %-6d`,
          row,
          e.pid,
          e.comm,
          ip,
          saddr,
          e.lport,
          daddr,
          e.dport,
        );
      else out.printf(`%s%-7d %-12.12s %-2d %-16s %-16s %-6d`, row, e.pid, e.comm, ip, saddr, daddr, e.dport);
    });
    await ctx.done();
  },
};
