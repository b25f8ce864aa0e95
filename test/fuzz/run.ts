/**
 * `npm run fuzz`: runs every property of test/fuzz/properties.ts for a share
 * of the time (about a minute in all by default), each in a worker thread
 * so that an input that never returns is reported (with the input) instead
 * of hanging the run. Prints per target the executions, executions/s and
 * any counterexample with the seed and path that replay it.
 *
 *   node dist/test/fuzz/run.js [--seconds N] [--seed S] [--only name,name] [--json]
 *
 * Replay one counterexample: --only <target> --seed <seed> --path <path>.
 * Exit status 1 when a property failed.
 */
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import fc from "fast-check";
import { setInputHook } from "./guard.js";
import { cleanup, targets } from "./properties.js";

interface Job {
  target: string;
  seed: number;
  ms: number;
  path?: string;
  input: SharedArrayBuffer;
}

interface Outcome {
  target: string;
  runs: number;
  ms: number;
  failed: boolean;
  seed: number;
  path?: string;
  counterexample?: string;
  error?: string;
  hung?: boolean;
}

const INPUT_BYTES = 64 * 1024;

/** In the worker: runs one target until its time is up or it fails. */
function work(job: Job): void {
  const target = targets.find((t) => t.name === job.target);
  if (!target) throw new Error(`no fuzz target ${job.target}`);
  const len = new Int32Array(job.input, 0, 1);
  const bytes = new Uint8Array(job.input, 4);
  const enc = new TextEncoder();
  setInputHook((x) => {
    let text: string;
    try {
      text = fc.stringify(x);
    } catch {
      text = String(x);
    }
    const { written } = enc.encodeInto(text.slice(0, INPUT_BYTES / 3), bytes);
    Atomics.store(len, 0, written);
  });
  const t0 = performance.now();
  const details = fc.check(target.property(), {
    seed: job.seed,
    numRuns: job.path ? 1 : 1_000_000_000,
    ...(job.path ? { path: job.path } : {}),
    interruptAfterTimeLimit: job.ms,
    markInterruptAsFailure: false,
    endOnFailure: false,
  });
  const ms = performance.now() - t0;
  cleanup();
  const out: Outcome = {
    target: job.target,
    runs: details.numRuns,
    ms,
    failed: details.failed,
    seed: details.seed,
  };
  if (details.failed) {
    out.path = details.counterexamplePath ?? undefined;
    out.counterexample = details.counterexample ? fc.stringify(details.counterexample) : undefined;
    const err = details.errorInstance as Error | undefined;
    out.error = err?.message ?? String(details.errorInstance);
  }
  parentPort?.postMessage(out);
}

/** In the main thread: one worker for one target, given up on after its time plus a margin. */
function runTarget(job: Omit<Job, "input">, marginMs: number): Promise<Outcome> {
  const input = new SharedArrayBuffer(INPUT_BYTES + 4);
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { ...job, input } });
  return new Promise((resolve) => {
    const t0 = performance.now();
    const timer = setTimeout(() => {
      const n = Atomics.load(new Int32Array(input, 0, 1), 0);
      const last = new TextDecoder().decode(new Uint8Array(input, 4, n));
      void worker.terminate();
      resolve({
        target: job.target,
        runs: 0,
        ms: performance.now() - t0,
        failed: true,
        hung: true,
        seed: job.seed,
        counterexample: last,
        error: `no answer ${((job.ms + marginMs) / 1000).toFixed(0)} s after the start: an input hangs (the last one tried is shown)`,
      });
    }, job.ms + marginMs);
    worker.once("message", (o: Outcome) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve(o);
    });
    worker.once("error", (err) => {
      clearTimeout(timer);
      resolve({
        target: job.target,
        runs: 0,
        ms: performance.now() - t0,
        failed: true,
        seed: job.seed,
        error: `worker died: ${err.stack ?? err.message}`,
      });
    });
  });
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const seconds = Number(arg("seconds") ?? 60);
  const seed = arg("seed") === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(arg("seed"));
  const only = arg("only")?.split(",");
  const path = arg("path");
  const json = process.argv.includes("--json");
  if (!(seconds > 0) || !Number.isFinite(seed)) {
    process.stderr.write("usage: run.js [--seconds N] [--seed S] [--only a,b] [--path P] [--json]\n");
    process.exit(2);
  }
  const chosen = targets.filter((t) => !only || only.includes(t.name));
  if (chosen.length === 0) {
    process.stderr.write(`no such target; targets: ${targets.map((t) => t.name).join(", ")}\n`);
    process.exit(2);
  }
  const weights = chosen.reduce((s, t) => s + (t.weight ?? 1), 0);
  if (!json) process.stdout.write(`fuzz: ${chosen.length} targets, ${seconds} s, seed ${seed}\n`);
  const outcomes: Outcome[] = [];
  for (const t of chosen) {
    const ms = Math.max(200, (seconds * 1000 * (t.weight ?? 1)) / weights);
    const o = await runTarget({ target: t.name, seed, ms, ...(path ? { path } : {}) }, 15_000 + ms);
    outcomes.push(o);
    if (json) {
      process.stdout.write(`${JSON.stringify(o)}\n`);
      continue;
    }
    const rate = o.ms > 0 ? (o.runs / o.ms) * 1000 : 0;
    process.stdout.write(
      `${t.name.padEnd(22)} ${String(o.runs).padStart(9)} runs ${rate.toFixed(0).padStart(8)}/s  ${o.failed ? "FAILED" : "ok"}\n`,
    );
    if (o.failed) {
      process.stdout.write(`  error: ${(o.error ?? "").split("\n").slice(0, 6).join("\n  ")}\n`);
      process.stdout.write(`  counterexample: ${(o.counterexample ?? "").slice(0, 2000)}\n`);
      process.stdout.write(
        `  replay: node dist/test/fuzz/run.js --only ${o.target} --seed ${o.seed}${o.path ? ` --path ${o.path}` : ""}\n`,
      );
    }
  }
  const total = outcomes.reduce((s, o) => s + o.runs, 0);
  const failed = outcomes.filter((o) => o.failed);
  if (!json)
    process.stdout.write(
      `total ${total} runs in ${seconds} s; ${failed.length ? `${failed.length} FAILED: ${failed.map((o) => o.target).join(", ")}` : "no failures"}\n`,
    );
  process.exitCode = failed.length ? 1 : 0;
}

if (!isMainThread) work(workerData as Job);
else if (process.env.NODE_TEST_CONTEXT === undefined) {
  // Under `node --test dist/test/`, which runs every file below test/, this is not a test: do nothing.
  await main();
}
