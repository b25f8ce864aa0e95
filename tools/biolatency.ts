/**
 * biolatency: block device I/O latency as a histogram, bcc's output and
 * options. Hooks: the block_rq_issue and block_rq_complete raw tracepoints
 * (and block_io_start, 6.5+, else block_rq_insert, for -Q), each with the
 * request, as bcc's kprobes on blk_mq_start_request, blk_account_io_done
 * and blk_account_io_start see it.
 */
import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { blockHooks, diskDev, diskName, rqAfterQueue } from "./lib/disks.js";
import { printHist } from "./lib/hist.js";
import { histMetric } from "./lib/metrics.js";
import { hms } from "./lib/output.js";
import { reqFlagsName } from "./lib/reqflags.js";
import type { Tool } from "./lib/runtime.js";

const HOOK_FNS: Record<string, string> = {
  block_io_start: "on_io_start",
  block_rq_insert: "on_insert",
  block_rq_issue: "on_issue",
  block_rq_complete: "on_complete",
};

function pyTs(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${hms(d)}`;
}

export const tool: Tool = {
  name: "biolatency",
  summary: "Summarize block device I/O latency as a histogram",
  prometheus: true,
  options: [
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "Q", long: "queued", type: "flag", help: "include OS queued time in I/O time" },
    { short: "m", long: "milliseconds", type: "flag", help: "millisecond histogram" },
    { short: "D", long: "disks", type: "flag", help: "print a histogram per disk device" },
    { short: "F", long: "flags", type: "flag", help: "print a histogram per set of I/O flags" },
    { short: "e", long: "extension", type: "flag", help: "summarize average/total value" },
    { short: "d", long: "disk", type: "string", help: "Trace this disk only" },
  ],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf biolatency                    # summarize block I/O latency as a histogram",
    "tsbpf biolatency 1 10               # print 1 second summaries, 10 times",
    "tsbpf biolatency -mT 1              # 1s summaries, milliseconds, and timestamps",
    "tsbpf biolatency -Q                 # include OS queued time in I/O time",
    "tsbpf biolatency -D                 # show each disk device separately",
    "tsbpf biolatency -F                 # show I/O flags separately",
    "tsbpf biolatency -e                 # show extension summary(total, average)",
    "tsbpf biolatency -d sdc             # Trace sdc only",
    "tsbpf biolatency --json             # one JSON histogram per interval",
  ],
  jsonFields: ["ts", "val_type", "data", "disk|flags", "avg", "total", "count"],
  hooks: () => {
    const h = blockHooks();
    return `raw_tp/${h.issue}, raw_tp/${h.done}, -Q: raw_tp/${h.account}`;
  },
  hookNote: () => {
    const h = blockHooks();
    return `block raw tracepoints ${h.issue}/${h.done} (-Q: ${h.account}) with the request (bcc: kprobes on blk_mq_start_request, blk_account_io_done, blk_account_io_start): the same requests and times`;
  },

  async run(ctx) {
    const a = ctx.args;
    if (a.flag("disks") && a.flag("flags")) throw new UsageError("can only use -D or -F");
    const diskText = a.str("disk");
    const b: BPF = await ctx.open({
      rodata: {
        targ_dev: diskText === undefined ? 0 : diskDev(diskText),
        rq_after_queue: rqAfterQueue(),
        milliseconds: a.flag("milliseconds"),
        queued: a.flag("queued"),
        per_disk: a.flag("disks"),
        per_flags: a.flag("flags"),
        extension: a.flag("extension"),
      },
    });
    const h = blockHooks();
    const tps = a.flag("queued") ? [h.account, h.issue, h.done] : [h.issue, h.done];
    ctx.attachRawTracepoints(
      b,
      tps.map((tp) => [tp, HOOK_FNS[tp] as string] as const),
    );
    const hists = b.getTable<Table>("hists");
    const ext = b.getTable<Table>("ext");
    const label = a.flag("milliseconds") ? "msecs" : "usecs";
    const out = ctx.out;
    ctx.exportMetrics(b, [
      histMetric(
        a.flag("queued") ? "biolatency_queued_seconds" : "biolatency_seconds",
        `Block device I/O latency${a.flag("queued") ? ", from queueing" : ""}`,
        a.flag("milliseconds") ? "msecs" : "usecs",
        a.flag("flags")
          ? { label: "flags", format: reqFlagsName }
          : a.flag("disks")
            ? { label: "disk", format: (d) => diskName(d) ?? `${d >> 20}:${d & 0xfffff}` }
            : undefined,
      ),
    ]);
    out.line("Tracing block device I/O... Hit Ctrl-C to end.");
    await ctx.intervals(a.num("interval") ?? 99999999, a.num("count"), () => {
      out.line("");
      if (a.flag("timestamp")) out.line(hms());
      if (a.flag("flags")) printHist(out, hists, { label, section: "flags", sectionName: reqFlagsName });
      else if (a.flag("disks"))
        printHist(out, hists, { label, section: "disk", sectionName: (d) => diskName(d) ?? "<unknown>" });
      else printHist(out, hists, { label });
      if (a.flag("extension")) {
        const v = ext.get(0) as { total: bigint | number; count: bigint | number };
        const total = Number(v.total);
        const count = Number(v.count);
        if (count > 0) {
          const avg = Math.trunc(total / count);
          out.printf("\navg = %ld %s, total: %ld %s, count: %ld\n", avg, label, total, label, count);
          out.record({ ts: pyTs(), val_type: label, avg, total, count });
        }
        ext.clear();
      }
    });
  },
};
