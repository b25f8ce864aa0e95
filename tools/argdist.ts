/**
 * argdist: the distribution of a function's arguments (or return value,
 * latency, a tracepoint's fields) as frequency counts (-C) or log2
 * histograms (-H), bcc's specifier grammar (tools/lib/argdist_spec.ts) and
 * output. The expressions are C: argdist generates a bcc-dialect program
 * (tools/lib/argdist_codegen.ts) and compiles it at start, as bcc does.
 */
import { resolve } from "node:path";
import { BPF, type CgroupArray, NotSupportedError, type Table, USDT } from "../src/index.js";
import { formatLog2Hist, type HistEntry, jsonHist } from "../src/maps/histogram.js";
import { generateProgram, probeNames } from "./lib/argdist_codegen.js";
import { type ArgdistSpec, displayExpr, histLabel, parseSpec, specTitle } from "./lib/argdist_spec.js";
import { UsageError } from "./lib/args.js";
import { hms, type Output } from "./lib/output.js";
import { hasTracepoint, type Tool, type ToolContext } from "./lib/runtime.js";

const num = (v: unknown): number | bigint | string => {
  if (typeof v === "bigint")
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof v === "number") return v;
  if (v && typeof v === "object" && "s" in v) return String((v as { s: unknown }).s);
  return String(v);
};

/** The tracepoints a kernel function's name suggests (`__do_sys_getppid` → syscalls:sys_*_getppid). */
export function tracepointsFor(fn: string): string[] {
  const stem = fn
    .replace(/^_+/, "")
    .replace(/^(x64_sys_|arm64_sys_|do_sys_|se_sys_|sys_|ksys_|vfs_|do_)/, "");
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  for (const re of [`:(sys_enter_|sys_exit_)?${esc(stem)}$`, esc(stem)]) {
    const tps = BPF.getTracepoints(re);
    if (tps.length) return tps.slice(0, 8);
  }
  return [];
}

/**
 * Refuses what this kernel or tsbpf cannot run, before clang runs; returns
 * the path of a user probe's library or program.
 */
function checkSpec(s: ArgdistSpec): string | undefined {
  if (s.type === "t" && !hasTracepoint(`${s.library}:${s.function}`)) {
    const near = BPF.getTracepoints(`${s.library}:`).filter((t) => t.includes(s.function.slice(0, 8)));
    throw new UsageError(
      `error parsing probe '${s.raw}': no tracepoint ${s.library}:${s.function}${near.length ? ` (close: ${near.slice(0, 5).join(", ")})` : ""}`,
    );
  }
  if ((s.type === "p" || s.type === "r") && s.library === "" && BPF.supports("kprobe") !== "yes") {
    const tps = tracepointsFor(s.function);
    throw new NotSupportedError(
      `argdist on kernel functions (${s.raw})`,
      "this kernel has no kprobes (CONFIG_KPROBES is off)",
      tps.length
        ? `use a tracepoint instead, e.g. -${s.kind === "hist" ? "H" : "C"} 't:${tps[0]}()${s.kind === "hist" ? ":TYPE:args->FIELD" : ""}' (matching: ${tps.join(", ")}; their fields, as args->NAME: tsbpf tplist -v '${tps[0]}')`
        : "use a tracepoint instead (t:category:event(); list them with tsbpf tplist)",
    );
  }
  if (s.type === "t" || s.library === "") return undefined;
  const path = BPF.findLibrary(s.library) ?? BPF.findExe(s.library);
  if (!path) throw new UsageError(`error parsing probe '${s.raw}': unable to find library ${s.library}`);
  return path;
}

/** The USDT contexts of the u: specifiers, each probe enabled on its program (attached at load). */
function usdtContexts(specs: ArgdistSpec[], paths: Array<string | undefined>, pid: number | undefined) {
  const out = new Map<number, USDT>();
  specs.forEach((s, i) => {
    if (s.type !== "u") return;
    const path = paths[i] as string;
    const u = new USDT(pid === undefined ? { path } : { pid, path });
    try {
      u.enableProbe({ probe: s.function, fnName: probeNames(i, s).fn });
    } catch (e) {
      throw new UsageError(
        `error parsing probe '${s.raw}': ${e instanceof Error ? e.message : String(e)} (list the probes: tsbpf tplist -l ${s.library})`,
      );
    }
    out.set(i, u);
  });
  return out;
}

