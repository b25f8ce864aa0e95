import type { BPF, PerCpuArray } from "../src/index.js";
import {
  attachFirstHook,
  describeHooks,
  firstKernelFunction,
  HOOK_OPTION,
  hookCandidates,
} from "./lib/hooks.js";
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

/**
 * bcc's kernel functions, each with the names it has had (newest first:
 * Linux 5.16-5.18 moved the page cache to folios), by the program counting
 * its calls.
 */
const FUNCTIONS: Array<[program: string, names: string[]]> = [
  ["mark_page_accessed", ["folio_mark_accessed", "mark_page_accessed"]],
  ["add_to_page_cache_lru", ["filemap_add_folio", "add_to_page_cache_lru"]],
  ["account_page_dirtied", ["folio_account_dirtied", "account_page_dirtied"]],
  ["mark_buffer_dirty", ["mark_buffer_dirty"]],
];

/** The functions this kernel has for each program; the dirtied count may come from a tracepoint instead (as libbpf-tools does). */
function kernelFunctions(): Array<[program: string, fn: string | undefined]> {
  return FUNCTIONS.map(([prog, names]) => [prog, firstKernelFunction(names)]);
}

function offer() {
  const fns = kernelFunctions();
  const dirtyTp = DIRTY_TPS.some(hasTracepoint);
  const needed = fns.filter(([prog, fn]) => fn !== undefined || prog !== "account_page_dirtied" || !dirtyTp);
  return {
    // a function missing on this kernel is named by its bcc name (and the variants end in "no such function")
    functions: needed.map(([prog, fn]) => fn ?? prog),
    tracepoint: [...ACCESS_TPS.map(([tp]) => tp), ADD_TP, BUFFER_TP].every(hasTracepoint),
    tracepointPartial: true,
  };
}

const TRACEPOINT_NOTE =
  "tracepoints, not bcc's kprobes: accesses are the pages read() asks for plus file page faults (mmap'd pages mapped by fault-around and write accesses are not counted), misses are pages added to the page cache less pages dirtied, DIRTIES counts mark_buffer_dirty (block:block_dirty_buffer) as bcc; HITS, MISSES and HITRATIO are approximate";

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

/** The counters' raw totals: counts[C_ACCESSED..C_BUFFERS], summed over the CPUs. */
type Raw = readonly [accessed: number, added: number, dirtied: number, buffers: number];

/**
 * The --prometheus counters, totals since start: the maps' own (pages
 * added, pages dirtied, buffers dirtied), and accesses, hits and misses
 * derived as the tool prints them, from what happened since the previous
 * update (a scrape): bcc's accesses (less the buffers dirtied with the
 * function hooks, at least 0), cacheRatio()'s misses (pages added less
 * pages dirtied, at most the accesses) and hits (the rest). So every
 * counter only grows, and hits + misses = accesses.
 */
export class CacheTotals {
  accesses = 0;
  hits = 0;
  misses = 0;
  added = 0;
  dirtied = 0;
  buffers = 0;
  private prev: Raw = [0, 0, 0, 0];

  /** functionHooks: bcc's kprobes/fentry, whose accesses count mark_buffer_dirty()'s own. */
  constructor(private readonly functionHooks: boolean) {}

  /** Adds what the raw totals grew by since the last update. */
  update(now: Raw): void {
    const d = now.map((v, i) => Math.max(0, v - (this.prev[i] as number))) as unknown as Raw;
    this.prev = now;
    const [accessed, added, dirtied, buffers] = d;
    const { hits, misses } = cacheRatio(accessed - (this.functionHooks ? buffers : 0), added, dirtied);
    this.hits += hits;
    this.misses += misses;
    this.accesses += hits + misses;
    this.added += added;
    this.dirtied += dirtied;
    this.buffers += buffers;
  }
}

/** The counters served, by the hooks in use (what an access is differs). */
const metrics = (
  functionHooks: boolean,
): Array<
  [name: string, help: string, field: "accesses" | "hits" | "misses" | "added" | "dirtied" | "buffers"]
