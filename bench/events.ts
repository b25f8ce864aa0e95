/**
 * events: records per second delivered into a JS callback that reads one
 * field of each record, for the ring buffer and the perf buffer, against a C
 * consumer on libbpf (bench/c/consumer.c) with the same BPF program
 * (bench/c/getppid.bpf.c) and the same load generator (bench/c/gen.c: a
 * process calling getppid() in a tight loop), generator and consumer pinned
 * to different CPUs.
 *
 * Both consumers run the same loop (bench/c/consumer.c, bench/events_consumer.ts):
 *   - the run ends at the last record expected: every record received, or,
 *     once the generator has exited, received plus counted lost;
 *   - the same poll timeout (POLL_TIMEOUT_MS: libbpf's poll timeout; a timer
 *     in JS, which bounds the event loop's epoll_wait the same way);
 *   - where the kernel does not signal every record (a ring's wake-up
 *     threshold, perf's wakeup_events > 1), both also consume every
 *     DRAIN_MS ms; where it does, neither drains on a timer;
 *   - the drops map is read once, when the generator's exit is seen
 *     (SIGCHLD in C, the 'exit' event in JS), which also drains once; never
 *     per wake-up.
 * Each row reports, for both sides, wake-ups (poll returns, or JS batches
 * from the event loop, that delivered at least one record), records per
 * wake-up, timer drains that delivered records, drops-map reads while
 * timing, the times the consumer slept (voluntary context switches of its
 * polling thread), the consumer's CPU time per record, the generator's own rate, and
 * every run's rate (samples, baseline_samples).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { native } from "../src/native.js";
import { max, median, report, round } from "./lib.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** What both consumers print (bench/c/consumer.c describes each field). */
interface ConsumerResult {
  events: number;
  seconds: number;
  rate: number;
  lost: number;
  gen_seconds: number;
  wakeups: number;
  wakeup_records: number;
  drains: number;
  drain_records: number;
  drops_reads: number;
  sleeps: number;
  cpu_s: number;
  maxrss_kb: number;
}

/** libbpf's poll timeout in C, a timer in JS: the longest the consumer sleeps with nothing to do. */
const POLL_TIMEOUT_MS = 100;
/** The drain timer of the modes where the kernel does not signal every record. */
const DRAIN_MS = 1;

/** The fields of a row for one side (prefix "" for tsbpf, "baseline_" for C): medians over the runs. */
function sideFields(prefix: string, rs: ConsumerResult[]): Record<string, number | number[]> {
  return {
    [`${prefix}lost`]: median(rs.map((r) => r.lost)),
    [`${prefix}wakeups`]: median(rs.map((r) => r.wakeups)),
    [`${prefix}records_per_wakeup`]: round(median(rs.map((r) => r.wakeup_records / Math.max(1, r.wakeups)))),
    [`${prefix}drains`]: median(rs.map((r) => r.drains)),
    [`${prefix}drain_records`]: median(rs.map((r) => r.drain_records)),
    [`${prefix}drops_reads`]: max(rs.map((r) => r.drops_reads)),
    [`${prefix}sleeps`]: median(rs.map((r) => r.sleeps)),
    [`${prefix}cpu_ns_per_event`]: Math.round(median(rs.map((r) => (r.cpu_s * 1e9) / Math.max(1, r.events)))),
    [`${prefix}gen_rate`]: Math.round(median(rs.map((r) => (r.events + r.lost) / r.gen_seconds))),
    [`${prefix}peak_rss_mb`]: round(max(rs.map((r) => r.maxrss_kb)) / 1024),
    [`${prefix}samples`]: rs.map((r) => r.rate),
  };
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
  // One generator for both sides: the C consumer execs it as events_consumer.js does.
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
    // Where the kernel does not signal every record: a ring's threshold (or NO_WAKEUP), perf's wakeup_events > 1.
    const drainMs = (c.kind === "ringbuf" ? c.setting !== 0 : c.setting > 1) ? DRAIN_MS : 0;
    const cr: ConsumerResult[] = [];
    const jr: ConsumerResult[] = [];
    for (let i = 0; i < runs; i++) {
      const settingArgs =
        c.kind === "ringbuf"
          ? ["--rb-flags", String(c.setting)]
          : ["--wakeup", String(c.setting), "--pages", String(c.pages)];
      const loopArgs = ["--timeout", String(POLL_TIMEOUT_MS), "--drain-ms", String(drainMs)];
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
              ...loopArgs,
              "--gen",
              join(work, "gen"),
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
              String(POLL_TIMEOUT_MS),
              String(drainMs),
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
      events: c.events,
      poll_timeout_ms: POLL_TIMEOUT_MS,
      drain_ms: drainMs,
      ...sideFields("", jr),
      ...sideFields("baseline_", cr),
      runs,
    });
  }
  rmSync(work, { recursive: true, force: true });
}
