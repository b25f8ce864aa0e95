/**
 * funclatency: time functions from entry to return and print the latency
 * as bcc's log2 histogram: `func` (kernel functions, kprobes and
 * kretprobes) or `lib:func` (user functions, uprobes and uretprobes; `c`
 * is libc), `*` wildcards or -r regular expressions, -F a histogram per
 * function. Each function's probes carry its index as their BPF cookie.
 */
import { BPF, type PerCpuArray, type Table } from "../src/index.js";
import { formatLog2Hist, type HistEntry, jsonHist } from "../src/maps/histogram.js";
import { UsageError } from "./lib/args.js";
import { histMetric } from "./lib/metrics.js";
import { hms } from "./lib/output.js";
import {
  checkProbeLimit,
  type EventPattern,
  isKernelFunction,
  type ProbeTarget,
  parsePattern,
  requireKprobes,
  userOrTracepointTargets,
} from "./lib/patterns.js";
import type { Tool, ToolContext } from "./lib/runtime.js";

/** The deepest nesting -l follows (MAX_LEVEL in funclatency.bpf.c). */
const MAX_LEVEL = 32;

interface LatKey {
  id: number;
  pid: number;
  slot: number;
}

/** bcc's funclatency takes `func` or `lib:func` (and here their p: forms too). */
function pattern(text: string, regex: boolean): EventPattern {
  const p = parsePattern(text, regex);
  if (p.type !== "p")
    throw new UsageError(
      `unrecognized pattern format '${text}': funclatency times functions (func or lib:func), not ${p.type === "t" ? "tracepoints" : "USDT probes"}`,
    );
  return p;
}

/** The functions the pattern matches; kernel functions need kprobes (else the error names tracepoints). */
function targets(ctx: ToolContext, p: EventPattern, pid: number | undefined): ProbeTarget[] {
  if (!isKernelFunction(p)) return userOrTracepointTargets(p, pid);
  requireKprobes(`funclatency on kernel functions (${ctx.args.str("pattern")})`, p.regex, {
    pairs: true,
    instead: "time the syscalls they serve between their tracepoints instead (as tsbpf syscount -L does)",
  });
  return BPF.getKprobeFunctions(p.regex).map((name) => ({ name }));
}

/** Attaches function i's entry or return, cookie i. */
function attach(b: BPF, t: ProbeTarget, i: number, ret: boolean, pid: number | undefined): void {
  if (t.path === undefined) {
    if (ret) b.attachKretprobe({ event: t.name, fnName: "return_kprobe", cookie: i });
    else b.attachKprobe({ event: t.name, fnName: "entry_kprobe", cookie: i });
    return;
  }
  const opts = { name: t.path, addr: t.address as bigint, pid: pid ?? -1, cookie: i };
  if (ret) b.attachUretprobe({ ...opts, fnName: "return_uprobe" });
  else b.attachUprobe({ ...opts, fnName: "entry_uprobe" });
}