> => [
  [
    "cachestat_accesses_total",
    functionHooks
      ? "Page cache accesses: mark_page_accessed() calls less mark_buffer_dirty() ones, as bcc"
      : "Page cache accesses: the pages read() asked for and file page faults (tracepoints: approximate)",
    "accesses",
  ],
  ["cachestat_hits_total", "Page cache hits: accesses less misses (the HITS column)", "hits"],
  [
    "cachestat_misses_total",
    "Page cache misses: pages added less pages dirtied, at most the accesses (the MISSES column)",
    "misses",
  ],
  ["cachestat_pages_added_total", "Pages added to the page cache", "added"],
  ["cachestat_pages_dirtied_total", "Page cache pages dirtied", "dirtied"],
  ["cachestat_buffers_dirtied_total", "mark_buffer_dirty() calls (the DIRTIES column)", "buffers"],
];

export const tool: Tool = {
  name: "cachestat",
  summary: "Count cache kernel function calls",
  prometheus: true,
  options: [
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    HOOK_OPTION,
  ],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf cachestat            # one line per second",
    "tsbpf cachestat -T 5 10    # 5 second summaries with timestamps, 10 times",
    "tsbpf cachestat --prometheus 9100  # counters since start: tsbpf_cachestat_{accesses,hits,misses,pages_added,pages_dirtied,buffers_dirtied}_total, no labels",
  ],
  jsonFields: ["time", "hits", "misses", "dirties", "hitratio", "buffers_mb", "cached_mb"],
  hooks: () =>
    describeHooks(offer(), {
      kprobe: `kprobes ${offer().functions.join(", ")}`,
      tracepoint: [...ACCESS_TPS.map(([tp]) => tp), ADD_TP, ...DIRTY_TPS, BUFFER_TP]
        .filter(hasTracepoint)
        .join(", "),
    }),

  async run(ctx) {
    const a = ctx.args;
    const candidates = hookCandidates("cachestat", a.str("hook"), offer());
    const b: BPF = await ctx.open();
    const dirtyTp = DIRTY_TPS.find((tp) => hasTracepoint(tp));
    const hook = attachFirstHook(candidates, (kind) => {
      if (kind === "tracepoint") {
        ctx.attachTracepoints(b, [...ACCESS_TPS, [ADD_TP, "on_add"], [BUFFER_TP, "on_dirty_buffer"]]);
        if (dirtyTp) b.attachTracepoint({ tp: dirtyTp, fnName: "on_dirty" });
        return;
      }
      for (const [prog, fn] of kernelFunctions()) {
        if (fn === undefined) {
          // no dirtying function is a symbol here (Debian 6.1 has neither): the writeback tracepoint counts the same folios
          if (dirtyTp) b.attachTracepoint({ tp: dirtyTp, fnName: "on_dirty" });
        } else if (kind === "kprobe") b.attachKprobe({ event: fn, fnName: `${prog}_kprobe` });
        else b.attachKfunc({ fnName: `${prog}_fentry`, target: fn });
      }
    });
    if (hook === "tracepoint") ctx.note(TRACEPOINT_NOTE);
    const counts = b.getTable<PerCpuArray>("counts");
    const prev = [0, 0, 0, 0];
    const delta = (i: number): number => {
      const now = Number(counts.sum(i));
      const d = now - (prev[i] as number);
      prev[i] = now;
      return d;
    };
    const functionHooks = hook !== "tracepoint";
    const totals = new CacheTotals(functionHooks);
    let updatedAt = 0;
    ctx.exportCollectors((prom, registry) => {
      // one update a scrape: its counters agree (hits + misses = accesses)
      const update = (): void => {
        const now = Date.now();
        if (now - updatedAt < 100) return;
        updatedAt = now;
        totals.update([0, 1, 2, 3].map((i) => Number(counts.sum(i))) as unknown as Raw);
      };
      for (const [name, help, field] of metrics(functionHooks))
        new prom.Counter({
          name: `tsbpf_${name}`,
          help,
          registers: [registry],
          collect() {
            update();
            this.reset();
            this.inc(totals[field]);
          },
        });
    });
    const out = ctx.out;
    const ts = a.flag("timestamp");
    if (!ctx.servingMetrics)
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
        const buffers = delta(C_BUFFERS);
        // bcc: accesses are mark_page_accessed() calls less mark_buffer_dirty() ones
        const accessed = delta(C_ACCESSED) - (hook === "tracepoint" ? 0 : buffers);
        const added = delta(C_ADDED);
        const dirtied = delta(C_DIRTIED);
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
