/**
 * The tools against bpftrace's own tools (Debian's bpftrace package ships
 * execsnoop.bt, opensnoop.bt, runqlat.bt, syscount.bt, …), in one run:
 *
 * - start-up to the first row: from process start until the first row of an
 *   event (a generator execs or opens every 2 ms meanwhile), or, for the
 *   aggregating tools, until the "Tracing …" line (printed once attached);
 * - a storm: the generator execs or opens as fast as it can; events printed
 *   per second of the storm and the share of the generated events printed;
 * - CPU per event of the tool's process during the storm (user + system);
 * - peak RSS (VmHWM) of the tool's process.
 *
 * Only the tools this tree has are measured; bpftrace is installed by
 * `scripts/bootstrap.sh --bench`.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { toolNames } from "../tools/index.js";
import { max, median, peakRssKb, report, round, type Sample, timeToMarker } from "./lib.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(root, "dist/bundle/tsbpf.cjs");
/**
 * Unset for every subject alike, as in startup.ts: some machines (this one
 * and its CI) set it, and it makes every Node process parse a certificate
 * file at start (60-90 ms, ~10 MB), which no tracer needs.
 */
const UNSET = { NODE_EXTRA_CA_CERTS: undefined };

interface Pair {
  tool: string;
  bt: string;
  /** What the tool watches: the generator's mode; none for tools measured at start-up only. */
  storm?: "exec" | "open";
  /** A row of the generator's event (both tools). */
  row: RegExp;
  /** The "attached" line of an aggregating tool (both tools). */
  ready?: RegExp;
  /** Storm size. */
  ops?: number;
}

const PAIRS: Pair[] = [
  { tool: "execsnoop", bt: "execsnoop.bt", storm: "exec", row: /tsbpf-storm/, ops: 3000 },
  { tool: "opensnoop", bt: "opensnoop.bt", storm: "open", row: /tsbpf-storm-file/, ops: 100_000 },
  { tool: "statsnoop", bt: "statsnoop.bt", row: /\S/, ready: /PID|Tracing/ },
  { tool: "killsnoop", bt: "killsnoop.bt", row: /\S/, ready: /PID|Tracing/ },
  { tool: "runqlat", bt: "runqlat.bt", row: /Tracing/, ready: /Tracing/ },
  { tool: "syscount", bt: "syscount.bt", row: /Tracing|Counting/, ready: /Tracing|Counting/ },
  { tool: "biolatency", bt: "biolatency.bt", row: /Tracing/, ready: /Tracing/ },
];

/** The generator (bench/c/storm.c), compiled once. */
function buildStorm(work: string): string {
  const out = join(work, "storm");
  execFileSync("gcc", ["-O2", join(root, "bench/c/storm.c"), "-o", out]);
  return out;
}

/** Starts the generator paced (one op every 2 ms) until killed. */
function pacedGenerator(storm: string, mode: "exec" | "open"): ChildProcess {
  const g = spawn(storm, [mode, "100000000", "1", "2000"], { stdio: ["pipe", "ignore", "ignore"] });
  g.stdin?.write("g");
  return g;
}