export const tool: Tool = {
  name: "funclatency",
  summary: "Time functions and print latency as a histogram",
  prometheus: true,
  options: [
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "i", long: "interval", type: "float", help: "summary interval, in seconds" },
    { short: "d", long: "duration", type: "float", help: "total duration of trace, in seconds" },
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "u", long: "microseconds", type: "flag", help: "microsecond histogram" },
    { short: "m", long: "milliseconds", type: "flag", help: "millisecond histogram" },
    { short: "F", long: "function", type: "flag", help: "show a separate histogram per function" },
    {
      short: "r",
      long: "regexp",
      type: "flag",
      help: 'use regular expressions. Default is "*" wildcards only.',
    },
    {
      short: "l",
      long: "level",
      type: "int",
      help: `set the level of nested or recursive functions (per thread, up to ${MAX_LEVEL})`,
    },
    {
      short: "v",
      long: "verbose",
      type: "flag",
      help: "print the probes and their BPF cookies (bcc prints its generated program)",
    },
  ],
  positionals: [{ name: "pattern", type: "string", required: true, help: "search expression for functions" }],
  examples: [
    "tsbpf funclatency do_sys_open       # time the do_sys_open() kernel function (needs kprobes)",
    "tsbpf funclatency c:read            # time the read() C library function",
    "tsbpf funclatency -u c:read         # in microseconds",
    "tsbpf funclatency -m c:usleep       # in milliseconds",
    "tsbpf funclatency -i 2 -d 10 c:open # output every 2 seconds, for duration 10s",
    "tsbpf funclatency -p 181 c:read     # time process 181 only",
    "tsbpf funclatency 'c:*printf'       # time the *printf family of functions",
    "tsbpf funclatency -F 'c:str*'       # one histogram per matched function",
  ],
  jsonFields: ["ts", "val_type", "data", "Function", "avg", "total", "count"],
  hooks: () =>
    `uprobes and uretprobes (lib:func)${BPF.supports("kprobe") === "yes" ? ", kprobes and kretprobes (func)" : ""}; a BPF cookie per function`,

  async run(ctx) {
    const a = ctx.args;
    const text = a.str("pattern") as string;
    const p = pattern(text, a.flag("regexp"));
    const pid = a.num("pid");
    const level = a.num("level") ?? 0;
    if (!Number.isInteger(level) || level < 0 || level > MAX_LEVEL)
      throw new UsageError(`-l/--level: expected 0 to ${MAX_LEVEL}, got ${level}`);
    if (a.flag("microseconds") && a.flag("milliseconds"))
      throw new UsageError("-u and -m are mutually exclusive");
    const found = targets(ctx, p, pid);
    if (found.length === 0) {
      // bcc's words, but an error: nothing was traced
      throw new UsageError(`0 functions matched by "${text}"`);
    }
    checkProbeLimit(found.length * 2);
    const user = !isKernelFunction(p);
    const [label, div] = a.flag("milliseconds")
      ? ["msecs", 1_000_000]
      : a.flag("microseconds")
        ? ["usecs", 1000]
        : ["nsecs", 1];
    // bcc: sections per function with -F, and per function and process for
    // user functions traced without -p
    const perProcess = user && (a.flag("function") || pid === undefined);
    const perFunction = a.flag("function") || perProcess;
    const b: BPF = await ctx.open({
      rodata: {
        targ_pid: pid ?? 0,
        unit_div: BigInt(div),
        per_function: perFunction,
        per_process: perProcess,
        level,
      },
    });
    const out = ctx.out;
    // entries first: a return probe with no entry seen would unbalance -l's per-thread stack
    for (const ret of [false, true]) for (const [i, t] of found.entries()) attach(b, t, i, ret, pid);
    if (a.flag("verbose")) {
      for (const [i, t] of found.entries()) {
        const kind = user ? "uprobe+uretprobe" : "kprobe+kretprobe";
        const where = user ? `${t.path}:${t.name} (0x${(t.address as bigint).toString(16)})` : t.name;
        out.line(`cookie ${i}: ${kind} ${where}`);
      }
    }
    out.line(`Tracing ${found.length} functions for "${text}"... Hit Ctrl-C to end.`);
    const dist = b.getTable<Table>("dist");
    ctx.exportMetrics(b, [
      {
        ...histMetric(
          "funclatency_seconds",
          `Latency of the functions matched by ${text}`,
          label as "nsecs" | "usecs" | "msecs",
          undefined,
          "dist",
        ),
        // where bcc sections by function (and process): a series each
        labels: perFunction
          ? [
              { name: "function", field: "id", format: (i) => found[Number(i)]?.name ?? `[cookie ${i}]` },
              ...(perProcess ? [{ name: "pid", field: "pid" }] : []),
            ]
          : [],
      },
    ]);
    const avg = b.getTable<PerCpuArray>("avg");
    const section = (k: LatKey): string => {
      const name = found[k.id]?.name ?? `[cookie ${k.id}]`;
      return perProcess ? `${name} [${k.pid}]` : name;
    };
    await ctx.intervals(a.num("interval") ?? 99999999, undefined, (last) => {
      const raw = [...dist.items()] as Array<[LatKey, number | bigint]>;
      dist.clear();
      const entries: HistEntry[] = raw.map(([k, v]) =>
        perFunction ? { key: { Function: section(k), slot: k.slot }, value: v } : { key: k.slot, value: v },
      );
      const opts = perFunction
        ? {
            sectionHeader: "Function",
            sectioned: true,
            sectionPrintFn: (s: unknown) => s,
            bucketSort: (x: unknown, y: unknown) => String(x).localeCompare(String(y)),
          }
        : {};
      // bcc's avg array is never cleared: the summary covers the whole run
      const totalNs = Number(avg.sum(0));
      const count = Number(avg.sum(1));
      const total = Math.trunc(totalNs / div);
      const mean = count > 0 ? Math.trunc(totalNs / div / count) : 0;
      if (out.json) {
        // bcc's print_json_hist records, then its summary line as a record of its own
        const recs = jsonHist(entries, label, opts);
        for (const rec of recs) out.record(rec as unknown as Record<string, unknown>);
        if (count > 0) out.record({ ts: recs[0]?.ts, val_type: label, avg: mean, total, count });
        return;
      }
      out.line("");
      if (a.flag("timestamp")) out.line(hms());
      out.text(formatLog2Hist(entries, label, opts));
      if (count > 0) out.line(`\navg = ${mean} ${label}, total: ${total} ${label}, count: ${count}\n`);
      if (last) out.line("Detaching...");
    });
  },
};
