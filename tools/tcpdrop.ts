/**
 * tcpdrop: trace TCP packets the kernel drops, with the kernel stack of the
 * drop, bcc's columns. Hook: the skb:kfree_skb tracepoint (raw), with its
 * drop reason (bcc: a kprobe on tcp_drop, or the same tracepoint where
 * tcp_drop is gone).
 */

import type { BtfEnum, BtfEnum64 } from "../src/btf/btf.js";
import type { BPF, RingBuf, StackTrace } from "../src/index.js";
import { kernelBtf } from "../src/kernel/kernel_btf.js";
import { UsageError } from "./lib/args.js";
import { AF_INET, AF_INET6, formatAddr, ipVersion, tcpFlags, tcpStateName } from "./lib/net.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

interface DropEvent {
  saddr: number[];
  daddr: number[];
  pid: number;
  reason: number;
  stack_id: number;
  sport: number;
  dport: number;
  family: number;
  state: number;
  tcpflags: number;
}

/** The names of the kernel's drop reasons (enum skb_drop_reason, without its SKB_DROP_REASON_ prefix). */
function dropReasons(): Map<number, string> {
  const names = new Map<number, string>();
  const btf = kernelBtf();
  for (const id of [
    ...btf.findAllByName("skb_drop_reason", "ENUM"),
    ...btf.findAllByName("skb_drop_reason", "ENUM64"),
  ]) {
    for (const v of (btf.type(id) as BtfEnum | BtfEnum64).values)
      names.set(Number(v.value), v.name.replace(/^SKB_DROP_REASON_/, ""));
  }
  return names;
}

export const tool: Tool = {
  name: "tcpdrop",
  summary: "Trace TCP kernel-dropped packets/segments",
  options: [
    { short: "4", long: "ipv4", type: "flag", help: "trace IPv4 family only" },
    { short: "6", long: "ipv6", type: "flag", help: "trace IPv6 family only" },
  ],
  examples: [
    "tsbpf tcpdrop           # trace kernel TCP drops",
    "tsbpf tcpdrop -4        # trace IPv4 family only",
    "tsbpf tcpdrop -6        # trace IPv6 family only",
    "tsbpf tcpdrop --json    # one JSON object per drop, with its reason and stack",
  ],
  jsonFields: ["time", "pid", "ip", "saddr", "sport", "daddr", "dport", "state", "flags", "reason", "stack"],
  hookNote: () =>
    "tracepoint skb:kfree_skb with its drop reason (bcc: a kprobe on tcp_drop where the kernel has it): " +
    "addresses from the packet, so drops with no socket (STATE -) are shown too",
  hooks: () => "raw_tp/kfree_skb",

  async run(ctx) {
    const a = ctx.args;
    if (a.flag("ipv4") && a.flag("ipv6"))
      throw new UsageError("-4/--ipv4 and -6/--ipv6 cannot be used together");
    if (a.cgroup !== undefined)
      throw new UsageError("--cgroup: packets are dropped in softirq context, not by a task of the cgroup");
    const reasons = dropReasons();
    const b: BPF = await ctx.open({
      rodata: { targ_family: a.flag("ipv4") ? AF_INET : a.flag("ipv6") ? AF_INET6 : 0 },
    });
    b.attachRawTracepoint({ tp: "kfree_skb", fnName: "on_kfree_skb" });
    const out = ctx.out;
    const stacks = b.getTable<StackTrace>("stack_traces");
    out.printf(
      "%-8s %-7s %-2s %-20s > %-20s %s (%s)",
      "TIME",
      "PID",
      "IP",
      "SADDR:SPORT",
      "DADDR:DPORT",
      "STATE",
      "FLAGS",
    );
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as DropEvent;
      const saddr = formatAddr(e.family, e.saddr);
      const daddr = formatAddr(e.family, e.daddr);
      const state = e.state === 0 ? undefined : tcpStateName(e.state);
      let stack: string[] = [];
      if (e.stack_id >= 0) {
        try {
          stack = stacks.walk(e.stack_id, (ip) => b.ksym(ip, { showOffset: true }));
          // the frames of the BPF program and the tracepoint's runner come first
          while (stack.length > 0 && /^(bpf_prog_|bpf_trace_run)/.test(stack[0] as string)) stack.shift();
        } catch {
          stack = [];
        }
      }
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          pid: e.pid,
          ip: ipVersion(e.family),
          saddr,
          sport: e.sport,
          daddr,
          dport: e.dport,
          state: state ?? null,
          flags: tcpFlags(e.tcpflags),
          reason: reasons.get(e.reason) ?? e.reason,
          stack,
        });
        return;
      }
      out.printf(
        "%-8s %-7d %-2d %-20s > %-20s %s (%s)",
        hms(),
        e.pid,
        ipVersion(e.family),
        `${saddr}:${e.sport}`,
        `${daddr}:${e.dport}`,
        state ?? "-",
        tcpFlags(e.tcpflags),
      );
      for (const f of stack) out.line(`\t${f}`);
      out.line("");
    });
    await ctx.done();
  },
};