function attach(b: BPF, i: number, s: ArgdistSpec, path: string | undefined, pid: number | undefined): void {
  const n = probeNames(i, s);
  if (s.type === "u") return; // attached at load, through its USDT context
  if (s.type === "t") {
    b.attachTracepoint({ tp: `${s.library}:${s.function}`, fnName: n.fn });
    return;
  }
  if (s.library === "") {
    if (s.type === "r") b.attachKretprobe({ event: s.function, fnName: n.fn });
    else b.attachKprobe({ event: s.function, fnName: n.fn });
    if (n.entryFn) b.attachKprobe({ event: s.function, fnName: n.entryFn });
    return;
  }
  const opts = { name: path as string, sym: s.function, pid: pid ?? -1 };
  if (s.type === "r") b.attachUretprobe({ ...opts, fnName: n.fn });
  else b.attachUprobe({ ...opts, fnName: n.fn });
  if (n.entryFn) b.attachUprobe({ ...opts, fnName: n.entryFn });
}

/** Prints one probe's map as bcc does (or as --json records), clearing it unless cumulative. */
function display(
  out: Output,
  b: BPF,
  i: number,
  s: ArgdistSpec,
  top: number | undefined,
  clear: boolean,
): void {
  const table = b.getTable<Table>(probeNames(i, s).map);
  const time = new Date().toISOString();
  if (s.kind === "hist") {
    const entries: HistEntry[] = [];
    for (const [k, v] of table.items()) entries.push({ key: k as number, value: v as number | bigint });
    const label = histLabel(s);
    if (out.json) {
      for (const rec of jsonHist(entries, label)) out.record({ time, probe: specTitle(s), ...rec });
    } else out.text(formatLog2Hist(entries, label)); // bcc prints no title above a histogram
  } else {
    let rows = [...table.items()].map(([k, v]) => ({ key: k as Record<string, unknown>, count: num(v) }));
    rows.sort((a, b) => (a.count < b.count ? -1 : a.count > b.count ? 1 : 0));
    if (top !== undefined) rows = top > 0 ? rows.slice(-top) : [];
    if (!out.json) {
      out.line(specTitle(s));
      out.printf("\t%-10s %s", "COUNT", "EVENT");
    }
    for (const { key, count } of rows) {
      // [shown expression, value]: bcc's "expr = value" pairs (none for a bare p: spec: "total calls")
      const pairs: Array<[string, unknown]> =
        s.isDefaultExpr && s.type !== "r"
          ? []
          : s.exprs.map((e, k) => [s.isDefaultExpr ? "retval" : displayExpr(e), num(key[`v${k}`])]);
      if (out.json) out.record({ time, probe: specTitle(s), count, values: Object.fromEntries(pairs) });
      else {
        const ev = pairs.length ? pairs.map(([e, v]) => `${e} = ${v}`).join(", ") : "total calls";
        out.printf("\t%-10s %s", String(count), ev);
      }
    }
  }
  if (clear) table.clear();
}

