/**
 * tsbpf against programs nobody here wrote: bcc's own tools, as Debian ships
 * them (bpfcc-tools). Each tool runs with default arguments under a stand-in
 * bcc.BPF (record.py) that records the C text, cflags and attach calls it
 * makes; the same are then replayed through tsbpf: compile, load each function
 * as the type its attach call implies (verify), and attach on this kernel.
 * The tools' C stays in Debian's package; only the results are kept.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BPF, BpfError, NotSupportedError } from "../../src/index.js";

/** Where Debian's bpfcc-tools installs the tools (each `<name>-bpfcc`). */
export const TOOLS_DIR = "/usr/sbin";
const RECORDER = fileURLToPath(new URL("../../../test/compat/record.py", import.meta.url));
/** The tools' interpreter: Debian's python3, which has the bcc module. */
const PYTHON = "/usr/bin/python3";

/** One call a tool made on its BPF object, as record.py wrote it. */
export interface RecordedCall {
  call: string;
  fn_name?: string;
  event?: string;
  event_re?: string;
  event_off?: number;
  maxactive?: number;
  tp?: string;
  tp_re?: string;
  prog_type?: number;
  name?: string;
  sym?: string;
  sym_re?: string;
  addr?: number;
  pid?: number;
  sym_off?: number;
  ev_type?: number;
  ev_config?: number;
  sample_period?: number;
  sample_freq?: number;
  cpu?: number;
  dev?: string;
  flags?: number;
}

export interface RecordedProgram {
  text: string;
  cflags: string[];
  debug: number;
  usdt: Array<{ pid: number | null; path: string | null; probes: Array<{ probe: string; fn_name: string }> }>;
  calls: RecordedCall[];
}

export interface ToolRecord {
  tool: string;
  args: string[];
  /** stopped: set up and started waiting for events; exited/returned/failed: never got there; skipped: not a bcc tool. */
  status: "stopped" | "exited" | "returned" | "failed" | "skipped";
  error: string | null;
  programs: RecordedProgram[];
}

/** How far a program got through tsbpf on this kernel. */
export type Stage = "compile" | "verify" | "attach" | "ok";

export interface ProgramResult {
  tool: string;
  /** 1-based index among the tool's programs (a tool may build several). */
  index: number;
  /** The stage that failed, or "ok": compiled, verified and attached. */
  failedAt: Stage;
  /** The error, one line. */
  error?: string;
  /**
   * The failure names a difference of the running kernel: a NotSupportedError
   * (it lacks a feature), or an error that says what "this kernel" lacks
   * (a function, tracepoint, struct member or module).
   */
  kernelLacks?: boolean;
  /** Functions loaded in the verify stage. */
  verified: number;
  /** Attach calls replayed. */
  attached: number;
}

/** Every tool Debian's package installs, as `<name>` (without -bpfcc). */
export function listTools(): string[] {
  if (!existsSync(TOOLS_DIR)) return [];
  return readdirSync(TOOLS_DIR)
    .filter((f) => f.endsWith("-bpfcc"))
    .map((f) => f.slice(0, -"-bpfcc".length))
    .sort();
}

/** Runs one tool under record.py (default arguments unless given); resolves its record. */
export async function recordTool(name: string, args: string[] = [], timeoutMs = 30_000): Promise<ToolRecord> {
  const rec = await recordOnce(name, args, timeoutMs, false);
  // A curses tool (cachetop, …) needs a terminal: run it again on one (script(1) makes a pty).
  if (rec.status === "failed" && /nocbreak|setupterm|curses/.test(rec.error ?? ""))
    return recordOnce(name, args, timeoutMs, true);
  return rec;
}

