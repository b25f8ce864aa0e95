/**
 * funccount: count function calls and tracepoint hits, bcc's pattern
 * language and output: `func` or `p::func` (kernel functions, kprobes),
 * `lib:func` or `p:lib:func` (user functions, uprobes; `c` is libc),
 * `t:cat:event` (tracepoints), `u:lib:probe` (USDT probes, as
 * uprobes on their sites), with `*` wildcards or, with -r, regular
 * expressions. Every match is its own probe with its own BPF cookie, the
 * index of its count, so the prebuilt program serves any number of them.
 */
import { BPF, type PerCpuArray } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { hms } from "./lib/output.js";
import {
  checkProbeLimit,
  type EventPattern,
  isKernelFunction,
  type ProbeTarget,
  parsePattern,
  requireKprobes,
  usdtTargets,
  userOrTracepointTargets,
} from "./lib/patterns.js";
import type { Tool, ToolContext } from "./lib/runtime.js";

/** A probe attached: what it counts and how, for -D. */
interface Attached extends ProbeTarget {
  kind: "kprobe" | "uprobe" | "tracepoint" | "usdt";
  /** USDT: the sites of the probe (a uprobe each, all with the probe's cookie). */
  sites?: bigint[];
  /** USDT: its semaphore's file offset, raised while attached. */
  semaphoreOffset?: bigint;
}

/** What the pattern matches here; kernel functions need kprobes (else the error names tracepoints). */
function targets(ctx: ToolContext, p: EventPattern, pid: number | undefined): Attached[] {
  if (p.type === "u") return usdtTargets(p).map((t) => ({ ...t, kind: "usdt" }));
  if (isKernelFunction(p)) {
    requireKprobes(`funccount on kernel functions (${ctx.args.str("pattern")})`, p.regex, {
      asPattern: true,
      instead: "count tracepoints instead",
    });
    return BPF.getKprobeFunctions(p.regex).map((name) => ({ name, kind: "kprobe" }));
  }
  const kind = p.type === "t" ? "tracepoint" : "uprobe";
  return userOrTracepointTargets(p, pid).map((t) => ({ ...t, kind }));
}

/** Attaches probe i with cookie i (its count's index). */
function attach(b: BPF, t: Attached, i: number, pid: number | undefined): void {
  if (t.kind === "kprobe") b.attachKprobe({ event: t.name, fnName: "count_kprobe", cookie: i });
  else if (t.kind === "tracepoint") b.attachTracepoint({ tp: t.name, fnName: "count_tracepoint", cookie: i });
  else
    for (const addr of t.sites ?? [t.address as bigint])
      b.attachUprobe({
        name: t.path as string,
        addr,
        fnName: "count_uprobe",
        pid: pid ?? -1,
        cookie: i,
        refCtrOffset: t.semaphoreOffset,
      });
}

/** -D: one line a probe (bcc prints its generated program; here the program is one, the probes differ). */
function describe(t: Attached, i: number): string {
  const hex = (a: bigint): string => `0x${a.toString(16)}`;
  const where =
    t.kind === "uprobe"
      ? `${t.path}:${t.name} (${hex(t.address as bigint)})`
      : t.kind === "usdt"
        ? `${t.path}:${t.name} (uprobes at ${(t.sites ?? []).map(hex).join(", ")})`
        : t.name;
  return `cookie ${i}: ${t.kind} ${where}`;
}

export const tool: Tool = {
  name: "funccount",
  summary: "Count functions, tracepoints, and USDT probes",
  prometheus: true,
  options: [
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "i", long: "interval", type: "float", help: "summary interval, seconds" },
    { short: "d", long: "duration", type: "float", help: "total duration of trace, seconds" },
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    {
      short: "r",
      long: "regexp",
      type: "flag",
      help: 'use regular expressions. Default is "*" wildcards only.',
    },
    {
      short: "D",
      long: "debug",
      type: "flag",
      help: "print the probes and their BPF cookies before starting (bcc prints its generated program)",
    },
    { short: "c", long: "cpu", type: "int", help: "trace this CPU only" },
  ],
  positionals: [{ name: "pattern", type: "string", required: true, help: "search expression for events" }],
  examples: [
    "tsbpf funccount 'vfs_*'             # count kernel functions starting with vfs (needs kprobes)",
    "tsbpf funccount -r '^vfs.*'         # same as above, with a regular expression",
    "tsbpf funccount -Ti 5 'c:str*'      # every 5 seconds, with timestamps",
    "tsbpf funccount -d 10 c:malloc      # trace for 10 seconds only",
    "tsbpf funccount -p 185 c:malloc     # malloc() calls of PID 185 only",
    "tsbpf funccount t:sched:sched_fork  # count calls to the sched_fork tracepoint",
    "tsbpf funccount ./test:read*        # count read* calls in the ./test binary",
    "tsbpf funccount 'u:./test:req*'     # count the ./test binary's USDT probes req*",
  ],
  jsonFields: ["time", "func", "count"],
  hooks: () =>
    `uprobes (lib:func, u:lib:probe), tracepoints (t:cat:event)${BPF.supports("kprobe") === "yes" ? ", kprobes (func)" : ""}; a BPF cookie per probe`,

  async run(ctx) {
    const a = ctx.args;
    const text = a.str("pattern") as string;
    const pattern = parsePattern(text, a.flag("regexp"));
    const pid = a.num("pid");
    const found = targets(ctx, pattern, pid);
    if (found.length === 0) throw new UsageError(`No functions matched by pattern ${pattern.regex.source}`);
    checkProbeLimit(found.length);
    const b: BPF = await ctx.open({
      rodata: { targ_pid: pid ?? 0, targ_cpu: a.num("cpu") ?? -1 },
      mapSizes: { counts: found.length },
    });
    const out = ctx.out;
    for (const [i, t] of found.entries()) {
      attach(b, t, i, pid);
      if (a.flag("debug")) out.line(describe(t, i));
    }
    out.line(`Tracing ${found.length} functions for "${text}"... Hit Ctrl-C to end.`);
    const counts = b.getTable<PerCpuArray>("counts");
    ctx.exportMetrics(b, [
      {
        type: "counter",
        name: "funccount_calls_total",
        help: `Calls of the functions matched by ${text}`,
        table: "counts",
        labels: [{ name: "function", format: (i) => found[Number(i)]?.name }],
      },
    ]);
    await ctx.intervals(a.num("interval") ?? 99999999, undefined, (last) => {
      const now = new Date();
      const rows: Array<[string, number]> = [];
      for (const [i, t] of found.entries()) {
        const n = Number(counts.sum(i));
        if (n > 0) rows.push([t.name, n]);
      }
      counts.clear();
      // bcc's order: the most frequent last, next to the prompt
      rows.sort((x, y) => x[1] - y[1]);
      out.line("");
      if (a.flag("timestamp")) out.line(hms(now));
      out.printf("%-36s %8s", "FUNC", "COUNT");
      for (const [name, n] of rows) {
        out.printf("%-36s %8d", name, n);
        out.record({ time: now.toISOString(), func: name, count: n });
      }
      if (last) out.line("Detaching...");
    });
  },
};
