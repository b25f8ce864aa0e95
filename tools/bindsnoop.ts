/**
 * bindsnoop: trace bind() on IPv4 and IPv6 sockets, bcc's columns and
 * options. Hooks: the syscalls:sys_{enter,exit}_bind tracepoints; the socket
 * is found from the fd through the task's file table (bcc: kprobes on
 * inet_bind and inet6_bind).
 */
import { getSystemErrorMap } from "node:util";
import type { BPF, RingBuf, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { formatAddr, protoName } from "./lib/net.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";
import { parseUid } from "./lib/users.js";

interface BindEvent {
  addr: number[];
  ts_us: bigint;
  pid: number;
  uid: number;
  bound_dev_if: number;
  ret: number;
  family: number;
  port: number;
  protocol: number;
  opts: number;
  comm: string;
}

const TRACEPOINTS: Array<[string, string]> = [
  ["syscalls:sys_enter_bind", "bind_enter"],
  ["syscalls:sys_exit_bind", "bind_exit"],
];

/** bcc's opts2str: F T N R r, or "." for each option not set. */
export function optsText(bits: number): string {
  return [..."FTNRr"].map((c, i) => (bits & (1 << i) ? c : ".")).join("");
}

export const tool: Tool = {
  name: "bindsnoop",
  summary: "Trace TCP binds",
  options: [
    { short: "t", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "w", long: "wide", type: "flag", help: "wide column output (fits IPv6 addresses)" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "P", long: "port", type: "string", help: "comma-separated list of ports to trace." },
    { short: "E", long: "errors", type: "flag", help: "include errors in the output." },
    { short: "U", long: "print-uid", type: "flag", help: "include UID on output" },
    { short: "u", long: "uid", type: "string", help: "trace this UID only" },
    { long: "count", type: "flag", help: "count binds per src ip and port" },
  ],
  examples: [
    "tsbpf bindsnoop           # trace all TCP bind()s",
    "tsbpf bindsnoop -t        # include timestamps",
    "tsbpf bindsnoop -w        # wider columns (fit IPv6)",
    "tsbpf bindsnoop -p 181    # only trace PID 181",
    "tsbpf bindsnoop -P 80     # only trace port 80",
    "tsbpf bindsnoop -P 80,81  # only trace port 80 and 81",
    "tsbpf bindsnoop -U        # include UID",
    "tsbpf bindsnoop -u 1000   # only trace UID 1000",
    "tsbpf bindsnoop -E        # report bind errors",
    "tsbpf bindsnoop --count   # count bind per src ip",
    "",
    "OPTS: socket options set before the bind call that change its behaviour:",
    " SOL_IP     IP_FREEBIND              F....",
    " SOL_IP     IP_TRANSPARENT           .T...",
    " SOL_IP     IP_BIND_ADDRESS_NO_PORT  ..N..",
    " SOL_SOCKET SO_REUSEADDR             ...R.",
    " SOL_SOCKET SO_REUSEPORT             ....r",
    ' SO_BINDTODEVICE interface is reported as "IF" index',
  ],
  jsonFields: ["time", "ts", "pid", "uid", "comm", "ret", "protocol", "family", "addr", "port", "opts", "if"],
  hookNote: () =>
    "syscall tracepoints (bcc: kprobes on inet_bind and inet6_bind): the socket from the fd; a failed bind (-E) shows the address asked for",
  hooks: () =>
    TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
      .map(([tp]) => tp)
      .join(", "),

  async run(ctx) {
    const a = ctx.args;
    const portList = (a.str("port") ?? "")
      .split(",")
      .filter((p) => p !== "")
      .map((p) => {
        if (!/^\d+$/.test(p) || Number(p) > 65535) throw new UsageError(`-P/--port: not a port: ${p}`);
        return Number(p);
      });
    const uidText = a.str("uid");
    const b: BPF = await ctx.open({
      rodata: {
        targ_pid: a.num("pid") ?? 0,
        targ_uid: uidText === undefined ? 0xffffffff : parseUid(uidText),
        filter_port: portList.length > 0,
        ignore_errors: !a.flag("errors"),
      },
    });
    const ports = b.getTable<Table>("ports");
    for (const p of portList) ports.set(p, 1);
    ctx.attachTracepoints(b, TRACEPOINTS);
    const out = ctx.out;
    const wide = a.flag("wide");
    const headerFmt = wide ? "%10s %-12.12s %-4s %-39s %-5s %5s %2s" : "%8s %-12.12s %-4s %-15s %-5s %5s %2s";
    const rowFmt = wide
      ? "%10d %-12.12s %-4s %-39s %5d %-5s %2d"
      : "%8d %-12.12s %-4.4s %-15.15s %5d %-5s %2d";
    const counting = a.flag("count");
    out.line("Tracing binds ... Hit Ctrl-C to end");
    if (!counting) {
      let h = "";
      if (a.flag("timestamp")) h += `${"TIME(s)".padEnd(9)} `;
      if (a.flag("print-uid")) h += `${"UID".padStart(6)} `;
      if (a.flag("errors")) h += wide ? `${"RC".padEnd(25)} ` : `${"RC".padStart(3)} `;
      out.printf(`${h}${headerFmt}`, "PID", "COMM", "PROT", "ADDR", "PORT", "OPTS", "IF");
    }
    const counts = new Map<string, { addr: string; port: number; n: number }>();
    let start: bigint | undefined;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as BindEvent;
      const addr = formatAddr(e.family, e.addr);
      if (counting) {
        const k = `${addr} ${e.port}`;
        const c = counts.get(k) ?? { addr, port: e.port, n: 0 };
        c.n++;
        counts.set(k, c);
        return;
      }
      start ??= e.ts_us;
      const ts = Number(e.ts_us - start) / 1e6;
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          ts,
          pid: e.pid,
          uid: e.uid,
          comm: e.comm,
          ret: e.ret,
          protocol: protoName(e.protocol),
          family: e.family === 2 ? "ipv4" : "ipv6",
          addr,
          port: e.port,
          opts: optsText(e.opts),
          if: e.bound_dev_if,
        });
        return;
      }
      let row = "";
      if (a.flag("timestamp")) row += `${ts.toFixed(6).padEnd(9)} `;
      if (a.flag("print-uid")) row += `${String(e.uid).padStart(6)} `;
      if (a.flag("errors")) {
        // -w: the error's text (libuv's wording of strerror)
        const rc = wide
          ? e.ret
            ? (getSystemErrorMap().get(e.ret)?.[1] ?? String(e.ret))
            : "Success"
          : String(e.ret);
        row += wide ? `${rc.padEnd(25)} ` : `${rc.padStart(3)} `;
      }
      out.printf(
        `%s${rowFmt}`,
        row,
        e.pid,
        e.comm,
        protoName(e.protocol),
        addr,
        e.port,
        optsText(e.opts),
        e.bound_dev_if,
      );
    });
    await ctx.done();
    if (counting) {
      const rows = [...counts.values()].sort((x, y) => y.n - x.n);
      if (out.json) {
        for (const r of rows) out.record({ addr: r.addr, port: r.port, binds: r.n });
        return;
      }
      out.printf("\n%-32s %20s     %-10s", "LADDR", "LPORT", "BINDS");
      for (const r of rows) out.printf("%-32s %20s     %-10d", r.addr, r.port, r.n);
    }
  },
};
