/**
 * Soak: does a long-running tool's memory stay flat? One Node.js process
 * runs a tool-like workload through the library for 10 minutes
 * (`--soak-seconds=N` or TSBPF_SOAK_SECONDS=N to shorten it):
 *
 * - events: a helper child calls getppid() 10,000 times a second (100 every
 *   10 ms); a tracepoint on sys_enter_getppid sends each call to a perf
 *   buffer and to a ring buffer, both read on the event loop and decoded
 *   through BTF; sched_process_exec, sched_process_exit and
 *   sys_enter_clock_nanosleep of the short-lived children go to the ring
 *   buffer too.
 * - a map read every second: items() of a hash of 4,000 keys (filled from
 *   user space, incremented by the getppid probe).
 * - symbols of many short-lived processes: a child every 100 ms, nine in
 *   ten `/bin/sleep 0.05`, one in ten a Node.js process started with
 *   --perf-basic-prof that lives 1.5 s (JIT frames named from its perf map,
 *   removed 5 s after it exits). raw_syscalls:sys_enter records the user and
 *   kernel stack of each of their system calls (BPF_STACK_TRACE, a hash of
 *   {pid, stack ids, comm} → count). A child's mappings are read while it
 *   runs (when it starts sleeping, or at the next read-out for Node.js), as
 *   tools do; every second the counts are symbolized through the library
 *   (StackTrace.stackCounts → folded; a pprof every 10 s), mostly after the
 *   children have exited, then both maps are cleared. So the per-process
 *   symbol caches fill with processes that exit, and must let them go.
 *
 * Every 10 s, after a forced full GC, the process's RSS, V8 heap used and
 * external memory are sampled. Warm-up (the first 60 s; the first quarter of
 * a run shorter than 4 min) is left out: the report gives RSS growth from
 * the end of warm-up to the last sample, and the largest growth over any
 * sample after warm-up. Target: ≤ 5 MB over the 10 minutes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { rmSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { BPF } from "../src/bpf.js";
import { cachedElfFileCount } from "../src/elf/elf.js";
import { cachedProcessCount, processSymbols } from "../src/elf/procmaps.js";
import type { ArrayTable, HashTable, PerfEventArray, RingBuf, StackTrace } from "../src/index.js";
import { json, report, round } from "./lib.js";

const PROGRAM = `
#include <linux/sched.h>
struct ev_t { u32 pid; u32 kind; u64 ts; };
BPF_PERF_OUTPUT(perf_events);
BPF_RINGBUF_OUTPUT(ring_events, 256);
BPF_ARRAY(config, u32, 2);
BPF_HASH(counts, u32, u64, 8192);
struct stack_key_t {
    u32 pid;
    int user_stack_id;
    int kernel_stack_id;
    char name[16];
};
BPF_HASH(stack_counts, struct stack_key_t, u64, 16384);
BPF_STACK_TRACE(stacks, 16384);

/* Whether the current task is a child of the benchmark (the tracer) itself. */
static __always_inline int from_child(void)
{
    int one = 1;
    u32 *tracer = config.lookup(&one);
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return tracer && t->real_parent->tgid == *tracer;
}

TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    int zero = 0;
    u32 *helper = config.lookup(&zero);
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (!helper || *helper != pid)
        return 0;
    struct ev_t e = { .pid = pid, .kind = 0, .ts = bpf_ktime_get_ns() };
    perf_events.perf_submit(args, &e, sizeof(e));
    ring_events.ringbuf_output(&e, sizeof(e), 0);
    u32 k = (u32)(e.ts >> 10) % 4000;
    counts.increment(k);
    return 0;
}

static __always_inline void child_event(u32 kind)
{
    u64 id = bpf_get_current_pid_tgid();
    if ((u32)id != (u32)(id >> 32) || !from_child())
        return;
    struct ev_t e = { .pid = id >> 32, .kind = kind, .ts = bpf_ktime_get_ns() };
    ring_events.ringbuf_output(&e, sizeof(e), 0);
}

