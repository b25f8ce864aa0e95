/**
 * tcpretrans: trace TCP retransmits, bcc's columns and options. Hook: the
 * tcp:tcp_retransmit_skb tracepoint (as bcc's tcpretrans uses where the
 * kernel has it); bcc's -l (tail loss probes) hooks tcp_send_loss_probe,
 * which has no tracepoint, with a kprobe or fentry.
 */
import type { BPF, RingBuf, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { attachFirstHook, HOOK_OPTION, hookCandidates } from "./lib/hooks.js";
import { AF_INET, AF_INET6, formatAddr, ipVersion, tcpStateName } from "./lib/net.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

interface RetransEvent {
  saddr: number[];
  daddr: number[];
  pid: number;
  seq: number;
  lport: number;
  dport: number;
  family: number;
  state: number;
  type: number;
}

interface FlowKey {
  saddr: number[];
  daddr: number[];
  lport: number;
  dport: number;
  family: number;
}

const TYPES: Record<number, string> = { 1: "R", 2: "L" };

export const tool: Tool = {
  name: "tcpretrans",
  summary: "Trace TCP retransmits",
  prometheus: true,
  options: [
    { short: "s", long: "sequence", type: "flag", help: "display TCP sequence numbers" },
    {
      short: "l",
      long: "lossprobe",
      type: "flag",
      help: "include tail loss probe attempts (needs kprobes or fentry)",
    },
    { short: "c", long: "count", type: "flag", help: "count occurred retransmits per flow" },
    { short: "4", long: "ipv4", type: "flag", help: "trace IPv4 family only" },
    { short: "6", long: "ipv6", type: "flag", help: "trace IPv6 family only" },
    {
      ...HOOK_OPTION,
      help: "how -l hooks tcp_send_loss_probe: auto (default: kprobe, else fentry), kprobe or fentry",
    },
  ],
  examples: [
    "tsbpf tcpretrans           # trace TCP retransmits",
    "tsbpf tcpretrans -c        # count occurred retransmits per flow",
    "tsbpf tcpretrans -4        # trace IPv4 family only",
    "tsbpf tcpretrans -6        # trace IPv6 family only",
  ],
  jsonFields: ["time", "pid", "ip", "laddr", "lport", "raddr", "rport", "type", "state", "seq"],
  hooks: () => "tcp:tcp_retransmit_skb (-l: kprobe or fentry tcp_send_loss_probe)",

  async run(ctx) {
    const a = ctx.args;
    if (a.flag("ipv4") && a.flag("ipv6"))
      throw new UsageError("-4/--ipv4 and -6/--ipv6 cannot be used together");
    if (a.cgroup !== undefined)
      throw new UsageError(
        "--cgroup: retransmits are sent from timers and softirqs, not by a task of the cgroup",
      );
    // tail loss probes have no tracepoint: only a hook on tcp_send_loss_probe() sees them
    const lossprobe = a.flag("lossprobe")
      ? hookCandidates("tcpretrans -l", a.str("hook"), {
          functions: ["tcp_send_loss_probe"],
          tracepoint: false,
          tracepointPartial: false,
        })
      : undefined;
    const count = a.flag("count");
    const b: BPF = await ctx.open({
      rodata: {
        targ_family: a.flag("ipv4") ? AF_INET : a.flag("ipv6") ? AF_INET6 : 0,
        do_count: count,
      },
    });
    if (lossprobe) {
      attachFirstHook(
        lossprobe,
        (kind) => {
          if (kind === "kprobe") b.attachKprobe({ event: "tcp_send_loss_probe", fnName: "tlp_kprobe" });
          else b.attachKfunc({ fnName: "tlp_fentry", target: "tcp_send_loss_probe" });
        },
        {
          feature: "tcpretrans -l/--lossprobe",
          alternative: "run without -l to see the retransmits themselves",
        },
      );
    }
    b.attachTracepoint({ tp: "tcp:tcp_retransmit_skb", fnName: "on_retransmit" });
    const out = ctx.out;
    out.line("Tracing retransmits ... Hit Ctrl-C to end");

    if (count) {
      // labels: [laddr, lport, raddr, rport, family]; the addresses' text depends on the family
      const addr = (hex: string, all: readonly string[]): string =>
        formatAddr(Number(all[4]), Buffer.from(hex, "hex"));
      ctx.exportMetrics(b, [
        {
          type: "counter",
          name: "tcpretrans_retransmits_total",
          help: "TCP retransmits by flow",
          table: "counts",
          labels: [
            { name: "laddr", field: "saddr", decoders: [{ name: "hex" }], format: addr },
            { name: "lport", field: "lport" },
            { name: "raddr", field: "daddr", decoders: [{ name: "hex" }], format: addr },
            { name: "rport", field: "dport" },
            { name: "family", field: "family", format: (f) => (Number(f) === AF_INET6 ? "ipv6" : "ipv4") },
          ],
        },
      ]);
      await ctx.done();
      if (ctx.servingMetrics) return;
      const rows: Array<{ key: FlowKey; n: number }> = [];
      for (const [k, v] of b.getTable<Table>("counts").items())
        rows.push({ key: k as FlowKey, n: Number(v as bigint) });
      // bcc: IPv4 flows then IPv6, each by count, ascending
      rows.sort((x, y) => ipVersion(x.key.family) - ipVersion(y.key.family) || x.n - y.n);
      out.printf("\n%-25s %-25s %-10s", "LADDR:LPORT", "RADDR:RPORT", "RETRANSMITS");
      for (const { key, n } of rows) {
        const laddr = formatAddr(key.family, key.saddr);
        const raddr = formatAddr(key.family, key.daddr);
        out.printf("%-20s <-> %-20s %10d", `[${laddr}]#${key.lport}`, `[${raddr}]#${key.dport}`, n);
        out.record({ laddr, lport: key.lport, raddr, rport: key.dport, retransmits: n });
      }
      return;
    }

    const seqs = a.flag("sequence");
    out.printf(
      seqs ? "%-8s %-7s %-2s %-20s %1s> %-20s %-12s %-10s" : "%-8s %-7s %-2s %-20s %1s> %-20s %-4s",
      "TIME",
      "PID",
      "IP",
      "LADDR:LPORT",
      "T",
      "RADDR:RPORT",
      "STATE",
      ...(seqs ? ["SEQ"] : []),
    );
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as RetransEvent;
      const laddr = formatAddr(e.family, e.saddr);
      const raddr = formatAddr(e.family, e.daddr);
      const state = tcpStateName(e.state);
      const type = TYPES[e.type] ?? "?";
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          pid: e.pid,
          ip: ipVersion(e.family),
          laddr,
          lport: e.lport,
          raddr,
          rport: e.dport,
          type,
          state,
          seq: e.seq,
        });
        return;
      }
      const head = [hms(), e.pid, ipVersion(e.family), `${laddr}:${e.lport}`, type, `${raddr}:${e.dport}`];
      if (seqs) out.printf("%-8s %-7d %-2d %-20s %1s> %-20s %-12s %s", ...head, state, e.seq);
      else out.printf("%-8s %-7d %-2d %-20s %1s> %-20s %s", ...head, state);
    });
    await ctx.done();
  },
};
