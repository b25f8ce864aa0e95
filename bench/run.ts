/**
 * Benchmarks, each measured side by side with its baseline in one run.
 *
 * startup: printk_sample from process start to attached (the header line is
 * printed right after the attach), cold and warm, with peak RSS (VmHWM of the
 * process at that moment), against bpftrace running the equivalent one-liner
 * (time to its BEGIN probe, which fires once every probe is attached).
 *
 * events: records per second delivered into a JS callback that reads one
 * field of each record, for the ring buffer and the perf buffer, against a C
 * consumer on libbpf (bench/c/consumer.c) with the same BPF program
 * (bench/c/getppid.bpf.c) and the same load generator (bench/c/gen.c: a
 * process calling getppid() in a tight loop), generator and consumer pinned
 * to different CPUs.
 *
 *   npm run bench                     human table
 *   npm run bench -- --json           JSON lines: { name, value, unit, baseline, … }
 *   npm run bench -- --runs=N --only=startup|compile|events|tools|profile|exporter|soak
 *   npm run bench -- --only=soak --soak-seconds=90   (soak: 10 minutes unless shortened)
 *
 * compile: cold and warm compile of a bcc program with implicit kernel reads,
 * against the same program written with BPF_CORE_READ and compiled by clang.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { native } from "../src/native.js";
import { exporterBench } from "./exporter.js";
import { json, max, median, report, round, rows, type Sample, timeToMarker } from "./lib.js";
import { profileBench } from "./profile.js";
import { soakBench } from "./soak.js";
import { toolsBench } from "./tools.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const runsArg = process.argv.find((a) => a.startsWith("--runs="));
const RUNS = runsArg ? Number(runsArg.slice("--runs=".length)) : 10;
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);

async function startup(): Promise<void> {
  // What `npm start` runs: the tsbpf command, bundled into one file.
  const sample = [process.execPath, join(root, "dist/bundle/tsbpf.mjs"), "printk-sample"];
  const header = "PID    COMM         OUTPUT";

  const bpftraceVersion = spawnSync("bpftrace", ["--version"], { encoding: "utf8" });
  const haveBpftrace = bpftraceVersion.status === 0;
  const bt: Sample[] = [];
  if (haveBpftrace) {
    const prog =
      'BEGIN { printf("ready\\n"); } tracepoint:syscalls:sys_enter_execve ' +
      '{ printf("start of execve time = %ld , pid = %u, comm = %s\\n", nsecs, pid, comm); }';
    for (let i = 0; i < RUNS; i++) bt.push(await timeToMarker(["bpftrace", "-e", prog], "ready"));
  } else {
    process.stderr.write("bench: bpftrace is not installed (scripts/bootstrap.sh --bench installs it)\n");
  }
  const btName = haveBpftrace
    ? `bpftrace ${bpftraceVersion.stdout.trim().replace(/^bpftrace /, "")}`
    : "bpftrace";
  const btMs = bt.length ? round(median(bt.map((s) => s.ms))) : null;
  const btRss = bt.length ? round(max(bt.map((s) => s.rssKb)) / 1024) : null;

  // Cold: nothing cached (vmlinux subset, compile, object).
  const cold: Sample[] = [];
  for (let i = 0; i < Math.max(3, Math.floor(RUNS / 2)); i++) {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-"));
    cold.push(await timeToMarker(sample, header, { TSBPF_CACHE_DIR: dir }));
    rmSync(dir, { recursive: true, force: true });
  }
  // Warm: everything cached (one run first fills the cache).
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-"));
  await timeToMarker(sample, header, { TSBPF_CACHE_DIR: dir });
  const warm: Sample[] = [];
  for (let i = 0; i < RUNS; i++) warm.push(await timeToMarker(sample, header, { TSBPF_CACHE_DIR: dir }));
  rmSync(dir, { recursive: true, force: true });

  const base = { baseline: btMs, baseline_name: btName };
  report({
    name: "startup printk_sample cold, median",
    value: round(median(cold.map((s) => s.ms))),
    unit: "ms",
    ...base,
    target: "<= 300",
    runs: cold.length,
  });
  report({
    name: "startup printk_sample warm, median",
    value: round(median(warm.map((s) => s.ms))),
    unit: "ms",
    ...base,
    target: "<= 80",
    runs: warm.length,
  });
  report({
    name: "startup printk_sample peak RSS",
    value: round(max([...cold, ...warm].map((s) => s.rssKb)) / 1024),
    unit: "MB",
    baseline: btRss,
    baseline_name: btName,
    target: "<= 70",
  });
}

// ---------------------------------------------------------------- events

interface ConsumerResult {
  events: number;
  seconds: number;
  rate: number;
  lost: number;
  maxrss_kb: number;
}

function lastJson(out: string): ConsumerResult {
  const line = out
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (!line) throw new Error(`no result line in:\n${out}`);
  return JSON.parse(line) as ConsumerResult;
}

async function eventsBench(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "tsbpf-bench-events-"));
  const cdir = join(root, "bench/c");
  // The C side: the BPF object (clang, against this kernel's vmlinux.h), the consumer and the generator.
  writeFileSync(join(work, "vmlinux.h"), native().btfDumpHeader("/sys/kernel/btf/vmlinux"));
  execFileSync("clang", [
    "-target",
    "bpf",
    "-O2",
    "-g",
    "-D__TARGET_ARCH_x86",
    `-I${work}`,
    "-c",
    join(cdir, "getppid.bpf.c"),
    "-o",
    join(work, "getppid.bpf.o"),
  ]);
  const libbpf = execFileSync("pkg-config", ["--cflags", "--libs", "libbpf"], { encoding: "utf8" })
    .trim()
    .split(/\s+/);
  execFileSync("gcc", ["-O2", join(cdir, "consumer.c"), "-o", join(work, "consumer"), ...libbpf]);
  execFileSync("gcc", ["-O2", join(cdir, "gen.c"), "-o", join(work, "gen")]);

  const configs = [
    {
      name: "ring buffer, wake-up per record (flags 0)",
      kind: "ringbuf",
      setting: 0,
      events: 2_000_000,
      pages: 0,
    },
    {
      name: "ring buffer, batched wake-ups (64 KiB threshold)",
      kind: "ringbuf",
      setting: 65536,
      events: 2_000_000,
      pages: 0,
    },
    {
      name: "perf buffer, wake-up per sample (wakeup_events 1)",
      kind: "perf",
      setting: 1,
      events: 300_000,
      pages: 64,
    },
    {
      name: "perf buffer, batched wake-ups (wakeup_events 64, 256 pages)",
      kind: "perf",
      setting: 64,
      events: 2_000_000,
      pages: 256,
    },
  ] as const;
  const runs = Math.max(3, Math.min(RUNS, 5));
  for (const c of configs) {
    const cr: ConsumerResult[] = [];
    const jr: ConsumerResult[] = [];
    for (let i = 0; i < runs; i++) {
      const settingArgs =
        c.kind === "ringbuf"
          ? ["--rb-flags", String(c.setting)]
          : ["--wakeup", String(c.setting), "--pages", String(c.pages)];
      cr.push(
        lastJson(
          execFileSync(
            join(work, "consumer"),
            [
              join(work, "getppid.bpf.o"),
              c.kind,
              "--events",
              String(c.events),
              ...settingArgs,
              "--gen-cpu",
              "0",
              "--cpu",
              "1",
            ],
            {
              encoding: "utf8",
            },
          ),
        ),
      );
      jr.push(
        lastJson(
          execFileSync(
            "taskset",
            [
              "-c",
              "1",
              process.execPath,
              join(root, "dist/bench/events_consumer.js"),
              join(cdir, "getppid.bpf.c"),
              join(work, "gen"),
              c.kind,
              String(c.events),
              String(c.setting),
              String(c.pages || 64),
            ],
            { encoding: "utf8", env: { ...process.env, GEN_CPU: "0" } },
          ),
        ),
      );
    }
    const jsRate = median(jr.map((r) => r.rate));
    const cRate = median(cr.map((r) => r.rate));
    report({
      name: `events/s into a JS callback: ${c.name}`,
      value: Math.round(jsRate),
      unit: "events/s",
      baseline: Math.round(cRate),
      baseline_name: "C consumer on libbpf",
      ratio: round(jsRate / cRate, 2),
      target: ">= 0.9 x baseline",
      lost: median(jr.map((r) => r.lost)),
      baseline_lost: median(cr.map((r) => r.lost)),
      events: c.events,
      peak_rss_mb: round(max(jr.map((r) => r.maxrss_kb)) / 1024),
      baseline_peak_rss_mb: round(max(cr.map((r) => r.maxrss_kb)) / 1024),
      runs,
    });
  }
  rmSync(work, { recursive: true, force: true });
}

// ---------------------------------------------------------------- compile

const IMPLICIT = `
#include <linux/sched.h>
RAW_TRACEPOINT_PROBE(sched_process_exec)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u32 ppid = t->real_parent->tgid;
    u32 uid = t->cred->uid.val;
    bpf_trace_printk("ppid %d uid %d", ppid, uid);
    return 0;
}`;

const CORE_READ = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
SEC("raw_tracepoint/sched_process_exec")
int on_exec(void *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u32 ppid = BPF_CORE_READ(t, real_parent, tgid);
    u32 uid = BPF_CORE_READ(t, cred, uid.val);
    bpf_printk("ppid %d uid %d", ppid, uid);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";`;

/**
 * The cost of bcc's implicit kernel reads: compiling a bcc program that
 * dereferences kernel pointers directly (tsbpf rewrites them into probe
 * reads, driven by clang's AST), cold (empty cache) and warm (cached),
 * against the same program written by hand with BPF_CORE_READ and compiled
 * straight with clang against the full vmlinux.h (libbpf's usual workflow).
 */
