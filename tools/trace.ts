/**
 * trace: bcc's trace. Probes on functions (p:, r:), tracepoints (t:) and
 * USDT probes (u:), each with an optional C filter and a printf-style
 * message; one row per event, bcc's columns. The filters and arguments are
 * C, so trace generates a bcc-dialect program from them
 * (lib/trace_codegen.ts) and compiles it at run time, as bcc's trace does:
 * it needs clang, and the compile cache makes a repeated command start warm.
 */
import { cpus, endianness } from "node:os";
import { resolve } from "node:path";
import {
  BPF,
  type CgroupArray,
  CompileError,
  NotSupportedError,
  type RingBuf,
  type StackTrace,
  type Table,
  USDT,
} from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { hms, jsonLine, ROW_BATCH_MS } from "./lib/output.js";
import { hasTracepoint, type Tool, type ToolContext } from "./lib/runtime.js";
import { functionName, generateProgram, HEADER, type RecordLayout } from "./lib/trace_codegen.js";
import {
  displayName,
  type FormatPiece,
  type FormatSpec,
  type ProbeSpec,
  parseProbe,
} from "./lib/trace_spec.js";

const LE = endianness() === "LE";

/** A probe's argument as it came out of the record, before it is printed. */
type Value = bigint | string;

/** The argument as the message prints it (printf conversions, %K and %U symbolised). */
function formatValue(spec: FormatSpec, v: Value, symbol: (conv: "K" | "U", addr: bigint) => string): string {
  let text: string;
  let numeric = true;
  if (typeof v === "string") {
    text = v;
    numeric = false;
  } else {
    switch (spec.conv) {
      case "d":
        text = BigInt.asIntN(spec.bits, v).toString();
        break;
      case "u":
        text = BigInt.asUintN(spec.bits, v).toString();
        break;
      case "x":
        text = BigInt.asUintN(spec.bits, v).toString(16);
        break;
      case "X":
        text = BigInt.asUintN(spec.bits, v).toString(16).toUpperCase();
        break;
      case "c":
        text = String.fromCharCode(Number(BigInt.asUintN(8, v)));
        numeric = false;
        break;
      default:
        text = symbol(spec.conv as "K" | "U", v);
        numeric = false;
    }
  }
  const m = /^([-0 +#]*)(\d*)$/.exec(spec.flags);
  const flags = m?.[1] ?? "";
  const width = Number(m?.[2] || 0);
  if (numeric && flags.includes("+") && !text.startsWith("-")) text = `+${text}`;
  if (text.length >= width) return text;
  if (flags.includes("-")) return text.padEnd(width);
  if (numeric && flags.includes("0")) {
    const sign = /^[-+]/.test(text) ? (text[0] as string) : "";
    return sign + text.slice(sign.length).padStart(width - sign.length, "0");
  }
  return text.padStart(width);
}

/** The message of an event: the format's text with its arguments. */
export function formatMessage(
  pieces: FormatPiece[],
  values: Value[],
  symbol: (conv: "K" | "U", addr: bigint) => string = (_c, a) => `0x${a.toString(16)}`,
): string {
  return pieces
    .map((p) => (typeof p === "string" ? p : formatValue(p.spec, values[p.arg] as Value, symbol)))
    .join("");
}

/** Tracepoints that may see what a kernel function does (for the kprobe-less error). */
function tracepointsLike(fn: string): string[] {
  const base = fn.replace(
    /^(__(x64|arm64|ia32|s390x)_sys_|__se_sys_|__do_sys_|do_sys_|ksys_|__sys_|sys_|SyS_)/,
    "",
  );
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const stem = base.replace(/\d+$/, "");
  let tps = BPF.getTracepoints(new RegExp(`[_:]${esc(stem)}\\d*$`));
  if (tps.length === 0) tps = BPF.getTracepoints(new RegExp(`[_:]${esc(base)}`));
  return tps.slice(0, 8);
}

/** Refuses kernel-function probes on a kernel without kprobes, naming tracepoints to use instead. */
function checkKprobes(probes: ProbeSpec[]): void {
  const kernelFns = probes.filter((p) => (p.type === "p" || p.type === "r") && p.library === "");
  if (kernelFns.length === 0 || BPF.supports("kprobe") === "yes") return;
  const p = kernelFns[0] as ProbeSpec;
  const tps = tracepointsLike(p.function);
  throw new NotSupportedError(
    `trace on the kernel function ${p.function} ('${p.raw}')`,
    "this kernel has no kprobes (CONFIG_KPROBES is off)",
    tps.length
      ? `trace a tracepoint instead, e.g. 't:${tps[0]}' (matching: ${tps.join(", ")}; tsbpf tplist -v CATEGORY:EVENT lists their fields)`
      : "trace a tracepoint instead (t:category:event; list them with tsbpf tplist)",
  );
}

/** The binary of a uprobe or USDT probe, or a UsageError. */
function binaryOf(p: ProbeSpec): string {
  const path = BPF.findLibrary(p.library) ?? BPF.findExe(p.library);
  if (!path) throw new UsageError(`error in probe '${p.raw}': unable to find library ${p.library}`);
  return path;
}

/** A record's header and arguments. */
interface TraceEvent {
  ts: bigint;
  tgid: number;
  pid: number;
  uid: number;
  probe: number;
  kernelStack: number;
  userStack: number;
  cpu: number;
  comm: string;
  values: Value[];
}

function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return Buffer.from(bytes.buffer, bytes.byteOffset, nul < 0 ? bytes.length : nul).toString("utf8");
}

function decode(
  data: Uint8Array,
  probes: ProbeSpec[],
  layouts: RecordLayout[],
  stringSize: number,
): TraceEvent {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const probe = dv.getUint32(HEADER.probe, LE);
  const p = probes[probe] as ProbeSpec;
  const layout = layouts[probe] as RecordLayout;
  return {
    ts: dv.getBigUint64(HEADER.ts, LE),
    tgid: dv.getUint32(HEADER.tgid, LE),
    pid: dv.getUint32(HEADER.pid, LE),
    uid: dv.getUint32(HEADER.uid, LE),
    probe,
    kernelStack: dv.getInt32(HEADER.kernelStack, LE),
    userStack: dv.getInt32(HEADER.userStack, LE),
    cpu: dv.getUint32(HEADER.cpu, LE),
    comm: cString(data.subarray(HEADER.comm, HEADER.comm + 16)),
    values: p.specs.map((s, i) => {
      const off = layout.offsets[i] as number;
      return s.conv === "s" ? cString(data.subarray(off, off + stringSize)) : dv.getBigUint64(off, LE);
    }),
  };
}

/** The USDT contexts of the u: probes, each probe enabled on its function. */
function usdtContexts(probes: ProbeSpec[], pid: number | undefined): Map<number, USDT> {
  const out = new Map<number, USDT>();
  probes.forEach((p, i) => {
    if (p.type !== "u") return;
    const path = binaryOf(p);
    const u = new USDT(pid === undefined ? { path } : { pid, path });
    u.enableProbe({
      probe: p.provider ? `${p.provider}:${p.function}` : p.function,
      fnName: functionName(p, i),
    });
    out.set(i, u);
  });
  return out;
}

function attach(b: BPF, probes: ProbeSpec[], layouts: RecordLayout[], pid: number | undefined): void {
  const tps = probes.flatMap((p, i) => (p.type === "t" ? [(layouts[i] as RecordLayout).fnName] : []));
  // loaded together: the kernel's BTF read once for all of them
  if (tps.length > 1) b.loadFuncs(BPF.TRACEPOINT, tps);
  probes.forEach((p, i) => {
    const fnName = (layouts[i] as RecordLayout).fnName;
    if (p.type === "t") b.attachTracepoint({ tp: `${p.category}:${p.function}`, fnName });
    else if (p.type === "u")
      return; // attached at load
    else if (p.library !== "") {
      const opts = { name: binaryOf(p), sym: p.function, fnName, pid: pid ?? -1 };
      if (p.type === "r") b.attachUretprobe(opts);
      else b.attachUprobe({ ...opts, symOff: p.offset });
    } else if (p.type === "r") b.attachKretprobe({ event: p.function, fnName });
    else b.attachKprobe({ event: p.function, fnName, eventOff: p.offset });
  });
}

export const tool: Tool = {
  name: "trace",
  summary: "Attach to functions and print trace messages.",
  options: [
    {
      short: "b",
      long: "buffer-pages",
      type: "int",
      help: "number of pages per CPU for the ring buffer (default: 64)",
    },
    { short: "p", long: "pid", type: "int", metavar: "PID", help: "id of the process to trace (optional)" },
    { short: "L", long: "tid", type: "int", metavar: "TID", help: "id of the thread to trace (optional)" },
    { long: "uid", type: "int", metavar: "UID", help: "id of the user to trace (optional)" },
    {
      short: "v",
      long: "verbose",
      type: "flag",
      help: "print resulting BPF program code before executing",
    },
    { short: "Z", long: "string-size", type: "int", help: "maximum size to read from strings (default: 80)" },
    { short: "S", long: "include-self", type: "flag", help: "do not filter trace's own pid from the trace" },
    { short: "M", long: "max-events", type: "int", help: "number of events to print before quitting" },
    {
      short: "t",
      long: "timestamp",
      type: "flag",
      help: "print timestamp column (offset from trace start)",
    },
    {
      short: "u",
      long: "unix-timestamp",
      type: "flag",
      help: "print UNIX timestamp instead of offset from trace start, requires -t",
    },
    { short: "T", long: "time", type: "flag", help: "print time column" },
    { short: "C", long: "print_cpu", type: "flag", help: "print CPU id" },
    {
      short: "c",
      long: "cgroup",
      type: "string",
      metavar: "CGROUP_PATH",
      help: "trace only processes in this cgroup (v2 directory) and its children",
    },
    { short: "n", long: "name", type: "string", help: "only print process names containing this name" },
    {
      short: "f",
      long: "msg-filter",
      type: "string",
      help: "only print the msg of event containing this string",
    },
    {
      short: "B",
      long: "bin_cmp",
      type: "flag",
      help: "STRCMP's string is binary: its bytes are compared, without a terminator",
    },
    { short: "K", long: "kernel-stack", type: "flag", help: "output kernel stack trace" },
    { short: "U", long: "user-stack", type: "flag", help: "output user stack trace" },
    { short: "a", long: "address", type: "flag", help: "print virtual address in stacks" },
    {
      short: "I",
      long: "include",
      type: "list",
      metavar: "header",
      help: "additional header files to include in the BPF program as either full path, or relative to current working directory, or a kernel header name (its types come from the kernel's BTF)",
    },
    {
      short: "A",
      long: "aggregate",
      type: "flag",
      help: "aggregate amount of each trace (with -M: printed when the events are in)",
    },
  ],
  positionals: [
    { name: "probe", type: "string", required: true, many: true, help: "probe specifier (see examples)" },
  ],
  examples: [
    "tsbpf trace do_sys_open                                  # kernel function entries (kprobes)",
    "tsbpf trace 'do_sys_open \"%s\", arg2@user'               # with the file name, read from user memory",
    "tsbpf trace 'sys_read (arg3 > 20000) \"read %d bytes\", arg3'",
    "tsbpf trace 'r::do_sys_open \"%llx\", retval'              # return values",
    "tsbpf trace 'c:open (arg2 == 42) \"%s %d\", arg1, arg2'    # libc's open() when flags is 42",
    "tsbpf trace 'p:c:write (arg1 == 1) \"writing %d bytes to STDOUT\", arg3'",
    "tsbpf trace 'r:c:malloc (retval) \"allocated = %x\", retval'",
    "tsbpf trace 'p:c:malloc(size_t size) (size > 1000) \"%d\", size'   # a signature names the arguments",
    "tsbpf trace 't:syscalls:sys_enter_openat \"%s\", args->filename'   # tracepoints and their fields",
    "tsbpf trace 't:block:block_rq_complete \"sectors=%d\", args->nr_sector'",
    "tsbpf trace 'u:pthread:pthread_create (arg4 != 0)'      # USDT probes",
    "tsbpf trace 'c:open (STRCMP(\"/etc/passwd\", arg1))' -U  # string filter, user stacks",
    "tsbpf trace -p 181 -M 10 -T 'c:write \"%d\", arg3'        # one process, 10 events, a time column",
  ],
  jsonFields: [
    "time",
    "ts",
    "cpu",
    "pid",
    "tid",
    "uid",
    "comm",
    "func",
    "msg",
    "values",
    "kernel_stack",
    "user_stack",
    "count",
  ],
  hooks: () =>
    `uprobes (p:lib:func, r:lib:func), USDT (u:), tracepoints (t:)${BPF.supports("kprobe") === "yes" ? ", kprobes (p::func, r::func)" : ""}`,

  async run(ctx) {
    const a = ctx.args;
    const texts = a.list("probe");
    const probes = texts.map(parseProbe);
    const pid = a.num("pid");
    const tid = a.num("tid");
    if (pid !== undefined && tid !== undefined)
      throw new UsageError("only one of -p and -L may be specified");
    const maxEvents = a.num("max-events");
    if (maxEvents !== undefined && maxEvents <= 0)
      throw new UsageError("-M/--max-events: expected a positive number");
    const aggregate = a.flag("aggregate");
    if (aggregate && maxEvents === undefined)
      throw new UsageError("-M/--max-events should be specified with -A/--aggregate");
    const stringSize = a.num("string-size") ?? 80;
    if (!(stringSize > 0 && stringSize <= 4096)) throw new UsageError("-Z/--string-size: expected 1 to 4096");
    const pages = a.num("buffer-pages") ?? 64;
    if (!(pages > 0) || (pages & (pages - 1)) !== 0)
      throw new UsageError("-b/--buffer-pages: expected a power of two");
    if (a.flag("unix-timestamp") && !a.flag("timestamp"))
      throw new UsageError("-u/--unix-timestamp requires -t");
    for (const p of probes) {
      if (p.type === "t" && !hasTracepoint(`${p.category}:${p.function}`)) {
        const near = BPF.getTracepoints(new RegExp(p.function.replace(/[^\w]/g, ""))).slice(0, 5);
        throw new UsageError(
          `error in probe '${p.raw}': this kernel has no tracepoint ${p.category}:${p.function}${near.length ? ` (similar: ${near.join(", ")})` : ""}`,
        );
      }
      if (p.library !== "") binaryOf(p);
    }
    checkKprobes(probes);

    const kernelStack = a.flag("kernel-stack");
    const userStack = a.flag("user-stack");
    const cgroup = a.str("cgroup");
    const ringPages = 2 ** Math.ceil(Math.log2(pages * Math.max(1, cpus().length)));
    // the USDT notes give the C types of the probes' arguments
    const contexts = usdtContexts(probes, pid ?? tid);
    const { text, layouts } = generateProgram(probes, {
      stringSize,
      pid,
      tid,
      uid: a.num("uid"),
      selfPid: a.flag("include-self") ? undefined : process.pid,
      cgroup: cgroup !== undefined,
      kernelStack,
      userStack,
      includes: a.list("include").map((h) => (h.startsWith(".") || h.startsWith("/") ? resolve(h) : h)),
      binCmp: a.flag("bin_cmp"),
      ringPages,
      usdtArgType: (i, n) => {
        const p = probes[i] as ProbeSpec;
        const u = contexts.get(i) as USDT;
        try {
          return u.getProbeArgCtype(p.provider ? `${p.provider}:${p.function}` : p.function, n - 1);
        } catch {
          throw new UsageError(`error in probe '${p.raw}': the USDT probe has no argument ${n}`);
        }
      },
    });
    const out = ctx.out;
    if (a.flag("verbose")) {
      if (out.json) ctx.note(`the generated program:\n${text}`);
      else out.text(`${text}\n`);
    }
    const b = await ctx.compile(text, { usdtContexts: [...contexts.values()] }).catch((e: unknown) => {
      throw inProbe(e, text, probes);
    });
    if (cgroup !== undefined) b.getTable<CgroupArray>("__cgroup").set(0, cgroup);
    attach(b, probes, layouts, pid);
    await traceEvents(ctx, b, probes, layouts, {
      stringSize,
      maxEvents,
      aggregate,
      kernelStack,
      userStack,
    });
  },
};

/**
 * A compile error said in the user's terms: the probe whose expressions the
 * failing line came from (the program's lines are the generator's, not the user's).
 */
function inProbe(e: unknown, text: string, probes: ProbeSpec[]): unknown {
  if (!(e instanceof CompileError)) return e;
  const line = e.diagnostics.find((d) => d.severity === "error" || d.severity === "fatal error")?.line;
  if (line === undefined) return e;
  const lines = text.split("\n");
  // the last probe whose part of the program ("// probe N") starts at or before the line
  let probe: ProbeSpec | undefined;
  lines.slice(0, line).forEach((t) => {
    const m = /^\/\/ probe (\d+)$/.exec(t);
    if (m) probe = probes[Number(m[1]) - 1];
  });
  if (!probe) return e;
  return new CompileError(
    `${e.message}\n(in the C generated for probe '${probe.raw}'; -v prints the program)`,
    e.diagnostics,
    e.output,
  );
}

/** Prints the events until the end of the run or -M events. */
async function traceEvents(
  ctx: ToolContext,
  b: BPF,
  probes: ProbeSpec[],
  layouts: RecordLayout[],
  o: {
    stringSize: number;
    maxEvents: number | undefined;
    aggregate: boolean;
    kernelStack: boolean;
    userStack: boolean;
  },
): Promise<void> {
  const a = ctx.args;
  const out = ctx.out;
  const offsetTime = a.flag("timestamp");
  const unixTime = a.flag("unix-timestamp");
  const printTime = offsetTime || a.flag("time");
  const printCpu = a.flag("print_cpu");
  const showAddress = a.flag("address");
  const name = a.str("name");
  const msgFilter = a.str("msg-filter");
  const firstTs = BPF.monotonicTime();
  const firstReal = Date.now() / 1000;
  const trivial = probes.every((p) => p.format === "");
  let header = "";
  if (printTime) header += unixTime ? "TIME".padEnd(17) : "TIME".padEnd(8);
  if (printTime) header += " ";
  if (printCpu) header += "CPU ";
  out.printf("%s%-7s %-7s %-15s %-16s %s", header, "PID", "TID", "COMM", "FUNC", trivial ? "" : "-");
  const stacks = o.kernelStack || o.userStack ? b.getTable<StackTrace>("stacks") : undefined;
  const stackLines = (id: number, tgid: number): string[] => {
    if (id < 0) return [`        ${id}`];
    return (stacks as StackTrace).walk(id, (ip) => {
      const sym =
        tgid < 0
          ? b.ksym(ip, { showModule: true, showOffset: true })
          : b.sym(ip, tgid, { showModule: true, showOffset: true });
      return `        ${showAddress ? `${ip.toString(16).padStart(16)} ` : ""}${sym}`;
    });
  };
  const counts = new Map<string, { n: number; record?: Record<string, unknown> }>();
  let events = 0;
  let done = false;
  const ring = b.getTable<RingBuf>("events");
  ring.openRingBuffer(
    (_c, data) => {
      if (done) return;
      const e = decode(data, probes, layouts, o.stringSize);
      const p = probes[e.probe] as ProbeSpec;
      if (name !== undefined && !e.comm.includes(name)) return;
      const msg = formatMessage(p.pieces, e.values, (conv, addr) =>
        conv === "K"
          ? b.ksym(addr, { showOffset: true })
          : b.sym(addr, e.tgid, { showModule: true, showOffset: true }),
      );
      if (msgFilter !== undefined && !msg.includes(msgFilter)) return;
      const offset = Number(e.ts - firstTs) / 1e9;
      const kernel = o.kernelStack ? stackLines(e.kernelStack, -1) : [];
      const user = o.userStack ? stackLines(e.userStack, e.tgid) : [];
      if (out.json) {
        const values = e.values.map((v, i) => {
          const s = p.specs[i] as FormatSpec;
          if (typeof v === "string") return v;
          if (s.conv === "K" || s.conv === "U" || s.conv === "c")
            return formatValue({ ...s, flags: "" }, v, (conv, addr) =>
              conv === "K"
                ? b.ksym(addr, { showOffset: true })
                : b.sym(addr, e.tgid, { showModule: true, showOffset: true }),
            );
          return s.conv === "d" ? BigInt.asIntN(s.bits, v) : BigInt.asUintN(s.bits, v);
        });
        const rec: Record<string, unknown> = {
          pid: e.tgid,
          tid: e.pid,
          uid: e.uid,
          comm: e.comm,
          func: displayName(p),
          msg,
          values,
          ...(o.kernelStack ? { kernel_stack: kernel.map((l) => l.trim()) } : {}),
          ...(o.userStack ? { user_stack: user.map((l) => l.trim()) } : {}),
        };
        if (o.aggregate) {
          const key = jsonLine(rec);
          const c = counts.get(key) ?? { n: 0, record: rec };
          c.n++;
          counts.set(key, c);
        } else out.record({ time: new Date().toISOString(), ts: offset, cpu: e.cpu, ...rec });
      } else {
        let row = "";
        if (printTime) {
          const t = offsetTime
            ? (unixTime ? (offset + firstReal).toFixed(6) : offset.toFixed(6)).slice(0, unixTime ? 17 : 8)
            : hms();
          row += `${t.padEnd(unixTime ? 17 : 8)} `;
        }
        if (printCpu) row += `${String(e.cpu).padEnd(3)} `;
        const lines = [
          `${row}${String(e.tgid).padEnd(7)} ${String(e.pid).padEnd(7)} ${e.comm.padEnd(15)} ${displayName(p).padEnd(16)} ${msg}`,
          ...kernel,
          ...user,
        ];
        if (o.aggregate) {
          const key = lines.join("\n");
          const c = counts.get(key) ?? { n: 0 };
          c.n++;
          counts.set(key, c);
        } else {
          for (const l of lines) out.line(l);
          if (o.kernelStack || o.userStack) out.line("");
        }
      }
      events++;
      if (o.maxEvents !== undefined && events >= o.maxEvents) {
        done = true;
        ctx.stop();
      }
    },
    { coalesceMs: ROW_BATCH_MS },
  );
  await ctx.done();
  const lost = Number((b.getTable<Table>("lost").get(0) as bigint | number | undefined) ?? 0);
  if (lost > 0) ctx.note(`Possibly lost ${lost} samples (the ring buffer was full; -b makes it larger)`);
  if (o.aggregate) {
    for (const [key, c] of [...counts].sort((x, y) => y[1].n - x[1].n)) {
      if (out.json) out.record({ ...c.record, count: c.n });
      else out.text(`${key}\n-->COUNT ${c.n}\n\n`);
    }
  }
}
