/**
 * Benchmarks, each measured side by side with its baseline in one run.
 *
 * startup: printk_sample from process start to attached (the header line is
 * printed right after the attach), cold and warm, with peak RSS (VmHWM of the
 * process at that moment), against bpftrace running the equivalent one-liner
 * (time to its BEGIN probe, which fires once every probe is attached).
 *
 *   npm run bench            human table
 *   npm run bench -- --json  JSON lines
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const json = process.argv.includes("--json");
const runsArg = process.argv.find((a) => a.startsWith("--runs="));
const RUNS = runsArg ? Number(runsArg.slice("--runs=".length)) : 10;

interface Sample {
  ms: number;
  rssKb: number;
}

function peakRssKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Starts argv, resolves when stdout contains marker: elapsed ms and peak RSS then. */
function timeToMarker(argv: string[], marker: string, env: NodeJS.ProcessEnv = {}): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let done = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${argv.join(" ")}: no "${marker}" within 60 s: ${err}`));
    }, 60_000);
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (!done && out.includes(marker)) {
        done = true;
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const rssKb = peakRssKb(child.pid as number);
        clearTimeout(timer);
        child.kill("SIGINT");
        child.on("exit", () => resolve({ ms, rssKb }));
      }
    });
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString();
    });
    child.on("exit", (code) => {
      if (!done) {
        clearTimeout(timer);
        reject(new Error(`${argv.join(" ")} exited ${code} before "${marker}": ${err}`));
      }
    });
  });
}

function stats(samples: Sample[]): { median: number; p90: number; min: number; rssMb: number } {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const rss = samples.map((s) => s.rssKb).sort((a, b) => a - b);
  const at = (xs: number[], q: number): number =>
    xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] as number;
  return {
    median: at(ms, 0.5),
    p90: at(ms, 0.9),
    min: ms[0] as number,
    rssMb: (rss[rss.length - 1] as number) / 1024,
  };
}

interface Row {
  bench: string;
  variant: string;
  runs: number;
  median_ms: number;
  p90_ms: number;
  min_ms: number;
  peak_rss_mb: number;
  target?: string;
}

const rows: Row[] = [];
function report(bench: string, variant: string, samples: Sample[], target?: string): void {
  const s = stats(samples);
  const row: Row = {
    bench,
    variant,
    runs: samples.length,
    median_ms: Math.round(s.median * 10) / 10,
    p90_ms: Math.round(s.p90 * 10) / 10,
    min_ms: Math.round(s.min * 10) / 10,
    peak_rss_mb: Math.round(s.rssMb * 10) / 10,
    ...(target ? { target } : {}),
  };
  rows.push(row);
  if (json) process.stdout.write(`${JSON.stringify(row)}\n`);
}

async function startup(): Promise<void> {
  // What `npm start` runs: the tsbpf command, bundled into one file.
  const sample = [process.execPath, join(root, "dist/bundle/tsbpf.mjs"), "printk-sample"];
  const unbundled = [process.execPath, join(root, "dist/examples/printk_sample.js")];
  const header = "PID    COMM         OUTPUT";

  // Cold: nothing cached (vmlinux.h from BTF, its PCH, the compile).
  const cold: Sample[] = [];
  for (let i = 0; i < Math.max(3, Math.floor(RUNS / 2)); i++) {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-"));
    cold.push(await timeToMarker(sample, header, { TSBPF_CACHE_DIR: dir }));
    rmSync(dir, { recursive: true, force: true });
  }
  report("startup printk_sample", "tsbpf cold (empty cache)", cold, "≤ 300 ms");

  // Warm: everything cached (one run first fills the cache).
  const kdir = mkdtempSync(join(tmpdir(), "tsbpf-bench-"));
  await timeToMarker(sample, header, { TSBPF_CACHE_DIR: kdir });
  const warm: Sample[] = [];
  for (let i = 0; i < RUNS; i++) warm.push(await timeToMarker(sample, header, { TSBPF_CACHE_DIR: kdir }));
  report("startup printk_sample", "tsbpf warm", warm, "≤ 80 ms, ≤ 70 MB");
  const warmUnbundled: Sample[] = [];
  for (let i = 0; i < RUNS; i++)
    warmUnbundled.push(await timeToMarker(unbundled, header, { TSBPF_CACHE_DIR: kdir }));
  report("startup printk_sample", "tsbpf warm, unbundled dist/examples/printk_sample.js", warmUnbundled);
  rmSync(kdir, { recursive: true, force: true });

  // Baseline: bpftrace's equivalent one-liner.
  const bpftrace = spawnSync("bpftrace", ["--version"], { encoding: "utf8" });
  if (bpftrace.status !== 0) {
    process.stderr.write(
      "bench: bpftrace is not installed (scripts/bootstrap.sh --bench installs it); baseline skipped\n",
    );
    return;
  }
  const prog =
    'BEGIN { printf("ready\\n"); } tracepoint:syscalls:sys_enter_execve ' +
    '{ printf("start of execve time = %ld , pid = %u, comm = %s\\n", nsecs, pid, comm); }';
  const bt: Sample[] = [];
  for (let i = 0; i < RUNS; i++) bt.push(await timeToMarker(["bpftrace", "-e", prog], "ready"));
  report(
    "startup printk_sample",
    `bpftrace ${bpftrace.stdout.trim().replace(/^bpftrace /, "")} (baseline)`,
    bt,
  );
}

await startup();

if (!json) {
  const head = ["benchmark", "variant", "runs", "median ms", "p90 ms", "min ms", "peak RSS MB", "target"];
  const table = rows.map((r) => [
    r.bench,
    r.variant,
    String(r.runs),
    r.median_ms.toFixed(1),
    r.p90_ms.toFixed(1),
    r.min_ms.toFixed(1),
    r.peak_rss_mb.toFixed(1),
    r.target ?? "",
  ]);
  const widths = head.map((h, k) => Math.max(h.length, ...table.map((r) => (r[k] as string).length)));
  const line = (cells: string[]): string => cells.map((c, k) => c.padEnd(widths[k] as number)).join("  ");
  process.stdout.write(`${line(head)}\n${line(widths.map((w) => "-".repeat(w)))}\n`);
  for (const r of table) process.stdout.write(`${line(r)}\n`);
}