async function compileBench(): Promise<void> {
  const { compileBcc } = await import("../src/compile/compile.js");
  const runs = Math.max(3, Math.min(RUNS, 7));
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-cc-"));
    process.env.TSBPF_CACHE_DIR = dir;
    let t = performance.now();
    await compileBcc({ text: IMPLICIT, fileName: "implicit.c" });
    cold.push(performance.now() - t);
    t = performance.now();
    await compileBcc({ text: IMPLICIT, fileName: "implicit.c" });
    warm.push(performance.now() - t);
    rmSync(dir, { recursive: true, force: true });
  }
  delete process.env.TSBPF_CACHE_DIR;
  const work = mkdtempSync(join(tmpdir(), "tsbpf-bench-core-"));
  writeFileSync(join(work, "vmlinux.h"), native().btfDumpHeader("/sys/kernel/btf/vmlinux"));
  writeFileSync(join(work, "prog.bpf.c"), CORE_READ);
  const clangRuns: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    execFileSync("clang", [
      "-target",
      "bpf",
      "-O2",
      "-g",
      "-D__TARGET_ARCH_x86",
      `-I${work}`,
      "-c",
      join(work, "prog.bpf.c"),
      "-o",
      join(work, "prog.bpf.o"),
    ]);
    clangRuns.push(performance.now() - t);
  }
  rmSync(work, { recursive: true, force: true });
  const base = {
    baseline: round(median(clangRuns)),
    baseline_name: "BPF_CORE_READ by hand, clang with full vmlinux.h",
  };
  report({
    name: "compile bcc program with implicit kernel reads, cold (empty cache)",
    value: round(median(cold)),
    unit: "ms",
    ...base,
    runs,
  });
  report({
    name: "compile bcc program with implicit kernel reads, warm (cached)",
    value: round(median(warm), 2),
    unit: "ms",
    ...base,
    runs,
  });
}

if (!only || only === "startup") await startup();
if (!only || only === "compile") await compileBench();
if (!only || only === "events") await eventsBench();
if (!only || only === "tools") await toolsBench(RUNS);
if (!only || only === "profile") await profileBench(RUNS);
if (!only || only === "exporter") await exporterBench(RUNS);
// 10 minutes: only when asked for by name
if (only === "soak") await soakBench();

if (!json) {
  const head = ["benchmark", "tsbpf", "baseline", "unit", "extra"];
  const table = rows.map((r) => {
    const extra = Object.entries(r)
      .filter(([k]) => !["name", "value", "unit", "baseline", "baseline_name"].includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    return [
      r.name,
      String(r.value),
      r.baseline === null ? "-" : `${r.baseline} (${r.baseline_name})`,
      r.unit,
      extra,
    ];
  });
  const widths = head.map((h, k) => Math.max(h.length, ...table.map((r) => (r[k] as string).length)));
  const line = (cells: string[]): string => cells.map((c, k) => c.padEnd(widths[k] as number)).join("  ");
  process.stdout.write(`${line(head)}\n${line(widths.map((w) => "-".repeat(w)))}\n`);
  for (const r of table) process.stdout.write(`${line(r)}\n`);
}
