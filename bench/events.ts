/**
 * events: records per second delivered into a JS callback that reads one
 * field of each record, for the ring buffer and the perf buffer, against a C
 * consumer on libbpf (bench/c/consumer.c) with the same BPF program
 * (bench/c/getppid.bpf.c) and the same load generator (bench/c/gen.c: a
 * process calling getppid() in a tight loop), generator and consumer pinned
 * to different CPUs.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { native } from "../src/native.js";
import { max, median, report, round } from "./lib.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

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

export async function eventsBench(RUNS: number): Promise<void> {
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