export const tool: Tool = {
  name: "argdist",
  summary: "Trace a function and display a summary of its parameter values.",
  options: [
    { short: "p", long: "pid", type: "int", help: "id of the process to trace (optional)" },
    { short: "t", long: "tid", type: "int", help: "id of the thread to trace (optional)" },
    {
      short: "z",
      long: "string-size",
      type: "int",
      metavar: "STRING_SIZE",
      help: "maximum string size to read from char* arguments (default 80)",
    },
    { short: "i", long: "interval", type: "int", help: "output interval, in seconds (default 1 second)" },
    { short: "d", long: "duration", type: "float", help: "total duration of trace, in seconds" },
    { short: "n", long: "number", type: "int", metavar: "COUNT", help: "number of outputs" },
    { short: "v", long: "verbose", type: "flag", help: "print resulting BPF program code before executing" },
    {
      short: "c",
      long: "cumulative",
      type: "flag",
      help: "do not clear histograms and freq counts at each interval",
    },
    {
      short: "T",
      long: "top",
      type: "int",
      help: "number of top results to show (not applicable to histograms)",
    },
    {
      short: "H",
      long: "histogram",
      type: "list",
      metavar: "specifier",
      help: "probe specifier to capture histogram of (see examples below)",
    },
    {
      short: "C",
      long: "count",
      type: "list",
      metavar: "specifier",
      help: "probe specifier to capture count of (see examples below)",
    },
    {
      short: "I",
      long: "include",
      type: "list",
      metavar: "header",
      help: "additional header files to include in the BPF program (a path, or relative to the include path)",
    },
  ],
  examples: [
    "specifier: {p,r,t}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]",
    "  in return probes (r): $retval, $entry(param), $latency (ns); anywhere: $PID, $COMM",
    "tsbpf argdist -p 1005 -C 'p:c:malloc(size_t size):size_t:size:size==16'   # mallocs of 16 bytes",
    "tsbpf argdist -H 'p:c:write(int fd, const void *buf, size_t count):size_t:count:fd==1'",
    "tsbpf argdist -p 1005 -H 'r:c:read()'                  # histogram of read()'s results",
    "tsbpf argdist -H 'r:c:nanosleep():u64:$latency'        # nanosleep()'s latency, ns",
    "tsbpf argdist -C 'r:c:read(int fd, void *b, size_t n):size_t:$entry(n):(long)$retval < 0'   # failed reads",
    "tsbpf argdist -C 'r:c:getenv(const char *name):char*:(char*)$retval#values read'",
    "tsbpf argdist -C 'p:c:open(const char *path):char*:$COMM:STRCMP(\"/etc/passwd\", path)'   # who opens it",
    "tsbpf argdist -C 't:syscalls:sys_enter_openat():int:args->flags'   # openat() flags",
    "tsbpf argdist -C 't:irq:irq_handler_entry():int:args->irq'",
    "tsbpf argdist -p 1005 -H 'u:pthread:pthread_start():u64:arg2'   # a USDT probe's second argument",
    "tsbpf argdist -H 'p::__kmalloc(u64 size):u64:size'    # kernel functions (needs kprobes)",
  ],
  jsonFields: ["time", "probe", "count", "values", "ts", "val_type", "data"],
  hooks: () =>
    `uprobes (p:lib:fn, r:lib:fn), USDT (u:lib:probe), tracepoints (t:cat:event)${BPF.supports("kprobe") === "yes" ? ", kprobes (p::fn, r::fn)" : ""}; compiles with clang at start`,

  async run(ctx: ToolContext) {
    const a = ctx.args;
    const specs = [
      ...a.list("count").map((c) => parseSpec(c, "freq")),
      ...a.list("histogram").map((h) => parseSpec(h, "hist")),
    ];
    if (specs.length === 0) throw new UsageError("at least one specifier is required (-C or -H)");
    const stringSize = a.num("string-size") ?? 80;
    if (!(stringSize > 0)) throw new UsageError("-z/--string-size: expected a positive size");
    const interval = a.num("interval") ?? 1;
    const number = a.num("number");
    if (number !== undefined && number < 1) throw new UsageError("-n/--number: expected at least 1");
    const paths = specs.map(checkSpec);
    const pid = a.num("pid");
    const contexts = usdtContexts(specs, paths, pid);
    const text = generateProgram(specs, {
      pid,
      tid: a.num("tid"),
      stringSize,
      includes: a.list("include").map((h) => (h.startsWith(".") || h.startsWith("/") ? resolve(h) : h)),
      cgroup: a.cgroup !== undefined,
      usdtArgType: (i, n) => {
        const s = specs[i] as ArgdistSpec;
        try {
          return (contexts.get(i) as USDT).getProbeArgCtype(s.function, n - 1);
        } catch {
          throw new UsageError(`error parsing probe '${s.raw}': the USDT probe has no argument arg${n}`);
        }
      },
    });
    const out = ctx.out;
    if (a.flag("verbose")) {
      if (out.json) ctx.note(`the program:\n${text}`);
      else out.text(`${text}\n`);
    }
    const b = await ctx.compile(text, { usdtContexts: [...contexts.values()] });
    if (a.cgroup !== undefined) b.getTable<CgroupArray>("cgroup_map").set(0, a.cgroup);
    specs.forEach((s, i) => {
      attach(b, i, s, paths[i], pid);
    });
    if (a.flag("verbose") && !out.json) {
      out.line(`open uprobes: ${b.numOpenUprobes()}`);
      out.line(`open kprobes: ${b.numOpenKprobes()}`);
    }
    const top = a.num("top");
    const clear = !a.flag("cumulative");
    await ctx.intervals(interval, number, () => {
      if (!out.json) out.line(`[${hms()}]`);
      specs.forEach((s, i) => {
        display(out, b, i, s, top, clear);
      });
    });
  },
};