TRACEPOINT_PROBE(sched, sched_process_exec) { child_event(1); return 0; }
TRACEPOINT_PROBE(sched, sched_process_exit) { child_event(2); return 0; }
TRACEPOINT_PROBE(syscalls, sys_enter_clock_nanosleep) { child_event(3); return 0; }

TRACEPOINT_PROBE(raw_syscalls, sys_enter)
{
    int zero = 0;
    u32 *helper = config.lookup(&zero);
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (!helper || *helper == pid || !from_child())
        return 0;
    struct stack_key_t key = { .pid = pid };
    key.user_stack_id = stacks.get_stackid(args, BPF_F_USER_STACK);
    key.kernel_stack_id = stacks.get_stackid(args, 0);
    bpf_get_current_comm(&key.name, sizeof(key.name));
    stack_counts.increment(key);
    return 0;
}
`;

/** The helper: 100 getppid() calls every 10 ms (process.ppid asks the kernel each time). */
const HELPER = "let x = 0; setInterval(() => { for (let i = 0; i < 100; i++) x += process.ppid; }, 10);";
/** A short-lived Node.js child: JIT code named through its perf map. */
const NODE_CHILD =
  "function spin(n) { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i); return s; }" +
  "const t = setInterval(() => spin(1e5), 20); setTimeout(() => clearInterval(t), 1500);";

const MB = 1024 * 1024;
const SAMPLE_MS = 10_000;

/** The run's length: --soak-seconds=N, --soak-seconds N, TSBPF_SOAK_SECONDS, else 600. */
function soakSeconds(): number {
  const argv = process.argv;
  const i = argv.findIndex((a) => a === "--soak-seconds" || a.startsWith("--soak-seconds="));
  const raw =
    i < 0 ? process.env.TSBPF_SOAK_SECONDS : ((argv[i] as string).split("=")[1] ?? (argv[i + 1] as string));
  const n = raw === undefined ? 600 : Number(raw);
  if (!(n >= 20)) throw new Error(`soak: --soak-seconds must be at least 20, not ${raw}`);
  return n;
}

/** A full GC, through V8's gc() exposed at run time (no --expose-gc on the command line). */
function fullGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

interface MemSample {
  t: number;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  processes: number;
  elfFiles: number;
}

function progress(msg: string): void {
  process.stderr.write(`soak: ${msg}\n`);
}

export async function soakBench(): Promise<void> {
  const seconds = soakSeconds();
  const warmup = seconds >= 240 ? 60 : Math.ceil(seconds / 4);
  const gc = fullGc();
  progress(`${seconds} s, warm-up ${warmup} s, a memory sample every ${SAMPLE_MS / 1000} s`);

  const b = await BPF.load({ text: PROGRAM });
  const children = new Set<ChildProcess>();
  const perfMaps = new Set<string>();
  const timers: NodeJS.Timeout[] = [];
  let helper: ChildProcess | undefined;
  try {
    const config = b.getTable<ArrayTable<number>>("config");
    const counts = b.getTable<HashTable<number, bigint>>("counts");
    const stackCounts = b.getTable("stack_counts");
    const stacks = b.getTable<StackTrace>("stacks");
    const perf = b.getTable<PerfEventArray>("perf_events");
    const ring = b.getTable<RingBuf>("ring_events");
    config.set(1, process.pid);
    // the map read every second: 4,000 keys from the start
    for (let k = 0; k < 4000; k++) counts.set(k, 0n);

    const ev = { perf: 0, ring: 0, exec: 0, exit: 0, sleeping: 0, perfLost: 0 };
    perf.openPerfBuffer(
      (_cpu, data) => {
        if ((perf.event(data) as { kind: number }).kind === 0) ev.perf++;
      },
      { pageCnt: 64, lostCb: (n) => (ev.perfLost += n) },
    );
    ring.openRingBuffer((_ctx, data) => {
      const e = ring.event(data) as { pid: number; kind: number };
      if (e.kind === 0) ev.ring++;
      else if (e.kind === 1) ev.exec++;
      else if (e.kind === 2) ev.exit++;
      else if (e.kind === 3) {
        ev.sleeping++;
        // the child has its libraries mapped now: read its mappings while it runs
        processSymbols(e.pid).refresh();
      }
    });

    helper = spawn(process.execPath, ["-e", HELPER], { stdio: "ignore" });
    await once(helper, "spawn");
    config.set(0, helper.pid as number);
    // The clock starts once the helper's events flow (on a busy machine Node.js takes a while to start).
    const ready = Date.now();
    while (ev.perf === 0 || ev.ring === 0) {
      if (Date.now() - ready > 180_000) throw new Error("soak: no events from the helper within 180 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    progress(`events flowing after ${round((Date.now() - ready) / 1000, 1)} s`);

    // a short-lived child every 100 ms
    let spawned = 0;
    const alive = new Set<number>();
    const spawnChild = (): void => {
      const node = spawned % 10 === 9;
      spawned++;
      const child = node
        ? spawn(process.execPath, ["--perf-basic-prof", "-e", NODE_CHILD], { stdio: "ignore" })
        : spawn("/bin/sleep", ["0.05"], { stdio: "ignore" });
      children.add(child);
      const pid = child.pid;
      if (pid !== undefined) alive.add(pid);
      child.on("error", () => {});
      child.on("exit", () => {
        children.delete(child);
        if (pid === undefined) return;
        alive.delete(pid);
        if (node) {
          const path = `/tmp/perf-${pid}.map`;
          perfMaps.add(path);
          const t = setTimeout(() => {
            rmSync(path, { force: true });
            perfMaps.delete(path);
          }, 5000);
          t.unref();
        }
      });
    };
    timers.push(setInterval(spawnChild, 100));

    // every second: the map read, the children's stacks symbolized
    let reads = 0;
    let mapEntries = 0;
    let lookups = 0;
    let frames = 0;
    let named = 0;
    let readouts = 0;
    const symbolized = new Set<number>();
    const readout = (): void => {
      for (const [, v] of counts.items()) {
        mapEntries++;
        if (v < 0n) throw new Error("negative count");
      }
      reads++;
      // Node.js children still running: their mappings now (sleepers: when they sleep)
      for (const pid of alive) processSymbols(pid).mappings();
      const sc = stacks.stackCounts(stackCounts);
      const pairs = new Set<string>();
      for (const row of sc.rows) {
        if (row.pid < 0 || row.userStackId < 0) continue;
        symbolized.add(row.pid);
        for (const ip of stacks.walk(row.userStackId)) pairs.add(`${row.pid}:${ip}`);
        frames += row.user.length;
        for (const f of row.user) if (f !== "[unknown]") named++;
      }
      lookups += pairs.size;
      sc.folded();
      if (++readouts % 10 === 0) sc.pprof();
      stackCounts.clear();
      stacks.clear();
    };
    timers.push(setInterval(readout, 1000));

    // memory: after a full GC, every 10 s
    const samples: MemSample[] = [];
    const t0 = Date.now();
    const sample = (): void => {
      gc();
      const m = process.memoryUsage();
      const s: MemSample = {
        t: Math.round((Date.now() - t0) / 1000),
        rss: m.rss / MB,
        heapUsed: m.heapUsed / MB,
        external: m.external / MB,
        arrayBuffers: m.arrayBuffers / MB,
        processes: cachedProcessCount(),
        elfFiles: cachedElfFileCount(),
      };
      samples.push(s);
      progress(
        `t=${s.t}s rss ${s.rss.toFixed(1)} MB heapUsed ${s.heapUsed.toFixed(1)} MB external ${s.external.toFixed(1)} MB` +
          ` | events perf ${ev.perf} ring ${ev.ring} exec ${ev.exec} exit ${ev.exit}` +
          ` | lookups ${lookups} | cached processes ${s.processes}, ELF files ${s.elfFiles}`,
      );
    };
    sample();
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        sample();
        if (Date.now() - t0 >= seconds * 1000 - 500) {
          clearInterval(t);
          resolve();
        }
      }, SAMPLE_MS);
    });
    for (const t of timers) clearInterval(t);
    const elapsed = (Date.now() - t0) / 1000;

    const base = samples.find((s) => s.t >= warmup) ?? (samples[0] as MemSample);
    const after = samples.filter((s) => s.t >= base.t);
    const last = samples[samples.length - 1] as MemSample;
    const growth = (k: "rss" | "heapUsed" | "external") => round(last[k] - base[k], 2);
    const maxGrowth = (k: "rss" | "heapUsed" | "external") =>
      round(Math.max(...after.map((s) => s[k] - base[k])), 2);
    const common = {
      baseline: null,
      baseline_name: "-",
      seconds: round(elapsed, 0),
      warmup_s: base.t,
    };
    report({
      name: "soak: RSS growth after warm-up (last sample − end of warm-up)",
      value: growth("rss"),
      unit: "MB",
      ...common,
      target: "<= 5",
      max_growth_mb: maxGrowth("rss"),
      rss_at_warmup_mb: round(base.rss, 1),
      rss_last_mb: round(last.rss, 1),
      rss_peak_mb: round(Math.max(...samples.map((s) => s.rss)), 1),
      ...(json
        ? {
            samples: samples.map((s) => ({
              ...s,
              rss: round(s.rss, 2),
              heapUsed: round(s.heapUsed, 2),
              external: round(s.external, 2),
              arrayBuffers: round(s.arrayBuffers, 2),
            })),
          }
        : {}),
    });
    report({
      name: "soak: V8 heap used growth after warm-up",
      value: growth("heapUsed"),
      unit: "MB",
      ...common,
      max_growth_mb: maxGrowth("heapUsed"),
      external_growth_mb: growth("external"),
      external_max_growth_mb: maxGrowth("external"),
    });
    report({
      name: "soak: events delivered (perf + ring buffer)",
      value: ev.perf + ev.ring + ev.exec + ev.exit + ev.sleeping,
      unit: "events",
      ...common,
      per_s: round((ev.perf + ev.ring) / elapsed, 0),
      perf: ev.perf,
      ring: ev.ring,
      exec: ev.exec,
      exit: ev.exit,
      perf_lost: ev.perfLost,
      ring_drops: Number(ring.drops),
      map_reads: reads,
      map_entries_read: mapEntries,
    });
    report({
      name: "soak: symbol lookups (distinct pid, address per read-out)",
      value: lookups,
      unit: "lookups",
      ...common,
      processes_spawned: spawned,
      processes_symbolized: symbolized.size,
      frames,
      frames_named_pct: frames ? round((100 * named) / frames, 1) : 0,
      cached_processes_last: last.processes,
      cached_processes_max: Math.max(...samples.map((s) => s.processes)),
      elf_files_last: last.elfFiles,
    });
    progress(
      `${round(elapsed, 0)} s: RSS ${round(base.rss, 1)} → ${round(last.rss, 1)} MB after warm-up ` +
        `(growth ${growth("rss")} MB, max ${maxGrowth("rss")} MB; target ≤ 5), heapUsed growth ${growth("heapUsed")} MB; ` +
        `${ev.perf + ev.ring} events (${ev.perfLost} lost, ${ring.drops} dropped), ${reads} map reads, ` +
        `${lookups} lookups over ${symbolized.size} of ${spawned} processes (${frames ? round((100 * named) / frames, 1) : 0}% of frames named), ` +
        `cached processes at most ${Math.max(...samples.map((s) => s.processes))}`,
    );
  } finally {
    for (const t of timers) clearInterval(t);
    const waits: Array<Promise<unknown>> = [];
    for (const c of [...children, ...(helper ? [helper] : [])]) {
      if (c.exitCode === null && c.signalCode === null) {
        waits.push(once(c, "exit"));
        c.kill("SIGKILL");
      }
    }
    await Promise.all(waits);
    for (const p of perfMaps) rmSync(p, { force: true });
    b.close();
  }
}
