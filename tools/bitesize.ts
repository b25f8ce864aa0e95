/**
 * bitesize: block I/O size per process name, as log2 histograms of Kbytes
 * printed at the end, bcc's output. Hook: the block:block_rq_issue
 * tracepoint (as bcc's bitesize).
 */
import type { BPF, Table } from "../src/index.js";
import { printHist } from "./lib/hist.js";
import type { Tool } from "./lib/runtime.js";

export const tool: Tool = {
  name: "bitesize",
  summary: "Show block device I/O size as a histogram per process name",
  prometheus: true,
  options: [],
  examples: [
    "tsbpf bitesize                  # per-process I/O size histograms until Ctrl-C",
    "tsbpf bitesize --duration 10    # for 10 seconds",
    "tsbpf bitesize --json           # one JSON histogram per process name",
  ],
  jsonFields: ["ts", "val_type", "data", "comm"],
  hooks: () => "tracepoint/block/block_rq_issue",

  async run(ctx) {
    const b: BPF = await ctx.open();
    ctx.attachTracepoints(b, [["block:block_rq_issue", "on_issue"]]);
    const hists = b.getTable<Table>("hists");
    ctx.exportMetrics(b, [
      {
        type: "histogram",
        name: "bitesize_kbytes",
        help: "Block I/O sizes by process name, in KiB (bcc's log2 slots)",
        table: "hists",
        labels: [{ name: "comm" }],
        bucketType: "log2",
        bucketField: "slot",
        bucketMax: 24,
      },
    ]);
    ctx.out.line("Tracing block I/O... Hit Ctrl-C to end.");
    await ctx.done();
    if (ctx.servingMetrics) return;
    printHist(ctx.out, hists, {
      label: "Kbytes",
      section: "Process Name",
      sectionKey: "comm",
      jsonSection: "comm",
    });
  },
};
