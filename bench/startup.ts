/**
 * startup: what a user waits for. From spawn() of the command until the
 * first row of an event is read from its stdout, while a generator execs
 * /bin/true every 2 ms (bench/c/storm.c, started before and running through
 * every sample), so that the time includes compiling, loading, attaching,
 * the first event's way through the kernel and its printing.
 *
 * - the floor: a bare `node -e 'console.log(…)'` to its line (Node's own start);
 * - printk_sample (`tsbpf printk-sample`, what `npm start` runs): the first
 *   row of an execve by the generator (COMM "storm");
 * - execsnoop (`tsbpf execsnoop`): the first row of the generator's exec
 *   (argument "tsbpf-storm");
 * - the library (bench/startup_library.ts: a script that imports "tsbpf",
 *   compiles a bcc program reporting each execve's first argument and prints
 *   its rows): the first row of the generator's exec;
 * - bpftrace, in the same run: printk_sample's one-liner and Debian's
 *   execsnoop.bt, timed to the same rows (`-B line`, as a pipe would need).
 *
 * Cold: a fresh process with an empty cache directory (TSBPF_CACHE_DIR), so
 * printk_sample compiles its C; warm: a fresh process with the cache a
 * first run filled. Every sample is its own process. The samples run in
 * rounds: each round runs the floor, the baselines and every subject cold
 * and warm once, in an order rotated from round to round, so that a slow
 * moment of the machine falls on all of them; a subject's margin over the
 * floor is the median of the rounds' differences. Peak RSS is the
 * process's VmHWM when its first row arrives. Then RSS after a busy trace:
 * execsnoop for --busy-seconds (60) while the generator execs every 2 ms.
 * Raw samples are kept in the JSON rows (`samples`, `rss_samples`).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Marker, max, median, report, round, type Sample, timeToMarker } from "./lib.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(root, "dist/bundle/tsbpf.cjs");
const busyArg = process.argv.find((a) => a.startsWith("--busy-seconds="));
const BUSY_SECONDS = busyArg ? Number(busyArg.slice("--busy-seconds=".length)) : 60;
/** --subjects=printk_sample,execsnoop,library,tools (all by default); --no-bpftrace skips the baselines. */
const subjectsArg = process.argv.find((a) => a.startsWith("--subjects="));
const SUBJECTS = subjectsArg
  ? subjectsArg.slice("--subjects=".length).split(",")
  : ["printk_sample", "execsnoop", "library", "tools"];

/**
 * The tools that print a row per event (the "snoop tools" and their
 * kin), whose peak RSS is measured some seconds into a run: a tool's start
 * may do more than execsnoop's (read a binary's symbols for its uprobes,
 * try a hook this kernel refuses), and its ring buffer is mapped in its
 * address space.
 */
const ROW_TOOLS = [
  "bashreadline",
  "bindsnoop",
  "biosnoop",
  "capable",
  "drsnoop",
  "execsnoop",
  "exitsnoop",
  "gethostlatency",
  "killsnoop",
  "mountsnoop",
  "oomkill",
  "opensnoop",
  "runqslower",
  "solisten",
  "sslsniff",
  "statsnoop",
  "syncsnoop",
  "tcpaccept",
  "tcpconnect",
  "tcpconnlat",
  "tcpdrop",
  "tcplife",
  "tcpretrans",
  "tcpstates",
  "threadsnoop",
];
const TOOL_SECONDS = 3;

/** VmHWM and VmRSS (kB) of a tool TOOL_SECONDS into a run, or undefined when it ended before (this kernel lacks its hooks). */
async function toolMemory(
  tool: string,
  env: NodeJS.ProcessEnv,
): Promise<{ hwmKb: number; rssKb: number } | undefined> {
  const child = spawn(process.execPath, [CLI, tool], {
    env: { ...process.env, ...UNSET, ...env },
    stdio: ["ignore", "ignore", "ignore"],
  });
  const exited = new Promise((r) => child.on("exit", r));
  await new Promise((r) => setTimeout(r, TOOL_SECONDS * 1000));
  let status: string | undefined;
  try {
    status = readFileSync(`/proc/${child.pid}/status`, "utf8");
  } catch {}
  child.kill("SIGINT");
  await exited;
  if (status === undefined || child.exitCode !== 0) return undefined;
  return { hwmKb: statusKb(status, "VmHWM"), rssKb: statusKb(status, "VmRSS") };
}
const NO_BPFTRACE = process.argv.includes("--no-bpftrace");

