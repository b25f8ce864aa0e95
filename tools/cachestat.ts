import type { BPF, PerCpuArray } from "../src/index.js";
import { hms } from "./lib/output.js";
import { meminfo } from "./lib/proc.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

const ACCESS_TPS: Array<[string, string]> = [
  ["filemap:mm_filemap_get_pages", "on_get_pages"],
  ["filemap:mm_filemap_fault", "on_fault"],
];
const ADD_TP = "filemap:mm_filemap_add_to_page_cache";
const DIRTY_TPS = ["writeback:writeback_dirty_folio", "writeback:writeback_dirty_page"];
const BUFFER_TP = "block:block_dirty_buffer";
const C_ACCESSED = 0;
const C_ADDED = 1;
const C_DIRTIED = 2;
const C_BUFFERS = 3;

/** bcc's arithmetic: hits, misses and the ratio from accesses, pages added and pages dirtied. */
export function cacheRatio(accessed: number, added: number, dirtied: number) {
  const total = Math.max(0, accessed);
  let misses = Math.max(0, added - dirtied);
  let hits = total - misses;
  if (hits < 0) {
    misses = total;
    hits = 0;
  }
  return { hits, misses, ratio: total > 0 ? hits / total : 0 };
}

export const tool: Tool = {
  name: "cachestat",
  summary: "Count cache kernel function calls",
  options: [{ short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" }],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf cachestat            # one line per second",
    "tsbpf cachestat -T 5 10    # 5 second summaries with timestamps, 10 times",
  ],
  jsonFields: ["time", "hits", "misses", "dirties", "hitratio", "buffers_mb", "cached_mb"],
  hooks: () =>
    [...ACCESS_TPS.map(([tp]) => tp), ADD_TP, ...DIRTY_TPS, BUFFER_TP]
      .filter((tp) => hasTracepoint(tp))
      .join(", "),
  hookNote: () =>
    "tracepoints, not bcc's kprobes: accesses are the pages read() asks for plus file page faults (mmap'd pages mapped by fault-around and write accesses are not counted), misses are pages added to the page cache less pages dirtied, DIRTIES counts mark_buffer_dirty (block:block_dirty_buffer) as bcc; HITS, MISSES and HITRATIO are approximate",

  async run(ctx) {
    const a = ctx.args;
    const b: BPF = await ctx.open();
    ctx.attachTracepoints(b, [...ACCESS_TPS, [ADD_TP, "on_add"], [BUFFER_TP, "on_dirty_buffer"]]);
    const dirtyTp = DIRTY_TPS.find((tp) => hasTracepoint(tp));
    if (dirtyTp) b.attachTracepoint({ tp: dirtyTp, fnName: "on_dirty" });
    const counts = b.getTable<PerCpuArray>("counts");
    const prev = [0, 0, 0, 0];
    const delta = (i: number): number => {
      const now = Number(counts.sum(i));
      const d = now - (prev[i] as number);
      prev[i] = now;
      return d;
    };
    const out = ctx.out;
    const ts = a.flag("timestamp");
    out.printf(
      `${ts ? "%-8s " : "%s"}%8s %8s %8s %8s %12s %10s`,
      ts ? "TIME" : "",
      "HITS",
      "MISSES",
      "DIRTIES",
      "HITRATIO",
      "BUFFERS_MB",
      "CACHED_MB",
    );
    const count = a.num("count");
    await ctx.intervals(
      a.num("interval") ?? 1,
      count !== undefined && count > 0 ? count : undefined,
      (last) => {
        const accessed = delta(C_ACCESSED);
        const added = delta(C_ADDED);
        const dirtied = delta(C_DIRTIED);
        const buffers = delta(C_BUFFERS);
        const { hits, misses, ratio } = cacheRatio(accessed, added, dirtied);
        const mem = meminfo();
        const cached = (mem.Cached ?? 0) / 1024;
        const buff = (mem.Buffers ?? 0) / 1024;
        if (out.json) {
          out.record({
            time: new Date().toISOString(),
            hits,
            misses,
            dirties: buffers,
            hitratio: ratio,
            buffers_mb: Math.round(buff),
            cached_mb: Math.round(cached),
          });
          return;
        }
        out.printf(
          `${ts ? "%-8s " : "%s"}%8d %8d %8d %7.2f%% %12.0f %10.0f`,
          ts ? hms() : "",
          hits,
          misses,
          buffers,
          100 * ratio,
          buff,
          cached,
        );
        if (last && ctx.signal.aborted) out.line("Detaching...");
      },
    );
  },
};
