import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { attachFirstHook, describeHooks, HOOK_OPTION, type HookOffer, hookCandidates } from "./lib/hooks.js";
import { AF_INET, AF_INET6, formatAddr, PINNED_MAP_OPTIONS, rejectPinnedMaps } from "./lib/net.js";
import { hms } from "./lib/output.js";
import { loadavg } from "./lib/proc.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface FlowKey {
  saddr: number[];
  daddr: number[];
  pid: number;
  name: string;
  lport: number;
  dport: number;
  family: number;
}

interface FlowBytes {
  sent: bigint;
  received: bigint;
}

const offer = (): HookOffer => ({
  functions: ["tcp_sendmsg", "tcp_cleanup_rbuf"],
  tracepoint: hasTracepoint("sock:sock_send_length") && hasTracepoint("sock:sock_recv_length"),
  tracepointPartial: false,
});

/** What `clear` writes on a terminal: cursor home, erase the screen and the scrollback. */
const CLEAR = "\x1b[H\x1b[2J\x1b[3J";

/** The map's bound: at most this many (process, connection) series a metric. */
const MAX_ENTRIES = 10240;

export const tool: Tool = {
  name: "tcptop",
  summary: "Summarize TCP send/recv throughput by host",
  prometheus: true,
  options: [
    { short: "C", long: "noclear", type: "flag", help: "don't clear the screen" },
    { short: "S", long: "nosummary", type: "flag", help: "skip system summary line" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "4", long: "ipv4", type: "flag", help: "trace IPv4 family only" },
    { short: "6", long: "ipv6", type: "flag", help: "trace IPv6 family only" },
    ...PINNED_MAP_OPTIONS,
    HOOK_OPTION,
  ],
  positionals: [
    { name: "interval", type: "int", help: "output interval, in seconds (default 1)" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf tcptop           # trace TCP send/recv by host",
    "tsbpf tcptop -C        # don't clear the screen",
    "tsbpf tcptop -p 181    # only trace PID 181",
    "tsbpf tcptop -4        # trace IPv4 family only",
    "tsbpf tcptop -6        # trace IPv6 family only",
    "tsbpf tcptop --json 5  # one JSON object per connection every 5 s",
    `tsbpf tcptop --prometheus 9100  # counters since start by pid, comm, laddr, lport, raddr, rport, family: tsbpf_tcptop_{sent,received}_bytes_total; at most ${MAX_ENTRIES} (process, connection) series, later ones not counted`,
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
    "rx_kb",
    "tx_kb",
    "rx_bytes",
    "tx_bytes",
  ],
  hooks: () =>
    describeHooks(offer(), {
      kprobe: "kprobe + kretprobe tcp_sendmsg, kprobe tcp_cleanup_rbuf",
      tracepoint: "raw_tp/sock_send_length, raw_tp/sock_recv_length (Linux 6.3+)",
    }),

  async run(ctx) {
    const a = ctx.args;
    rejectPinnedMaps(a);
    if (a.flag("ipv4") && a.flag("ipv6"))
      throw new UsageError("-4/--ipv4 and -6/--ipv6 cannot be used together");
    const interval = a.num("interval") ?? 1;
    const count = a.num("count");
    if (interval < 1) throw new UsageError("interval: must be a positive integer");
    if (count !== undefined && count < 1) throw new UsageError("count: must be a positive integer");
    const candidates = hookCandidates("tcptop", a.str("hook"), offer());
    const b: BPF = await ctx.open({
      rodata: {
        targ_tgid: a.num("pid") ?? 0,
        targ_family: a.flag("ipv4") ? AF_INET : a.flag("ipv6") ? AF_INET6 : 0,
      },
    });
    const hook = attachFirstHook(candidates, (kind) => {
      if (kind === "kprobe") {
        b.attachKprobe({ event: "tcp_sendmsg", fnName: "tcp_sendmsg_entry" });
        b.attachKretprobe({ event: "tcp_sendmsg", fnName: "tcp_sendmsg_return" });
        b.attachKprobe({ event: "tcp_cleanup_rbuf", fnName: "tcp_cleanup_rbuf_kprobe" });
      } else if (kind === "fentry") {
        b.attachKretfunc({ fnName: "tcp_sendmsg_fexit", target: "tcp_sendmsg" });
        b.attachKfunc({ fnName: "tcp_cleanup_rbuf_fentry", target: "tcp_cleanup_rbuf" });
      } else {
        ctx.attachRawTracepoints(b, [
          ["sock_send_length", "on_send"],
          ["sock_recv_length", "on_recv"],
        ]);
      }
    });
    if (hook === "tracepoint") {
      ctx.note(
        "raw tracepoints sock_send_length/sock_recv_length (bcc: kprobes on tcp_sendmsg and tcp_cleanup_rbuf): " +
          "bytes as the system calls return them, in the calling process",
      );
    }
    const flows = b.getTable<Table>("flows");
    // labels: [pid, comm, laddr, lport, raddr, rport, family]; the addresses' text depends on the family
    const addr = (hex: string, all: readonly string[]): string =>
      formatAddr(Number(all[6]), Buffer.from(hex, "hex"));
    const labels = [
      { name: "pid", field: "pid" },
      { name: "comm", field: "name" },
      { name: "laddr", field: "saddr", decoders: [{ name: "hex" }], format: addr },
      { name: "lport", field: "lport" },
      { name: "raddr", field: "daddr", decoders: [{ name: "hex" }], format: addr },
      { name: "rport", field: "dport" },
      { name: "family", field: "family", format: (f: string) => (Number(f) === AF_INET6 ? "ipv6" : "ipv4") },
    ];
    const bytesHelp = hook === "tracepoint" ? "as the system calls return them" : "as TCP counts them";
    ctx.exportMetrics(b, [
      {
        type: "counter",
        name: "tcptop_sent_bytes_total",
        help: `TCP bytes sent (${bytesHelp}), by process and connection`,
        table: "flows",
        labels,
        valueField: "sent",
      },
      {
        type: "counter",
        name: "tcptop_received_bytes_total",
        help: `TCP bytes received (${bytesHelp}), by process and connection`,
        table: "flows",
        labels,
        valueField: "received",
      },
    ]);
    const out = ctx.out;
    if (!ctx.servingMetrics) out.line(`Tracing... Output every ${interval} secs. Hit Ctrl-C to end`);
    await ctx.intervals(interval, count, () => {
      if (a.flag("noclear")) out.line("");
      else out.text(CLEAR);
      if (!a.flag("nosummary")) {
        const load = loadavg() ?? "?\n";
        out.printf("%-8s loadavg: %s", hms(), load);
      }
      const rows: Array<{ k: FlowKey; v: FlowBytes }> = [];
      for (const [k, v] of flows.items()) rows.push({ k: k as FlowKey, v: v as FlowBytes });
      flows.clear();
      const time = new Date().toISOString();
      for (const six of [false, true]) {
        const mine = rows
          .filter(({ k }) => (k.family === AF_INET6) === six)
          .sort((x, y) => Number(y.v.sent + y.v.received - (x.v.sent + x.v.received)));
        if (mine.length === 0) continue;
        if (six)
          out.printf("\n%-7s %-12s %-32s %-32s %6s %6s", "PID", "COMM", "LADDR6", "RADDR6", "RX_KB", "TX_KB");
        else out.printf("%-7s %-12s %-21s %-21s %6s %6s", "PID", "COMM", "LADDR", "RADDR", "RX_KB", "TX_KB");
        for (const { k, v } of mine) {
          const laddr = formatAddr(k.family, k.saddr);
          const raddr = formatAddr(k.family, k.daddr);
          const rxKb = Number(v.received / 1024n);
          const txKb = Number(v.sent / 1024n);
          out.printf(
            six ? "%-7d %-12.12s %-32s %-32s %6d %6d" : "%-7d %-12.12s %-21s %-21s %6d %6d",
            k.pid,
            k.name,
            `${laddr}:${k.lport}`,
            `${raddr}:${k.dport}`,
            rxKb,
            txKb,
          );
          out.record({
            time,
            pid: k.pid,
            comm: k.name,
            ip: six ? 6 : 4,
            laddr,
            lport: k.lport,
            raddr,
            rport: k.dport,
            rx_kb: rxKb,
            tx_kb: txKb,
            rx_bytes: v.received,
            tx_bytes: v.sent,
          });
        }
      }
    });
  },
};