/** The generator: fork + exec of `/bin/true tsbpf-storm` every 2 ms until killed. */
function startGenerator(work: string): ChildProcess {
  const storm = join(work, "storm");
  execFileSync("gcc", ["-O2", join(root, "bench/c/storm.c"), "-o", storm]);
  const g = spawn(storm, ["exec", "1000000000", "1", "2000"], { stdio: ["pipe", "ignore", "ignore"] });
  g.stdin?.write("g");
  return g;
}

interface Subject {
  name: string;
  argv: string[];
  row: Marker;
}

/**
 * A printk_sample row of the generator's execve ("… time = NS , pid = …,
 * comm = storm") stamped after the spawn: trace_pipe is the kernel's one
 * buffer, and rows a previous sample's program wrote but never read are
 * still there for the next one.
 */
function freshStormRow(out: string, spawnedNs: bigint): boolean {
  for (const m of out.matchAll(/time = (\d+) ,[^\n]*comm = storm\b/g))
    if (BigInt(m[1] as string) >= spawnedNs) return true;
  return false;
}

/**
 * NODE_EXTRA_CA_CERTS (set on some machines, this project's CI among them)
 * makes every Node process read and parse that file of certificates at
 * start, ~60-90 ms: a cost of the machine, not of any program, so it is
 * unset for every subject alike.
 */
const UNSET = { NODE_EXTRA_CA_CERTS: undefined };

async function series(s: Subject, runs: number, env: NodeJS.ProcessEnv = {}): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < runs; i++) out.push(await timeToMarker(s.argv, s.row, { ...UNSET, ...env }));
  return out;
}

function row(
  name: string,
  samples: Sample[],
  baseline: Sample[] | null,
  baselineName: string,
  extra = {},
): void {
  report({
    name,
    value: round(median(samples.map((x) => x.ms))),
    unit: "ms",
    baseline: baseline ? round(median(baseline.map((x) => x.ms))) : null,
    baseline_name: baselineName,
    peak_rss_mb: round(max(samples.map((x) => x.rssKb)) / 1024),
    baseline_peak_rss_mb: baseline ? round(max(baseline.map((x) => x.rssKb)) / 1024) : null,
    runs: samples.length,
    ...extra,
    samples: samples.map((x) => round(x.ms)),
    rss_samples_kb: samples.map((x) => x.rssKb),
    major_fault_samples: samples.map((x) => x.majorFaults),
    baseline_samples: baseline?.map((x) => round(x.ms)) ?? null,
    baseline_major_fault_samples: baseline?.map((x) => x.majorFaults) ?? null,
  });
}

/** A field of /proc/PID/status in kB (NaN when missing). */
function statusKb(status: string, field: string): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
}

/** RSS of execsnoop after BUSY_SECONDS of rows (the generator runs meanwhile). */
async function busyRss(env: NodeJS.ProcessEnv): Promise<{ rssKb: number; hwmKb: number; rows: number }> {
  const child = spawn(process.execPath, [CLI, "execsnoop"], {
    env: { ...process.env, ...UNSET, ...env },
    stdio: ["ignore", "pipe", "ignore"],
  });
  let rows = 0;
  child.stdout.on("data", (b: Buffer) => {
    rows += b.toString().split("tsbpf-storm").length - 1;
  });
  await new Promise((r) => setTimeout(r, BUSY_SECONDS * 1000));
  const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
  const kb = (field: string): number => statusKb(status, field);
  const exited = new Promise((r) => child.on("exit", r));
  child.kill("SIGINT");
  await exited;
  return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM"), rows };
}

/** One thing timed in every round: a subject, cold or warm, or a baseline. */
interface Measure {
  key: string;
  subject: Subject;
  /** A fresh cache directory for each sample (cold), or the one a first run filled (warm). */
  cache?: "cold" | string;
  samples: Sample[];
}

