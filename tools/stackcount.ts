/**
 * stackcount: count the stacks that lead to events, bcc's pattern language
 * and output: `func` or `p::func` (kernel functions, kprobes), `lib:func`
 * or `p:lib:func` (user functions, uprobes; `c` is libc), `t:cat:event`
 * (tracepoints), with `*` wildcards or, with -r, regular expressions.
 */
import { BPF, type StackTrace, type Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { hms } from "./lib/output.js";
import {
  type EventPattern,
  parsePattern,
  requireKprobes,
  resolveLibrary,
  usdtTargets,
} from "./lib/patterns.js";
import type { Tool, ToolContext } from "./lib/runtime.js";
import {
  foldedLine,
  PROFILE_FILE_OPTIONS,
  readStacks,
  type StackRow,
  type StackShape,
  stackFields,
  V8_MARKERS_OPTION,
  writeProfileFiles,
} from "./lib/stacks.js";

interface Key {
  tgid: number;
  user_stack_id: number;
  kernel_stack_id: number;
  name: string;
}

/** bcc's -P-less key: no process. */
const NO_PID = 0xffffffff;

/** A parsed pattern (tools/lib/patterns.ts, shared with funccount and funclatency). */
export type StackPattern = EventPattern;
export { parsePattern };

/** Attaches the counting program to every event the pattern matches; returns how many. */
function attachPattern(ctx: ToolContext, b: BPF, p: StackPattern, pid: number | undefined): number {
  if (p.type === "u") {
    const before = b.numOpenUprobes();
    for (const t of usdtTargets(p, pid))
      for (const addr of t.sites)
        b.attachUprobe({
          name: t.path,
          addr,
          fnName: "stack_uprobe",
          pid: pid ?? -1,
          refCtrOffset: t.semaphoreOffset,
        });
    return b.numOpenUprobes() - before;
  }
  if (p.type === "t") {
    const before = b.numOpenTracepoints();
    b.attachTracepoint({ tpRe: p.regex, fnName: "stack_tracepoint" });
    return b.numOpenTracepoints() - before;
  }
  if (p.library !== "") {
    const path = resolveLibrary(p.library);
    const before = b.numOpenUprobes();
    b.attachUprobe({ name: path, symRe: p.regex, fnName: "stack_uprobe", pid: pid ?? -1 });
    return b.numOpenUprobes() - before;
  }
  requireKprobes(`stackcount on kernel functions (${ctx.args.str("pattern")})`, p.regex, {
    asPattern: true,
    instead: "count stacks at tracepoints instead",
  });
  const before = b.numOpenKprobes();
  b.attachKprobe({ eventRe: p.regex, fnName: "stack_kprobe" });
  return b.numOpenKprobes() - before;
}

export const tool: Tool = {
  name: "stackcount",
  summary: "Count events and their stack traces",
  options: [
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "c", long: "cpu", type: "int", help: "trace this CPU only" },
    { short: "i", long: "interval", type: "int", help: "summary interval, seconds" },
    { short: "D", long: "duration", type: "float", help: "total duration of trace, seconds" },
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    {
      short: "r",
      long: "regexp",
      type: "flag",
      help: 'use regular expressions. Default is "*" wildcards only.',
    },
    { short: "s", long: "offset", type: "flag", help: "show address offsets" },
    { short: "P", long: "perpid", type: "flag", help: "display stacks separately for each process" },
    { short: "K", long: "kernel-stacks-only", type: "flag", help: "kernel stack only" },
    { short: "U", long: "user-stacks-only", type: "flag", help: "user stack only" },
    { short: "v", long: "verbose", type: "flag", help: "show raw addresses" },
    { short: "d", long: "delimited", type: "flag", help: "insert delimiter between kernel/user stacks" },
    { short: "f", long: "folded", type: "flag", help: "output folded format" },
    ...PROFILE_FILE_OPTIONS,
    V8_MARKERS_OPTION,
  ],
  positionals: [{ name: "pattern", type: "string", required: true, help: "search expression for events" }],
  examples: [
    "tsbpf stackcount t:sched:sched_switch   # count stacks at the sched_switch tracepoint",
    "tsbpf stackcount -P c:malloc            # count stacks of libc's malloc, per process",
    "tsbpf stackcount -r 'c:^str(cmp|len)$'  # regular expressions",
    "tsbpf stackcount -U -f c:write          # user stacks, folded for flame graphs",
    "tsbpf stackcount submit_bio             # kernel functions (needs kprobes)",
  ],
  jsonFields: ["time", "pid", "comm", "user_stack", "kernel_stack", "count"],
  hooks: () =>
    `uprobes (lib:func), tracepoints (t:cat:event)${BPF.supports("kprobe") === "yes" ? ", kprobes (func)" : ""}`,

  async run(ctx) {
    const a = ctx.args;
    const userOnly = a.flag("user-stacks-only");
    const kernelOnly = a.flag("kernel-stacks-only");
    if (userOnly && kernelOnly) throw new UsageError("-K and -U are mutually exclusive");
    const pattern = parsePattern(a.str("pattern") as string, a.flag("regexp"));
    // bcc: kernel functions have no user stack worth showing, user functions no kernel stack
    const shape: StackShape = {
      userOnly: userOnly || (pattern.type === "p" && pattern.library !== "" && !kernelOnly),
      kernelOnly,
      delimited: a.flag("delimited"),
      v8Markers: a.flag("v8-markers"),
      offsets: a.flag("offset"),
      addresses: a.flag("verbose"),
    };
    const pid = a.num("pid");
    const perPid = a.flag("perpid");
    const b: BPF = await ctx.open({
      rodata: {
        targ_pid: pid ?? 0,
        targ_cpu: a.num("cpu") ?? -1,
        per_pid: perPid,
        user_stacks: !shape.kernelOnly,
        kernel_stacks: !shape.userOnly,
      },
    });
    const n = attachPattern(ctx, b, pattern, pid);
    if (n === 0) throw new UsageError(`No functions matched by pattern ${a.str("pattern")}`);
    const out = ctx.out;
    const folded = a.flag("folded");
    if (!folded) out.line(`Tracing ${n} functions for "${a.str("pattern")}"... Hit Ctrl-C to end.`);
    const counts = b.getTable<Table>("counts");
    const owners = b.getTable<Table>("owners");
    const stacks = b.getTable<StackTrace>("stack_traces");
    const started = Date.now();
    const all: StackRow[] = [];
    const show = (rows: Array<StackRow<Key>>): void => {
      for (const row of rows) {
        const k = row.key;
        const proc = k.tgid === NO_PID ? undefined : k.tgid;
        if (out.json) {
          out.record({
            time: new Date().toISOString(),
            ...(proc !== undefined ? { pid: proc, comm: k.name } : {}),
            ...stackFields(row, shape),
            count: row.value,
          });
        } else if (folded) out.line(foldedLine(row, shape));
        else {
          if (!shape.userOnly) for (const f of row.kernel) out.line(`  ${f}`);
          if (shape.delimited && !shape.userOnly && !shape.kernelOnly) out.line("    --");
          if (!shape.kernelOnly) for (const f of row.user) out.line(`  ${f}`);
          if (pid === undefined && proc !== undefined) out.line(`    ${k.name} [${proc}]`);
          out.line(`    ${row.value}\n`);
        }
      }
    };
    const tick = (last: boolean): void => {
      if (a.flag("timestamp") && !out.json) out.line(hms());
      const { rows } = readStacks<Key>(counts, stacks, shape, (k) => {
        if (k.tgid !== NO_PID) return k.tgid;
        const o = owners.get(k) as number | undefined;
        return o ?? pid ?? -1;
      });
      show(rows);
      all.push(...rows);
      counts.clear();
      owners.clear();
      if (last && !folded && !out.json) out.line("Detaching...");
    };
    const interval = a.num("interval");
    await ctx.intervals(interval ?? 99999999, undefined, tick);
    writeProfileFiles(
      all,
      shape,
      { svg: a.str("svg"), pprof: a.str("pprof") },
      {
        title: `stackcount ${a.str("pattern")}`,
        countName: "events",
        sampleType: ["events", "count"],
        startMs: started,
        durationMs: Date.now() - started,
        comment: `tsbpf stackcount ${process.argv.slice(3).join(" ")}`.trim(),
      },
    );
  },
};
