/**
 * profile: CPU profiler, bcc's options and output: stacks sampled at a
 * frequency on every CPU (a perf event per CPU, bcc's software CPU clock, or
 * the hardware cycle counter where the CPU has one), counted in the kernel
 * and printed at the end as stacks or folded lines; plus files that
 * flame-graph and profile viewers open (--svg, --pprof). JavaScript frames
 * of a Node.js process started with --perf-basic-prof resolve by name
 * through its /tmp/perf-PID.map.
 */
import { existsSync, readlinkSync, rmSync } from "node:fs";
import { perfMapPath, processSymbols } from "../src/elf/procmaps.js";
import { BPF, type StackTrace, type Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { isNodeCommand, type Launched, launch } from "./lib/launch.js";
import type { Tool } from "./lib/runtime.js";
import {
  lostStacksWarning,
  PROFILE_FILE_OPTIONS,
  printStacks,
  readStacks,
  type StackShape,
  V8_MARKERS_OPTION,
  writeProfileFiles,
} from "./lib/stacks.js";

interface Key {
  pid: number;
  user_stack_id: number;
  kernel_stack_id: number;
  name: string;
}

/** The BPF program's room for -p PIDs. */
const MAX_PIDS = 16;
const PERF_TYPE_HARDWARE = 0;
const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_HW_CPU_CYCLES = 0;
const PERF_COUNT_SW_CPU_CLOCK = 0;

/** A comma-separated list of positive integers (bcc's -p/-L). */
function idList(text: string | undefined, what: string): number[] {
  if (text === undefined) return [];
  const ids = text.split(",").map((t) => Number(t.trim()));
  if (ids.some((n) => !Number.isInteger(n) || n <= 0))
    throw new UsageError(`${what}: expected comma-separated positive integers, got "${text}"`);
  return ids;
}

export const tool: Tool = {
  name: "profile",
  summary: "Profile CPU stack traces at a timed interval",
  options: [
    {
      short: "p",
      long: "pid",
      type: "string",
      metavar: "PID",
      help: "profile process with one or more comma separated PIDs only",
    },
    {
      short: "L",
      long: "tid",
      type: "string",
      metavar: "TID",
      help: "profile thread with one or more comma separated TIDs only",
    },
    {
      short: "U",
      long: "user-stacks-only",
      type: "flag",
      help: "show stacks from user space only (no kernel space stacks)",
    },
    {
      short: "K",
      long: "kernel-stacks-only",
      type: "flag",
      help: "show stacks from kernel space only (no user space stacks)",
    },
    { short: "F", long: "frequency", type: "int", help: "sample frequency, Hertz" },
    { short: "c", long: "count", type: "int", help: "sample period, number of events" },
    { short: "d", long: "delimited", type: "flag", help: "insert delimiter between kernel/user stacks" },
    { short: "a", long: "annotations", type: "flag", help: "add _[k] annotations to kernel frames" },
    { short: "I", long: "include-idle", type: "flag", help: "include CPU idle stacks" },
    {
      short: "f",
      long: "folded",
      type: "flag",
      help: "output folded format, one line per stack (for flame graphs)",
    },
    {
      long: "hash-storage-size",
      type: "int",
      help: "the number of hash keys that can be stored and (default 40960)",
    },
    {
      long: "stack-storage-size",
      type: "int",
      help: "the number of unique stack traces that can be stored and displayed (default 16384)",
    },
    { short: "C", long: "cpu", type: "int", help: "cpu number to run profile on" },
    ...PROFILE_FILE_OPTIONS,
    V8_MARKERS_OPTION,
  ],
  positionals: [{ name: "duration", type: "float", help: "duration of trace, in seconds" }],
  command: {
    name: "command",
    help: "start this command and profile it until it exits (node gets --perf-basic-prof: JavaScript frames by name)",
  },
  examples: [
    "tsbpf profile             # profile stack traces at 49 Hertz until Ctrl-C",
    "tsbpf profile -F 99       # profile stack traces at 99 Hertz",
    "tsbpf profile -c 1000000  # profile stack traces every 1 in a million events",
    "tsbpf profile 5           # profile at 49 Hertz for 5 seconds only",
    "tsbpf profile -f 5        # output in folded format for flame graphs",
    "tsbpf profile -p 185      # only profile process with PID 185",
    "tsbpf profile -L 185      # only profile thread with TID 185",
    "tsbpf profile -U          # only show user space stacks (no kernel)",
    "tsbpf profile -K          # only show kernel space stacks (no user)",
    "tsbpf profile --svg cpu.svg --pprof cpu.pb.gz 10   # 10 seconds, as a flame graph and a pprof file",
    "tsbpf profile -U -f -- node app.js   # start a Node.js script and profile it, JavaScript frames by name",
  ],
  jsonFields: ["pid", "comm", "user_stack", "kernel_stack", "count"],
  hooks: () =>
    BPF.supports("perf_event:hardware") === "yes"
      ? "perf event: hardware CPU cycles on each CPU"
      : "perf event: software CPU clock on each CPU",

  async run(ctx) {
    const a = ctx.args;
    const pids = idList(a.str("pid"), "-p/--pid");
    const tids = idList(a.str("tid"), "-L/--tid");
    if (a.command.length && (pids.length || tids.length))
      throw new UsageError("-- COMMAND: not allowed with -p/--pid or -L/--tid (it profiles the command)");
    if (pids.length && tids.length)
      throw new UsageError("argument -L/--tid: not allowed with argument -p/--pid");
    if (pids.length > MAX_PIDS) throw new UsageError(`-p/--pid: at most ${MAX_PIDS} PIDs`);
    if (tids.length > 1) throw new UsageError("-L/--tid: tsbpf's profile takes one TID");
    const userOnly = a.flag("user-stacks-only");
    const kernelOnly = a.flag("kernel-stacks-only");
    if (userOnly && kernelOnly)
      throw new UsageError(
        "argument -K/--kernel-stacks-only: not allowed with argument -U/--user-stacks-only",
      );
    const freqArg = a.num("frequency");
    const period = a.num("count");
    if (freqArg !== undefined && period !== undefined)
      throw new UsageError("argument -c/--count: not allowed with argument -F/--frequency");
    const freq = period === undefined ? (freqArg ?? 49) : undefined;
    if ((freq !== undefined && freq <= 0) || (period !== undefined && period <= 0))
      throw new UsageError("-F/--frequency and -c/--count: must be positive");
    const folded = a.flag("folded");
    const hardware = BPF.supports("perf_event:hardware") === "yes";
    if (hardware) ctx.note("sampling the hardware CPU cycle counter (bcc: the software CPU clock)");

    // held until attached, so its first instructions are profiled too
    const child: Launched | undefined = a.command.length ? launch(a.command) : undefined;
    if (child) pids.push(child.pid);
    else for (const pid of pids) warnNoPerfMap(pid, (t) => ctx.note(t));
    const targPids = new Array<number>(MAX_PIDS).fill(0);
    pids.forEach((p, i) => {
      targPids[i] = p;
    });
    const b: BPF = await startOrKill(child, async () => {
      const b = await ctx.open({
        rodata: {
          targ_pids: targPids,
          n_pids: pids.length,
          targ_tid: tids[0] ?? 0,
          include_idle: a.flag("include-idle"),
          user_stacks: !kernelOnly,
          kernel_stacks: !userOnly,
        },
        mapSizes: {
          counts: a.num("hash-storage-size") ?? 40960,
          stack_traces: a.num("stack-storage-size") ?? 16384,
        },
      });
      b.attachPerfEvent({
        evType: hardware ? PERF_TYPE_HARDWARE : PERF_TYPE_SOFTWARE,
        evConfig: hardware ? PERF_COUNT_HW_CPU_CYCLES : PERF_COUNT_SW_CPU_CLOCK,
        fnName: "on_sample",
        ...(freq !== undefined ? { sampleFreq: freq } : { samplePeriod: period as number }),
        cpu: a.num("cpu") ?? -1,
      });
      return b;
    });
    const out = ctx.out;
    const started = Date.now();
    if (!folded) {
      const threads = child
        ? `${a.command[0]} (PID ${child.pid})`
        : pids.length
          ? `PID ${pids.join(",")}`
          : tids.length
            ? `TID ${tids[0]}`
            : "all threads";
      const stacks = userOnly ? "user" : kernelOnly ? "kernel" : "user + kernel";
      const rate = freq !== undefined ? `${freq} Hertz` : `every ${period} events`;
      const duration = a.duration;
      out.line(
        `Sampling at ${rate} of ${threads} by ${stacks} stack` +
          (duration !== undefined && duration < 99999999
            ? ` for ${duration} secs.`
            : "... Hit Ctrl-C to end."),
      );
    }
    let mapsReader: NodeJS.Timeout | undefined;
    if (child) {
      // The command's mappings are read while it runs: once it has exited,
      // /proc no longer has them, and its user frames are named from these.
      const syms = processSymbols(child.pid);
      mapsReader = setInterval(() => syms.refresh(), MAPS_READ_MS);
      void child.exited.then(() => ctx.stop());
      child.go();
    }
    try {
      await ctx.done();
    } finally {
      clearInterval(mapsReader);
      if (child && !child.ended) {
        // --duration or an error ended the run first (Ctrl-C reaches the command by itself)
        child.kill();
        await child.exited;
      }
    }
    const durationMs = Date.now() - started;

    const shape: StackShape = {
      userOnly,
      kernelOnly,
      delimited: a.flag("delimited"),
      v8Markers: a.flag("v8-markers"),
      annotate: a.flag("annotations"),
    };
    const { rows, missing, enomem } = readStacks<Key>(
      b.getTable<Table>("counts"),
      b.getTable<StackTrace>("stack_traces"),
      shape,
      (k) => k.pid, // the key's pid is the process
    );
    printStacks(out, rows, shape, {
      folded,
      pidOf: (k) => k.pid,
      record: ({ key: k, value }, stacks) => ({ pid: k.pid, comm: k.name, ...stacks, count: value }),
    });
    const lost = lostStacksWarning(missing, enomem);
    if (lost) ctx.note(lost);
    if (child) {
      const code = await child.exited;
      if (code !== 0) ctx.note(`${a.command[0]} (PID ${child.pid}) ended with ${code}`);
    }

    writeProfileFiles(
      rows,
      shape,
      { svg: a.str("svg"), pprof: a.str("pprof") },
      {
        title: "CPU profile",
        countName: "samples",
        sampleType: ["samples", "count"],
        ...(freq !== undefined
          ? { period: ["cpu", "nanoseconds", 1e9 / freq] as [string, string, number] }
          : {}),
        startMs: started,
        durationMs,
        comment: `tsbpf profile ${process.argv.slice(3).join(" ")}`.trim(),
      },
    );
    // the perf map V8 wrote because profile asked for it
    if (child?.node) rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
  },
};

/** How often a launched command's mappings are read while it runs. */
const MAPS_READ_MS = 250;

/** Opens and attaches; a launched command that will never run is killed when that fails. */
async function startOrKill(child: Launched | undefined, start: () => Promise<BPF>): Promise<BPF> {
  try {
    return await start();
  } catch (e) {
    child?.kill("SIGKILL");
    throw e;
  }
}

/** Says when a profiled process is Node.js without a perf map: its JavaScript frames will be [unknown]. */
function warnNoPerfMap(pid: number, note: (text: string) => void): void {
  let exe: string;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return;
  }
  if (!isNodeCommand(exe.replace(/ \(deleted\)$/, ""))) return;
  const map = perfMapPath(pid);
  if (existsSync(map)) return;
  note(
    `PID ${pid} is Node.js without a perf map (${map}): its JavaScript frames will show as [unknown]. ` +
      "Start it with node --perf-basic-prof --interpreted-frames-native-stack, or under tsbpf profile -- node …",
  );
}
