/**
 * tcprtt: summarize TCP round-trip time (srtt) as a histogram, bcc's output
 * and options. Hook: the tcp_probe raw tracepoint, fired by
 * tcp_rcv_established for each segment received (bcc: a kprobe on
 * tcp_rcv_established).
 */
import { endianness } from "node:os";
import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { printHist } from "./lib/hist.js";
import { histMetric } from "./lib/metrics.js";
import { AF_INET, AF_INET6, ipv4 } from "./lib/net.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

const LE = endianness() === "LE";

/** An IPv4 address as the u32 the kernel holds it in (network byte order in memory). */
function addrU32(text: string, option: string): number {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  const bytes = m ? m.slice(1).map(Number) : [];
  if (bytes.length !== 4 || bytes.some((b) => b > 255))
    throw new UsageError(`${option}: '${text}' is not an IPv4 address`);
  const buf = Buffer.from(bytes);
  return LE ? buf.readUInt32LE(0) : buf.readUInt32BE(0);
}

/** The text of an address u32 from addrU32's form. */
function u32Addr(n: number): string {
  const buf = Buffer.alloc(4);
  if (LE) buf.writeUInt32LE(n >>> 0);
  else buf.writeUInt32BE(n >>> 0);
  return ipv4(buf);
}

function port(text: string | undefined, option: string): number {
  if (text === undefined) return 0;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new UsageError(`${option}: '${text}' is not a port`);
  return n;
}

export const tool: Tool = {
  name: "tcprtt",
  summary: "Summarize TCP RTT as a histogram",
  prometheus: true,
  options: [
    { short: "i", long: "interval", type: "float", help: "summary interval, seconds" },
    { short: "d", long: "duration", type: "float", help: "total duration of trace, seconds" },
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "m", long: "milliseconds", type: "flag", help: "millisecond histogram" },
    { short: "p", long: "lport", type: "string", help: "filter for local port" },
    { short: "P", long: "rport", type: "string", help: "filter for remote port" },
    { short: "a", long: "laddr", type: "string", help: "filter for local address" },
    { short: "A", long: "raddr", type: "string", help: "filter for remote address" },
    { short: "b", long: "byladdr", type: "flag", help: "show sockets histogram by local address" },
    { short: "B", long: "byraddr", type: "flag", help: "show sockets histogram by remote address" },
    { short: "e", long: "extension", type: "flag", help: "show extension summary(average)" },
    {
      short: "D",
      long: "debug",
      type: "flag",
      help: "print BPF program before starting (here: where its source is)",
    },
    { short: "4", long: "ipv4", type: "flag", help: "trace IPv4 family only" },
    { short: "6", long: "ipv6", type: "flag", help: "trace IPv6 family only" },
  ],
  examples: [
    "tsbpf tcprtt            # summarize TCP RTT",
    "tsbpf tcprtt -i 1 -d 10 # print 1 second summaries, 10 times",
    "tsbpf tcprtt -m -T      # summarize in millisecond, and timestamps",
    "tsbpf tcprtt -p         # filter for local port",
    "tsbpf tcprtt -P         # filter for remote port",
    "tsbpf tcprtt -a         # filter for local address",
    "tsbpf tcprtt -A         # filter for remote address",
    "tsbpf tcprtt -b         # show sockets histogram by local address",
    "tsbpf tcprtt -B         # show sockets histogram by remote address",
    "tsbpf tcprtt -e         # show extension summary(average)",
    "tsbpf tcprtt -4         # trace only IPv4 family",
    "tsbpf tcprtt -6         # trace only IPv6 family",
  ],
  jsonFields: ["ts", "val_type", "data", "addr"],
  hookNote: () =>
    "raw tracepoint tcp_probe, fired by tcp_rcv_established (bcc: a kprobe on tcp_rcv_established): the same segments",
  hooks: () => "raw_tp/tcp_probe",

  async run(ctx) {
    const a = ctx.args;
    if (a.flag("ipv4") && a.flag("ipv6"))
      throw new UsageError("-4/--ipv4 and -6/--ipv6 cannot be used together");
    if (a.flag("byladdr") && a.flag("byraddr")) throw new UsageError("-b and -B cannot be used together");
    if (a.cgroup !== undefined)
      throw new UsageError("--cgroup: segments are received in softirq context, not by a task of the cgroup");
    if (a.flag("debug")) ctx.note("the BPF program is prebuilt from tools/tcprtt.bpf.c");
    const laddr = a.str("laddr");
    const raddr = a.str("raddr");
    const b: BPF = await ctx.open({
      rodata: {
        targ_lport: port(a.str("lport"), "-p/--lport"),
        targ_rport: port(a.str("rport"), "-P/--rport"),
        targ_laddr: laddr === undefined ? 0 : addrU32(laddr, "-a/--laddr"),
        targ_raddr: raddr === undefined ? 0 : addrU32(raddr, "-A/--raddr"),
        targ_family: a.flag("ipv4") ? AF_INET : a.flag("ipv6") ? AF_INET6 : 0,
        milliseconds: a.flag("milliseconds"),
        by_laddr: a.flag("byladdr"),
        by_raddr: a.flag("byraddr"),
        extension: a.flag("extension"),
      },
    });
    b.attachRawTracepoint({ tp: "tcp_probe", fnName: "on_tcp_probe" });
    const hists = b.getTable<Table>("hists");
    const latency = b.getTable<Table>("latency");
    const out = ctx.out;
    // bcc's section names (its "Remote Addres" included)
    const header = a.flag("byladdr")
      ? "Local Address"
      : a.flag("byraddr")
        ? "Remote Addres"
        : "All Addresses";
    ctx.exportMetrics(b, [
      histMetric(
        "tcprtt_seconds",
        "TCP round-trip time (smoothed, per received segment)",
        a.flag("milliseconds") ? "msecs" : "usecs",
        a.flag("byladdr") || a.flag("byraddr")
          ? { label: a.flag("byladdr") ? "laddr" : "raddr", format: (id) => (id ? u32Addr(id) : "all") }
          : undefined,
      ),
    ]);
    out.line("Tracing TCP RTT... Hit Ctrl-C to end.");
    const print = (): void => {
      out.line("");
      if (a.flag("timestamp")) out.line(hms().padEnd(8));
      const avg = new Map<number, number>();
      if (a.flag("extension"))
        for (const [k, v] of latency.items()) {
          const l = v as { latency: bigint; count: bigint };
          if (l.count > 0n) avg.set(Number(k), Number(l.latency / l.count));
        }
      printHist(out, hists, {
        label: a.flag("milliseconds") ? "msecs" : "usecs",
        section: out.json ? "addr" : header,
        sectionName: (id) => {
          if (out.json) return id ? u32Addr(id) : null;
          const s = id ? u32Addr(id) : "*******";
          return avg.has(id) ? `${s} [AVG ${avg.get(id)}]` : s;
        },
      });
      latency.clear();
    };
    const interval = a.num("interval");
    if (interval === undefined) {
      await ctx.done();
      if (!ctx.servingMetrics) print();
      return;
    }
    await ctx.intervals(interval, undefined, () => print());
  },
};