/** user + system CPU time of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields 14 and 15 (utime, stime), in clock ticks of 10 ms (USER_HZ 100)
  return (Number(f[11]) + Number(f[12])) * 10;
}

interface StormResult {
  rate: number;
  captured: number;
  cpuUsPerEvent: number;
  rssKb: number;
}

/** Runs the generator to its end (started by one byte on stdin) without blocking the event loop: its stdout. */
function runGenerator(gen: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const g = spawn(gen, args, { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    g.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    g.on("error", reject);
    g.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${gen} exited ${code}`))));
    g.stdin.end("g");
  });
}

/** Runs argv, waits for its ready line, storms, and counts its rows. */
async function storm(argv: string[], ready: RegExp, row: RegExp, gen: string, mode: string, ops: number) {
  const child = spawn(argv[0] as string, argv.slice(1), {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...UNSET },
  });
  let rows = 0;
  let isReady = false;
  let onReady: () => void = () => {};
  const readyP = new Promise<void>((r) => {
    onReady = r;
  });
  let partial = "";
  child.stdout.on("data", (b: Buffer) => {
    const text = partial + b.toString();
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) {
      if (!isReady) {
        if (ready.test(l)) {
          isReady = true;
          onReady();
        }
        continue;
      }
      if (row.test(l)) rows++;
    }
  });
  let err = "";
  child.stderr.on("data", (b: Buffer) => {
    err += b.toString();
    if (!isReady && ready.test(err)) {
      isReady = true;
      onReady();
    }
  });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  await Promise.race([readyP, exited]);
  if (!isReady) throw new Error(`${argv.join(" ")} ended before it was ready: ${err}`);
  await new Promise((r) => setTimeout(r, 300));
  const cpu0 = cpuMs(child.pid as number);
  // The generator runs while this process keeps reading the tool's pipe (a
  // spawnSync here would stop the reading: the pipe would fill and the tool
  // block on its writes for the whole storm).
  const { seconds } = JSON.parse(await runGenerator(gen, [mode, String(ops)])) as { seconds: number };
  await new Promise((r) => setTimeout(r, 1000));
  const cpu1 = cpuMs(child.pid as number);
  const rssKb = peakRssKb(child.pid as number);
  child.kill("SIGINT");
  const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(kill);
  return {
    rate: rows / seconds,
    captured: rows / ops,
    cpuUsPerEvent: rows > 0 ? ((cpu1 - cpu0) * 1000) / rows : Number.NaN,
    rssKb,
  } satisfies StormResult;
}

/** Start-up to the first row (or ready line) with a paced generator running. */
async function startups(
  argv: string[],
  marker: RegExp,
  gen: string | undefined,
  mode: string | undefined,
  runs: number,
) {
  const out: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    const g = gen && mode ? pacedGenerator(gen, mode as "exec" | "open") : undefined;
    try {
      out.push(await timeToMarker(argv, marker, UNSET));
    } finally {
      g?.kill("SIGKILL");
    }
  }
  return out;
}

/** The tools benchmark: every pair this tree and this machine have. */
export async function toolsBench(runs: number): Promise<void> {
  const bt = spawnSync("bpftrace", ["--version"], { encoding: "utf8" });
  const btName = bt.status === 0 ? `bpftrace ${bt.stdout.trim().replace(/^bpftrace /, "")}` : "bpftrace";
  if (bt.status !== 0)
    process.stderr.write("bench: bpftrace is not installed (scripts/bootstrap.sh --bench)\n");
  const work = mkdtempSync(join(tmpdir(), "tsbpf-bench-tools-"));
  const gen = buildStorm(work);
  const have = new Set(toolNames());
  const n = Math.max(3, Math.min(runs, 7));
  try {
    const pick = process.argv
      .find((a) => a.startsWith("--tools="))
      ?.slice("--tools=".length)
      .split(",");
    for (const p of PAIRS) {
      if (!have.has(p.tool) || (pick && !pick.includes(p.tool))) continue;
      const script = `/usr/sbin/${p.bt}`;
      const btArgv = bt.status === 0 && existsSync(script) ? ["bpftrace", "-B", "line", script] : undefined;
      const tsArgv = [process.execPath, CLI, p.tool];
      // First row after the header: the generator's row (event tools) or the ready line.
      const marker = p.storm ? p.row : (p.ready ?? p.row);
      const ts = await startups(tsArgv, marker, gen, p.storm, n);
      let base: Sample[] = [];
      let btFailed: string | undefined;
      if (btArgv) {
        try {
          base = await startups(btArgv, marker, gen, p.storm, n);
        } catch (err) {
          // some of bpftrace's tools include kernel headers this machine lacks
          btFailed = ((err as Error).message.split("\n").find((l) => /error/i.test(l)) ?? "failed").slice(
            0,
            120,
          );
          process.stderr.write(`bench: ${p.bt} does not run here: ${btFailed}\n`);
        }
      }
      report({
        name: `tool ${p.tool}: start-up to ${p.storm ? "first row" : "attached"}, median`,
        value: round(median(ts.map((s) => s.ms))),
        unit: "ms",
        baseline: base.length ? round(median(base.map((s) => s.ms))) : null,
        baseline_name: `${btName} ${p.bt}`,
        target: "<= baseline",
        runs: n,
        ...(btFailed ? { baseline_error: btFailed } : {}),
      });
      report({
        name: `tool ${p.tool}: peak RSS at start-up, median`,
        value: round(median(ts.map((s) => s.rssKb)) / 1024),
        unit: "MB",
        baseline: base.length ? round(median(base.map((s) => s.rssKb)) / 1024) : null,
        baseline_name: `${btName} ${p.bt}`,
        // (the first run of a tool on a machine also makes its minimized BTF and its code cache)
        max_mb: round(max(ts.map((s) => s.rssKb)) / 1024),
        rss_samples_kb: ts.map((s) => s.rssKb).join(","),
      });
      if (!p.storm || !p.ops) continue;
      const header = /PCOMM|PID/;
      const tsS = await storm(tsArgv, header, p.row, gen, p.storm, p.ops);
      const btS = btArgv && !btFailed ? await storm(btArgv, header, p.row, gen, p.storm, p.ops) : undefined;
      report({
        name: `tool ${p.tool}: events/s printed in a ${p.storm} storm`,
        value: Math.round(tsS.rate),
        unit: "events/s",
        baseline: btS ? Math.round(btS.rate) : null,
        baseline_name: `${btName} ${p.bt}`,
        captured: `${round(tsS.captured * 100)}%`,
        baseline_captured: btS ? `${round(btS.captured * 100)}%` : "-",
        ops: p.ops,
        target: ">= baseline",
      });
      report({
        name: `tool ${p.tool}: CPU per event (user+system) in the storm`,
        value: round(tsS.cpuUsPerEvent, 2),
        unit: "µs/event",
        baseline: btS ? round(btS.cpuUsPerEvent, 2) : null,
        baseline_name: `${btName} ${p.bt}`,
        peak_rss_mb: round(tsS.rssKb / 1024),
        baseline_peak_rss_mb: btS ? round(btS.rssKb / 1024) : "-",
        target: "<= baseline",
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync("/tmp/tsbpf-storm-file", { force: true });
  }
}