function recordOnce(name: string, args: string[], timeoutMs: number, terminal: boolean): Promise<ToolRecord> {
  // Debian's language tools (javacalls, rubyflow, …) are shell wrappers around
  // lib/ucalls & co., which the package does not install: not bcc programs.
  const first = readFileSync(join(TOOLS_DIR, `${name}-bpfcc`), "utf8").split("\n", 1)[0] ?? "";
  if (!/python/.test(first)) {
    return Promise.resolve({
      tool: name,
      args,
      status: "skipped",
      error: `not a Python tool (${first})`,
      programs: [],
    });
  }
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-compat-"));
  const out = join(dir, "record.json");
  return new Promise((resolve) => {
    const argv = [PYTHON, RECORDER, join(TOOLS_DIR, `${name}-bpfcc`), ...args];
    const quote = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;
    const [cmd, ...rest] = terminal ? ["script", "-qec", argv.map(quote).join(" "), "/dev/null"] : argv;
    const child = spawn(cmd as string, rest, {
      env: {
        ...process.env,
        TSBPF_COMPAT_OUT: out,
        PYTHONDONTWRITEBYTECODE: "1",
        ...(terminal ? { TERM: "xterm" } : {}),
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      let rec: ToolRecord;
      try {
        rec = JSON.parse(readFileSync(out, "utf8")) as ToolRecord;
        rec.tool = name;
      } catch {
        const why = signal ? `killed by ${signal} after ${timeoutMs} ms` : `exit ${code}`;
        rec = {
          tool: name,
          args,
          status: "failed",
          error: `no record (${why}): ${stderr.trim().split("\n").pop() ?? ""}`,
          programs: [],
        };
      }
      rmSync(dir, { recursive: true, force: true });
      resolve(rec);
    });
  });
}

/** The error in one line (a compile error: its headline, first diagnostic and notes). */
const oneLine = (err: unknown): string => {
  const text = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
  const lines = text.split("\n");
  const head = (lines[0]?.endsWith(":") ? `${lines[0]} ${lines[1]?.trim() ?? ""}` : (lines[0] ?? "")).trim();
  const notes = lines.filter((l) => l.startsWith("note: ")).map((l) => l.slice(6));
  return [head, ...notes].join("; ");
};

/** The program type a bcc attach call loads its function as. */
function progTypeOf(call: RecordedCall): number | undefined {
  switch (call.call) {
    case "attach_kprobe":
    case "attach_kretprobe":
    case "attach_uprobe":
    case "attach_uretprobe":
      return BPF.KPROBE;
    case "attach_tracepoint":
      return BPF.TRACEPOINT;
    case "attach_raw_tracepoint":
      return BPF.RAW_TRACEPOINT;
    case "attach_perf_event":
    case "attach_perf_event_raw":
      return BPF.PERF_EVENT;
    case "attach_xdp":
      return BPF.XDP;
    case "attach_raw_socket":
      return BPF.SOCKET_FILTER;
    case "load_func":
      return call.prog_type;
    default:
      return undefined; // kfunc/kretfunc/lsm: loaded by their attach (they need a BTF target)
  }
}

/** The auto-attach kinds and the program type bcc loads them as. */
const AUTO_TYPES: Record<string, number> = {
  kprobe: BPF.KPROBE,
  kretprobe: BPF.KPROBE,
  tracepoint: BPF.TRACEPOINT,
  raw_tracepoint: BPF.RAW_TRACEPOINT,
};

/** Replays one call of a tool through tsbpf's API. */
function replayCall(b: BPF, c: RecordedCall): void {
  const fnName = c.fn_name ?? "";
  switch (c.call) {
    case "attach_kprobe":
      b.attachKprobe({
        fnName,
        ...(c.event_re ? { eventRe: c.event_re } : { event: c.event ?? "" }),
        ...(c.event_off ? { eventOff: c.event_off } : {}),
      });
      return;
    case "attach_kretprobe":
      b.attachKretprobe({ fnName, ...(c.event_re ? { eventRe: c.event_re } : { event: c.event ?? "" }) });
      return;
    case "attach_tracepoint":
      b.attachTracepoint({ fnName, ...(c.tp_re ? { tpRe: c.tp_re } : { tp: c.tp ?? "" }) });
      return;
    case "attach_raw_tracepoint":
      b.attachRawTracepoint({ fnName, tp: c.tp ?? "" });
      return;
    case "attach_kfunc":
      b.attachKfunc({ fnName });
      return;
    case "attach_kretfunc":
      b.attachKretfunc({ fnName });
      return;
    case "attach_lsm":
      b.attachLsm({ fnName });
      return;
    case "attach_uprobe":
    case "attach_uretprobe": {
      const opts = {
        name: c.name ?? "",
        fnName,
        ...(c.sym ? { sym: c.sym } : {}),
        ...(c.sym_re ? { symRe: c.sym_re } : {}),
        ...(c.addr ? { addr: c.addr } : {}),
        ...(c.pid !== undefined ? { pid: c.pid } : {}),
        ...(c.sym_off ? { symOff: c.sym_off } : {}),
      };
      if (c.call === "attach_uprobe") b.attachUprobe(opts);
      else b.attachUretprobe(opts);
      return;
    }
    case "attach_perf_event":
      b.attachPerfEvent({
        evType: c.ev_type ?? 0,
        evConfig: c.ev_config ?? 0,
        fnName,
        ...(c.sample_period ? { samplePeriod: c.sample_period } : {}),
        ...(c.sample_freq ? { sampleFreq: c.sample_freq } : {}),
        ...(c.pid !== undefined ? { pid: c.pid } : {}),
        ...(c.cpu !== undefined ? { cpu: c.cpu } : {}),
      });
      return;
    case "attach_xdp":
      b.attachXdp(c.dev ?? "lo", fnName, c.flags ?? 0);
      b.removeXdp(c.dev ?? "lo", c.flags ?? 0);
      return;
    case "load_func":
    case "load_funcs":
      return; // verified in the verify stage
    default:
      throw new BpfError(`the harness cannot replay ${c.call}`);
  }
}

/** Compiles, verifies and attaches one recorded program; everything it loads is closed again. */
export async function replayProgram(tool: string, index: number, p: RecordedProgram): Promise<ProgramResult> {
  const result: ProgramResult = { tool, index, failedAt: "compile", verified: 0, attached: 0 };
  const fail = (stage: Stage, err: unknown): ProgramResult => {
    result.failedAt = stage;
    result.error = oneLine(err);
    result.kernelLacks =
      err instanceof NotSupportedError || /\bthis kernel\b/.test(String((err as Error)?.message));
    return result;
  };
  let b: BPF;
  try {
    b = await BPF.load({ text: p.text, cflags: p.cflags, autoAttach: false });
  } catch (err) {
    return fail("compile", err);
  }
  try {
    // Verify: every function an attach call names, and every auto-attached
    // one, loaded as the program type bcc would load it as.
    const toLoad = new Map<string, number>();
    for (const c of p.calls) {
      const t = progTypeOf(c);
      if (t !== undefined && c.fn_name) toLoad.set(`${c.fn_name}/${t}`, t);
    }
    for (const prog of b.compiled.programs) {
      const t = prog.autoAttach ? AUTO_TYPES[prog.autoAttach.kind] : undefined;
      if (t !== undefined) toLoad.set(`${prog.name}/${t}`, t);
    }
    for (const [key, t] of toLoad) {
      b.loadFunc(key.slice(0, key.lastIndexOf("/")), t);
      result.verified++;
    }
  } catch (err) {
    b.close();
    return fail("verify", err);
  }
  b.close();
  // Attach: as the tool does (bcc's constructor auto-attaches, then the tool's calls).
  let a: BPF | undefined;
  try {
    a = await BPF.load({ text: p.text, cflags: p.cflags });
    for (const c of p.calls) {
      replayCall(a, c);
      if (c.call.startsWith("attach_")) result.attached++;
    }
    result.failedAt = "ok";
    return result;
  } catch (err) {
    return fail("attach", err);
  } finally {
    a?.close();
  }
}

/** One row of the compatibility table: a tool and what became of each of its programs. */
export interface ToolResult {
  record: ToolRecord;
  programs: ProgramResult[];
}

/** Records and replays the tools (every installed one by default), `parallel` recordings at a time. */
export async function runCompat(
  tools: string[] = listTools(),
  opts: { parallel?: number; onTool?: (r: ToolResult) => void } = {},
): Promise<ToolResult[]> {
  const records: ToolRecord[] = new Array(tools.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tools.length) {
      const i = next++;
      records[i] = await recordTool(tools[i] as string);
    }
  };
  await Promise.all(Array.from({ length: opts.parallel ?? 2 }, worker));
  const out: ToolResult[] = [];
  for (const record of records) {
    const programs: ProgramResult[] = [];
    let index = 0;
    for (const p of record.programs) {
      index++;
      if (p.text.trim() === "") continue; // a probe of bcc's, e.g. BPF(text="")
      programs.push(await replayProgram(record.tool, index, p));
    }
    const r = { record, programs };
    opts.onTool?.(r);
    out.push(r);
  }
  return out;
}

/** Totals over the results. */
export function summarize(results: ToolResult[]): {
  tools: number;
  toolsWithPrograms: number;
  programs: number;
  compiled: number;
  verified: number;
  attached: number;
  kernelLacks: number;
} {
  const progs = results.flatMap((r) => r.programs);
  return {
    tools: results.length,
    toolsWithPrograms: results.filter((r) => r.programs.length > 0).length,
    programs: progs.length,
    compiled: progs.filter((p) => p.failedAt !== "compile").length,
    verified: progs.filter((p) => p.failedAt === "attach" || p.failedAt === "ok").length,
    attached: progs.filter((p) => p.failedAt === "ok").length,
    kernelLacks: progs.filter((p) => p.failedAt !== "ok" && p.kernelLacks).length,
  };
}
