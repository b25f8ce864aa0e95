/**
 * The exporter's cost, each against a baseline in the same run:
 *
 * - a scrape of 10,000 label sets: a BPF hash map of 10k keys (a u32 id and
 *   a 12-byte name, filled from user space) exported through b.metrics with
 *   ebpf_exporter's byte labels and decoders (uint, string), scraped over
 *   HTTP: latency from request to the last byte, and the CPU the scrape
 *   costs the exporting process; the baseline is prom-client's own Counter
 *   holding the same 10k label sets in memory (no map to read, nothing to
 *   decode), served the same way. First scrape (decoder cache cold) apart.
 * - a scrape of 50 histograms: 50 label sets of a log2 histogram of 28
 *   buckets (a hash of {id, slot} → count, every slot filled), against
 *   prom-client's Histogram with the same 50 label sets and bounds.
 * - peak RSS of `tsbpf exporter` running the five example configs
 *   (examples/exporter/) for 10 s with a scrape a second, against a bare
 *   Node.js process serving prom-client's default metrics over HTTP.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Counter, Histogram, Registry } from "prom-client";
import { BPF } from "../src/bpf.js";
import { type ScrapedRegistry, serveMetrics } from "../src/export/serve.js";
import type { Table } from "../src/maps/table.js";
import { median, peakRssKb, report, round } from "./lib.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

const PROGRAM = `
struct key10k { u32 id; char name[12]; };
BPF_HASH(bench_series_total, struct key10k, u64, 16384);
struct hkey { u32 id; u32 slot; };
BPF_HASH(bench_latency_seconds, struct hkey, u64, 4096);
`;

/** Scrapes url `runs` times: latency (ms) and the process's CPU (ms) per scrape, first one apart. */
async function scrapeTimes(
  url: string,
  runs: number,
): Promise<{ first: number; ms: number[]; cpu: number[]; bytes: number }> {
  const ms: number[] = [];
  const cpu: number[] = [];
  let first = 0;
  let bytes = 0;
  for (let i = 0; i <= runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const text = await (await fetch(url)).text();
    const t = performance.now() - t0;
    const c = process.cpuUsage(c0);
    bytes = text.length;
    if (i === 0) first = t;
    else {
      ms.push(t);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  return { first, ms, cpu, bytes };
}

async function scrapeBench(
  name: string,
  registry: ScrapedRegistry,
  baseline: ScrapedRegistry,
  baselineName: string,
  runs: number,
  extra: Record<string, unknown>,
): Promise<void> {
  const ours = await serveMetrics(registry, { host: "127.0.0.1", port: 0 });
  const theirs = await serveMetrics(baseline, { host: "127.0.0.1", port: 0 });
  try {
    const a = await scrapeTimes(ours.url, runs);
    const b = await scrapeTimes(theirs.url, runs);
    report({
      name: `exporter: scrape ${name}, latency (median of ${runs}; first scrape ${round(a.first)} ms)`,
      value: round(median(a.ms)),
      unit: "ms",
      baseline: round(median(b.ms)),
      baseline_name: baselineName,
      target: "< 100 ms",
      runs,
      bytes: a.bytes,
      baseline_bytes: b.bytes,
      samples_ms: a.ms.map((x) => round(x, 2)),
      baseline_samples_ms: b.ms.map((x) => round(x, 2)),
      ...extra,
    });
    report({
      name: `exporter: scrape ${name}, CPU of the exporting process (median)`,
      value: round(median(a.cpu)),
      unit: "ms",
      baseline: round(median(b.cpu)),
      baseline_name: baselineName,
      runs,
    });
  } finally {
    ours.close();
    theirs.close();
  }
}

async function tenThousand(b: BPF, runs: number): Promise<void> {
  const t = b.getTable<Table<{ id: number; name: string }, bigint>>("bench_series_total");
  const baselineRegistry = new Registry();
  const counter = new Counter({
    name: "bench_series_total",
    help: "10k series",
    labelNames: ["id", "name"],
    registers: [baselineRegistry],
  });
  for (let i = 0; i < 10_000; i++) {
    const name = `task-${i % 997}`;
    t.set({ id: i, name }, BigInt(i + 1));
    counter.inc({ id: String(i), name }, i + 1);
  }
  const registry = new Registry();
  b.metrics(registry, [
    {
      type: "counter",
      name: "bench_series_total",
      help: "10k series",
      labels: [
        { name: "id", size: 4, decoders: [{ name: "uint" }] },
        { name: "name", size: 12, decoders: [{ name: "string" }] },
      ],
    },
  ]);
  await scrapeBench(
    "10,000 series",
    registry,
    baselineRegistry,
    "prom-client Counter, same 10k label sets in memory",
    runs,
    {
      series: 10_000,
    },
  );
}

async function fiftyHistograms(b: BPF, runs: number): Promise<void> {
  const t = b.getTable<Table<{ id: number; slot: number }, bigint>>("bench_latency_seconds");
  const bounds: number[] = [];
  for (let k = 0; k <= 27; k++) bounds.push(Number(((2 ** k - 1) * 1e-6).toPrecision(15)));
  const baselineRegistry = new Registry();
  const h = new Histogram({
    name: "bench_latency_seconds",
    help: "50 histograms",
    labelNames: ["id"],
    buckets: bounds,
    registers: [baselineRegistry],
  });
  for (let id = 0; id < 50; id++) {
    for (let slot = 0; slot <= 27; slot++) {
      t.set({ id, slot }, BigInt(slot + 1));
      // the same counts: slot+1 observations at the slot's bound
      for (let n = 0; n <= slot; n++) h.observe({ id: String(id) }, bounds[slot] as number);
    }
  }
  const registry = new Registry();
  b.metrics(registry, [
    {
      type: "histogram",
      name: "bench_latency_seconds",
      help: "50 histograms",
      labels: [{ name: "id" }],
      bucketType: "log2",
      bucketField: "slot",
      bucketMax: 27,
      bucketMultiplier: 1e-6,
    },
  ]);
  await scrapeBench(
    "50 histograms (28 buckets each)",
    registry,
    baselineRegistry,
    "prom-client Histogram, same buckets and counts",
    runs,
    {
      histograms: 50,
    },
  );
}

/** Peak RSS (KB) of a process serving metrics for `seconds`, scraped once a second. */
async function servedRss(
  argv: string[],
  url: (stderr: string) => string | undefined,
  seconds: number,
): Promise<number> {
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"], cwd: root });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  try {
    const deadline = Date.now() + 60_000;
    let u = url(err);
    while (!u && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 50));
      u = url(err);
    }
    if (!u) throw new Error(`${argv.join(" ")} did not serve: ${err}`);
    for (let i = 0; i < seconds; i++) {
      await (await fetch(u)).text();
      await new Promise((r) => setTimeout(r, 1000));
    }
    return peakRssKb(child.pid as number);
  } finally {
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  }
}

