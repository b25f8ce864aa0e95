/** What the benchmarks share: result rows, statistics, and timing a process to a line of its output. */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/** --json: JSON lines instead of the table. */
export const json = process.argv.includes("--json");

/** One result line: tsbpf's value next to its baseline's, measured in the same run. */
export interface Row {
  name: string;
  value: number;
  unit: string;
  baseline: number | null;
  baseline_name: string;
  target?: string;
  [extra: string]: unknown;
}

export const rows: Row[] = [];
export function report(row: Row): void {
  rows.push(row);
  if (json) process.stdout.write(`${JSON.stringify(row)}\n`);
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
export const max = (xs: number[]): number => Math.max(...xs);
export const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

export interface Sample {
  ms: number;
  rssKb: number;
  /**
   * Page faults that read from disk by then (/proc/PID/stat's majflt): a
   * start that had to read back pages of its program the kernel had dropped
   * from the page cache (a machine's memory reclaim can drop them between
   * runs) is slower for that, and says so here.
   */
  majorFaults: number;
}

export function peakRssKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The major page faults of a process so far (/proc/PID/stat's majflt), NaN when it is gone. */
export function majorFaults(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // (fields after the command name, which is in parentheses and may hold spaces: majflt is the 12th field)
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[9]);
  } catch {
    return Number.NaN;
  }
}

/**
 * What ends a timing: a string or pattern in the output so far, or a test of
 * it given the CLOCK_MONOTONIC nanoseconds of the spawn (Node's hrtime and
 * the kernel's bpf_ktime_get_ns share that clock), to accept only events
 * that happened after the process started.
 */
export type Marker = string | RegExp | ((out: string, spawnedNs: bigint) => boolean);

function matches(marker: Marker, out: string, t0: bigint): boolean {
  if (typeof marker === "string") return out.includes(marker);
  if (marker instanceof RegExp) return marker.test(out);
  return marker(out, t0);
}

/** Starts argv, resolves when stdout matches marker: elapsed ms and peak RSS then. */
export function timeToMarker(argv: string[], marker: Marker, env: NodeJS.ProcessEnv = {}): Promise<Sample> {
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
      if (!done && matches(marker, out, t0)) {
        done = true;
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const rssKb = peakRssKb(child.pid as number);
        const faults = majorFaults(child.pid as number);
        clearTimeout(timer);
        child.kill("SIGINT");
        // (bpftrace's syscount.bt can miss a SIGINT sent right after its BEGIN line)
        const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
        child.on("exit", () => {
          clearTimeout(kill);
          resolve({ ms, rssKb, majorFaults: faults });
        });
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
