/**
 * The CPU profiler against bpftrace's, in one run:
 *
 * - overhead: a CPU-bound workload (bench/c/spin.c, one thread per CPU)
 *   runs for a fixed time alone, under `tsbpf profile -F 99` (all CPUs, user
 *   and kernel stacks) and under bpftrace's
 *   `profile:hz:99 { @[ustack, kstack] = count(); }`; the iterations it
 *   managed, each run's against the median of the runs alone. The profilers
 *   are attached before the workload starts and stopped after it ends, so
 *   their start-up and their report at exit are not in the window. The time
 *   each then takes from SIGINT to exit (naming every process's stacks) is
 *   reported too.
 * - the report at exit: a ~100k-sample profile (both CPUs at 4999 Hz for
 *   10 s, one run each) of two Node.js processes with perf maps, then SIGINT: the time until
 *   the profiler has symbolized it and exited (tsbpf writing folded lines,
 *   an SVG and a pprof file; bpftrace printing its map).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, report, round } from "./lib.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(root, "dist/bundle/tsbpf.cjs");
const BT_PROGRAM = "profile:hz:99 { @[ustack, kstack] = count(); }";

/** Starts a profiler and resolves once it says it is attached. */
async function startProfiler(
  argv: string[],
  ready: RegExp,
): Promise<{ child: ChildProcess; out: () => string }> {
  progress(`starting ${argv.slice(0, 4).join(" ")}`);
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv[0]}: not attached within 60 s: ${err}`)), 60_000);
    const check = (): void => {
      if (ready.test(out) || ready.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    child.on("exit", (code) => reject(new Error(`${argv.join(" ")} exited ${code}: ${err}`)));
  });
  return { child, out: () => out };
}

/** Stops a profiler with SIGINT; resolves with the ms until it exited. */
async function stopProfiler(child: ChildProcess): Promise<number> {
  progress(`stopping ${child.spawnargs.slice(0, 4).join(" ")}`);
  if (child.exitCode !== null || child.signalCode !== null)
    throw new Error(
      `${child.spawnargs.join(" ")} ended before it was stopped (${child.exitCode ?? child.signalCode})`,
    );
  const t0 = process.hrtime.bigint();
  const exited = once(child, "exit");
  child.kill("SIGINT");
  const kill = setTimeout(() => child.kill("SIGKILL"), 120_000);
  await exited;
  clearTimeout(kill);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function progress(text: string): void {
  if (process.env.TSBPF_BENCH_VERBOSE) process.stderr.write(`bench profile: ${text}\n`);
}

/** Runs the workload for `seconds` on every CPU: iterations done. */
function spinOnce(spin: string, seconds: number): number {
  const out = execFileSync(spin, [String(seconds), String(cpus().length)], { encoding: "utf8" });
  return (JSON.parse(out) as { iterations: number }).iterations;
}

/** A CPU-bound Node.js script with perf maps, for the report-at-exit profile. */
const NODE_SCRIPT = `
function leaf(n) { let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003; return x; }
function mid(n) { return leaf(n) + leaf(n >> 1); }
function top(n) { return mid(n) + mid(n >> 2); }
process.stdout.write("ready\\n");
for (;;) top(1e5);
`;

export async function profileBench(runs: number): Promise<void> {
  const bt = spawnSync("bpftrace", ["--version"], { encoding: "utf8" });
  const hasBt = bt.status === 0;
  const btName = hasBt ? `bpftrace ${bt.stdout.trim().replace(/^bpftrace /, "")}` : "bpftrace";
  if (!hasBt) process.stderr.write("bench: bpftrace is not installed (scripts/bootstrap.sh --bench)\n");
  const work = mkdtempSync(join(tmpdir(), "tsbpf-bench-profile-"));
  const spin = join(work, "spin");
  execFileSync("gcc", ["-O2", "-pthread", join(root, "bench/c/spin.c"), "-o", spin]);
  const n = Math.max(3, Math.min(runs, 7));
  const SECONDS = 3;
  const tsArgv = [process.execPath, CLI, "profile", "-F", "99"];
  const btArgv = ["bpftrace", "-e", BT_PROGRAM];
  try {
    // overhead: the three conditions interleaved, so drift hits them alike
    const alone: number[] = [];
    const underTs: number[] = [];
    const underBt: number[] = [];
    const stopTs: number[] = [];
    const stopBt: number[] = [];
    for (let i = 0; i < n; i++) {
      alone.push(spinOnce(spin, SECONDS));
      const ts = await startProfiler(tsArgv, /Sampling at/);
      underTs.push(spinOnce(spin, SECONDS));
      stopTs.push(await stopProfiler(ts.child));
      if (hasBt) {
        const b = await startProfiler(btArgv, /Attaching 1 probe/);
        underBt.push(spinOnce(spin, SECONDS));
        stopBt.push(await stopProfiler(b.child));
      }
    }
    const base = median(alone);
    const overhead = (xs: number[]): number => round(median(xs.map((x) => (1 - x / base) * 100)), 2);
    report({
      name: `profile -F 99, all CPUs: workload throughput lost (${SECONDS} s runs, median)`,
      value: overhead(underTs),
      unit: "%",
      baseline: underBt.length ? overhead(underBt) : null,
      baseline_name: `${btName} '${BT_PROGRAM}'`,
      target: "<= baseline",
      runs: n,
      alone_iterations: alone,
      tsbpf_iterations: underTs,
      baseline_iterations: underBt,
    });
    report({
      name: `profile -F 99, all CPUs: from Ctrl-C to exit, stacks of every process named and printed (${SECONDS} s profiles, median)`,
      value: round(median(stopTs)),
      unit: "ms",
      baseline: stopBt.length ? round(median(stopBt)) : null,
      baseline_name: `${btName} '${BT_PROGRAM}'`,
      runs: n,
    });

    // the report at exit of a ~100k-sample profile (minutes with bpftrace: --no-exit-report skips it)
    if (process.argv.includes("--no-exit-report")) return;
    const script = join(work, "hot.js");
    writeFileSync(script, NODE_SCRIPT);
    const nodes = await Promise.all(
      [0, 1].map(async () => {
        const c = spawn(
          process.execPath,
          ["--perf-basic-prof", "--interpreted-frames-native-stack", script],
          {
            stdio: ["ignore", "pipe", "ignore"],
          },
        );
        await once(c.stdout as NodeJS.ReadableStream, "data");
        return c;
      }),
    );
    try {
      const HZ = 4999;
      const WINDOW_S = 10;
      const svg = join(work, "cpu.svg");
      const pprof = join(work, "cpu.pb.gz");
      const exitTs: number[] = [];
      const exitBt: number[] = [];
      let samples = 0;
      // one run each: bpftrace takes minutes to print a profile this size
      for (let i = 0; i < 1; i++) {
        const ts = await startProfiler(
          [process.execPath, CLI, "profile", "-F", String(HZ), "--svg", svg, "--pprof", pprof],
          /Sampling at/,
        );
        await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
        exitTs.push(await stopProfiler(ts.child));
        samples = ts
          .out()
          .split("\n")
          .filter((l) => /^ {8}\d+$/.test(l))
          .reduce((s, l) => s + Number(l), 0);
        if (statSync(svg).size === 0 || statSync(pprof).size === 0) throw new Error("profile wrote no files");
        if (hasBt) {
          const b = await startProfiler(
            ["bpftrace", "-e", `profile:hz:${HZ} { @[ustack, kstack] = count(); }`],
            /Attaching 1 probe/,
          );
          await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
          exitBt.push(await stopProfiler(b.child));
        }
      }
      report({
        name: `profile: symbolize and write a ${Math.round(samples / 1000)}k-sample profile at exit (text + SVG + pprof), median`,
        value: round(median(exitTs)),
        unit: "ms",
        baseline: exitBt.length ? round(median(exitBt)) : null,
        baseline_name: `${btName} profile:hz:${HZ} map printed at exit`,
        samples,
        runs: exitTs.length,
      });
    } finally {
      for (const c of nodes) {
        c.kill();
        rmSync(`/tmp/perf-${c.pid}.map`, { force: true });
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