const BARE_SERVER = `
const { Registry, collectDefaultMetrics } = require("prom-client");
const http = require("node:http");
const r = new Registry();
collectDefaultMetrics({ register: r });
const s = http.createServer(async (req, res) => { res.end(await r.metrics()); });
s.listen(0, "127.0.0.1", () => process.stderr.write("serving at http://127.0.0.1:" + s.address().port + "/metrics\\n"));
`;

export async function exporterBench(runs: number): Promise<void> {
  const b = await BPF.load({ text: PROGRAM });
  try {
    await tenThousand(b, Math.max(runs, 5));
    await fiftyHistograms(b, Math.max(runs, 5));
  } finally {
    b.close();
  }
  const urlOf = (s: string): string | undefined => /serving .*at (http:\S+)/.exec(s)?.[1];
  const names = "biolatency,runqlat,syscalls,tcp-retransmit,oomkill";
  const ours = await servedRss(
    [
      process.execPath,
      join(root, "dist/bundle/tsbpf.cjs"),
      "exporter",
      "--config.dir",
      join(root, "examples/exporter"),
      "--config.names",
      names,
      "--web.listen-address",
      "127.0.0.1:0",
    ],
    urlOf,
    10,
  );
  const bare = await servedRss([process.execPath, "-e", BARE_SERVER], urlOf, 10);
  report({
    name: "exporter: peak RSS with the five example configs, 10 s, a scrape a second",
    value: round(ours / 1024),
    unit: "MB",
    baseline: round(bare / 1024),
    baseline_name: "bare Node.js serving prom-client's default metrics",
    target: "< 80 MB",
    configs: names,
  });
}
