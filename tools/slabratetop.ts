import type { BPF, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { hms } from "./lib/output.js";
import { loadavg } from "./lib/proc.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

const TP = "kmem:kmem_cache_alloc";
const SORTS = ["name", "count", "size"];

/** The map's bound: at most this many caches (a machine has a few hundred). */
const MAX_ENTRIES = 10240;

export const tool: Tool = {
  name: "slabratetop",
  summary: "Kernel SLAB/SLUB memory cache allocation rate top",
  prometheus: true,
  options: [
    { short: "C", long: "noclear", type: "flag", help: "don't clear the screen" },
    { short: "r", long: "maxrows", type: "int", help: "maximum rows to print, default 20" },
    { short: "s", long: "sort", type: "string", help: "sort by this column: name, count or size (default)" },
  ],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf slabratetop            # kmem_cache_alloc() top, 1 second refresh",
    "tsbpf slabratetop -C         # don't clear the screen",
    "tsbpf slabratetop 5          # 5 second summaries",
    "tsbpf slabratetop 5 10       # 5 second summaries, 10 times only",
    `tsbpf slabratetop --prometheus 9100  # counters since start by cache: tsbpf_slabratetop_{allocations,bytes}_total (one series a slab cache, at most ${MAX_ENTRIES})`,
  ],
  jsonFields: ["time", "cache", "allocs", "bytes"],
  hooks: () => (hasTracepoint(TP) ? TP : "none (needs the kmem:kmem_cache_alloc tracepoint)"),
  hookNote: () =>
    "tracepoint kmem:kmem_cache_alloc (bcc: a kprobe on kmem_cache_alloc): the same allocations; BYTES is the cache's object size per allocation, as bcc",

  async run(ctx) {
    const a = ctx.args;
    const sort = a.str("sort") ?? "size";
    if (!SORTS.includes(sort)) throw new UsageError(`-s/--sort: expected one of ${SORTS.join(", ")}`);
    const maxrows = a.num("maxrows") ?? 20;
    const interval = a.num("interval") ?? 1;
    const b: BPF = await ctx.open();
    ctx.attachFirstTracepoint(b, "on_alloc", [TP]);
    const counts = b.getTable<Table>("counts");
    const labels = [{ name: "cache", field: "name" }];
    ctx.exportMetrics(b, [
      {
        type: "counter",
        name: "slabratetop_allocations_total",
        help: "Kernel slab cache allocations (kmem_cache_alloc), by cache",
        table: "counts",
        labels,
        valueField: "count",
      },
      {
        type: "counter",
        name: "slabratetop_bytes_total",
        help: "Bytes allocated from kernel slab caches (the cache's object size per allocation), by cache",
        table: "counts",
        labels,
        valueField: "size",
      },
    ]);
    const out = ctx.out;
    if (!ctx.servingMetrics)
      out.line(`Tracing... Output every ${Math.trunc(interval) || interval} secs. Hit Ctrl-C to end`);
    await ctx.intervals(interval, a.num("count"), (last) => {
      const rows: Array<{ name: string; count: number; size: number }> = [];
      for (const [k, v] of counts.items()) {
        const val = v as { count: bigint; size: bigint };
        rows.push({ name: (k as { name: string }).name, count: Number(val.count), size: Number(val.size) });
      }
      counts.clear();
      if (sort === "name") rows.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      else if (sort === "count") rows.sort((x, y) => y.count - x.count);
      else rows.sort((x, y) => y.size - x.size);
      const shown = rows.slice(0, maxrows);
      if (out.json) {
        const time = new Date().toISOString();
        for (const r of shown) out.record({ time, cache: r.name, allocs: r.count, bytes: r.size });
      } else {
        if (a.flag("noclear")) out.line("");
        else out.text("\x1b[H\x1b[2J");
        const load = loadavg() ?? "";
        // bcc prints /proc/loadavg with its newline: an empty line follows
        out.printf("%-8s loadavg: %s", hms(), load);
        out.printf("%-32s %6s %10s", "CACHE", "ALLOCS", "BYTES");
        for (const r of shown) out.printf("%-32s %6d %10d", r.name, r.count, r.size);
      }
      if (last) out.line("Detaching...");
    });
  },
};