/** The median of each round's difference between two measures (paired by round). */
function pairedMedian(a: Sample[], b: Sample[]): number {
  return median(a.map((x, i) => x.ms - (b[i] as Sample).ms));
}

export async function startupBench(RUNS: number): Promise<void> {
  const runs = Math.max(7, RUNS);
  const work = mkdtempSync(join(tmpdir(), "tsbpf-bench-startup-"));
  const gen = startGenerator(work);
  const cacheDirs: string[] = [];
  try {
    const bpftraceVersion = spawnSync("bpftrace", ["--version"], { encoding: "utf8" });
    const haveBpftrace = bpftraceVersion.status === 0 && !NO_BPFTRACE;
    const btName = haveBpftrace
      ? `bpftrace ${bpftraceVersion.stdout.trim().replace(/^bpftrace /, "")}`
      : "bpftrace";
    if (bpftraceVersion.status !== 0) {
      process.stderr.write("bench: bpftrace is not installed (scripts/bootstrap.sh --bench installs it)\n");
    }
    const oneLiner =
      "tracepoint:syscalls:sys_enter_execve " +
      '{ printf("start of execve time = %ld , pid = %u, comm = %s\\n", nsecs, pid, comm); }';
    const execsnoopBt = "/usr/sbin/execsnoop.bt";

    // Every round runs each measure once, in turn (the order rotated from round to
    // round), so that a slow moment of the machine, which lasts seconds and moves a
    // start by tens of ms, falls on the floor, the baselines and tsbpf alike.
    const measures: Measure[] = [
      {
        key: "floor",
        subject: {
          name: "node",
          argv: [process.execPath, "-e", 'console.log("first line")'],
          row: /first line/,
        },
        samples: [],
      },
    ];
    if (haveBpftrace) {
      measures.push({
        key: "bt-oneliner",
        subject: { name: "bt", argv: ["bpftrace", "-B", "line", "-e", oneLiner], row: freshStormRow },
        samples: [],
      });
      if (existsSync(execsnoopBt))
        measures.push({
          key: "bt-execsnoop",
          subject: { name: "bt", argv: ["bpftrace", "-B", "line", execsnoopBt], row: /tsbpf-storm/ },
          samples: [],
        });
    }
    const subjects: [string, Subject, string, string][] = [
      [
        "printk_sample",
        { name: "printk_sample", argv: [process.execPath, CLI, "printk-sample"], row: freshStormRow },
        "bt-oneliner",
        `${btName} one-liner`,
      ],
      [
        "execsnoop",
        { name: "execsnoop", argv: [process.execPath, CLI, "execsnoop"], row: /tsbpf-storm/ },
        "bt-execsnoop",
        `${btName} execsnoop.bt`,
      ],
      [
        "library",
        {
          name: "library",
          argv: [process.execPath, join(root, "dist/bench/startup_library.js")],
          row: /tsbpf-storm/,
        },
        "bt-execsnoop",
        `${btName} execsnoop.bt`,
      ],
    ];
    const chosen = subjects.filter(([l]) => SUBJECTS.includes(l));
    for (const [label, subject] of chosen) {
      measures.push({ key: `${label}-cold`, subject, cache: "cold", samples: [] });
      // warm: the cache a first run filled
      const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-cache-"));
      cacheDirs.push(dir);
      await series(subject, 1, { TSBPF_CACHE_DIR: dir });
      measures.push({ key: `${label}-warm`, subject, cache: dir, samples: [] });
    }
    for (let round = 0; round < runs; round++) {
      for (let k = 0; k < measures.length; k++) {
        const m = measures[(k + round) % measures.length] as Measure;
        if (m.cache === "cold") {
          const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-cache-"));
          try {
            m.samples.push(...(await series(m.subject, 1, { TSBPF_CACHE_DIR: dir })));
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        } else {
          m.samples.push(...(await series(m.subject, 1, m.cache ? { TSBPF_CACHE_DIR: m.cache } : {})));
        }
      }
    }
    const samplesOf = (key: string): Sample[] | null => measures.find((m) => m.key === key)?.samples ?? null;
    const floor = samplesOf("floor") as Sample[];
    const floorMs = round(median(floor.map((x) => x.ms)));
    report({
      name: "startup floor: bare node to its first line",
      value: floorMs,
      unit: "ms",
      baseline: null,
      baseline_name: "-",
      peak_rss_mb: round(max(floor.map((x) => x.rssKb)) / 1024),
      runs: floor.length,
      samples: floor.map((x) => round(x.ms)),
      rss_samples_kb: floor.map((x) => x.rssKb),
      major_fault_samples: floor.map((x) => x.majorFaults),
    });

    for (const [label, , btKey, btLabel] of chosen) {
      const cold = samplesOf(`${label}-cold`) as Sample[];
      const warm = samplesOf(`${label}-warm`) as Sample[];
      const bt = samplesOf(btKey);
      const coldMs = median(cold.map((x) => x.ms));
      const warmMs = median(warm.map((x) => x.ms));
      // over_floor_ms: the median of the rounds' differences (a round's samples ran
      // seconds apart); over_floor_of_medians_ms: the difference of the medians
      row(`startup ${label} to first event, cold (empty cache), median`, cold, bt, btLabel, {
        over_floor_ms: round(pairedMedian(cold, floor)),
        over_floor_of_medians_ms: round(coldMs - floorMs),
        target: "<= floor + 250 ms",
      });
      row(`startup ${label} to first event, warm, median`, warm, bt, btLabel, {
        over_floor_ms: round(pairedMedian(warm, floor)),
        over_floor_of_medians_ms: round(warmMs - floorMs),
        ratio_to_baseline: bt ? round(warmMs / median(bt.map((x) => x.ms)), 2) : null,
        target: "<= floor + 60 ms and <= 0.5 x baseline",
      });
      report({
        name: `startup ${label} peak RSS (cold and warm)`,
        value: round(max([...cold, ...warm].map((x) => x.rssKb)) / 1024),
        unit: "MB",
        baseline: bt ? round(max(bt.map((x) => x.rssKb)) / 1024) : null,
        baseline_name: btLabel,
        floor_mb: round(max(floor.map((x) => x.rssKb)) / 1024),
        target: "<= 50",
      });
    }

    if (BUSY_SECONDS > 0 && SUBJECTS.includes("execsnoop")) {
      const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-cache-"));
      try {
        const busy = await busyRss({ TSBPF_CACHE_DIR: dir });
        report({
          name: `execsnoop RSS after ${BUSY_SECONDS} s of rows (an exec every 2 ms)`,
          value: round(busy.rssKb / 1024),
          unit: "MB",
          baseline: null,
          baseline_name: "-",
          peak_rss_mb: round(busy.hwmKb / 1024),
          rows: busy.rows,
          target: "<= 50",
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    if (SUBJECTS.includes("tools")) {
      const floorMb = round(max(floor.map((x) => x.rssKb)) / 1024);
      const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-cache-"));
      try {
        for (const tool of ROW_TOOLS) {
          // a first run fills the cache (the tool's code cache, its CO-RE BTF); three warm runs are measured
          if (!(await toolMemory(tool, { TSBPF_CACHE_DIR: dir }))) {
            process.stderr.write(`bench: ${tool} does not run here, left out\n`);
            continue;
          }
          const runs: Array<{ hwmKb: number; rssKb: number }> = [];
          for (let i = 0; i < 3; i++) {
            const m = await toolMemory(tool, { TSBPF_CACHE_DIR: dir });
            if (m) runs.push(m);
          }
          if (runs.length === 0) continue;
          report({
            name: `${tool} peak RSS ${TOOL_SECONDS} s into a run, warm, median`,
            value: round(median(runs.map((x) => x.hwmKb)) / 1024),
            unit: "MB",
            baseline: floorMb,
            baseline_name: "bare node (floor)",
            rss_mb: round(median(runs.map((x) => x.rssKb)) / 1024),
            runs: runs.length,
            samples_kb: runs.map((x) => x.hwmKb),
            target: "<= 50",
          });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    gen.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
    for (const dir of cacheDirs) rmSync(dir, { recursive: true, force: true });
  }
}
