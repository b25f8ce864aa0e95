/**
 * The tsbpf side of the event-stream benchmark: the same BPF program as the C
 * consumer (bench/c/getppid.bpf.c, compiled by tsbpf from its source), the
 * same load generator (bench/c/gen), a JS callback that reads one field of
 * each record. Prints one JSON line with the fields of bench/c/consumer.c's.
 *
 *   node dist/bench/events_consumer.js SRC GEN ringbuf|perf EVENTS SETTING PAGES TIMEOUT_MS DRAIN_MS
 *     ringbuf SETTING: 0 (kernel wake-up per unseen record) or a threshold in bytes
 *     perf SETTING: wakeup_events (1 = every sample)
 *     TIMEOUT_MS: the poll timeout (a timer that wakes the event loop this often)
 *     DRAIN_MS: consume every DRAIN_MS ms as well (0: never)
 *
 * The loop is bench/c/consumer.c's, on Node's event loop: records arrive
 * through the library's epoll-driven delivery (openRingBuffer /
 * openPerfBuffer), the callback ends the run at the last record expected,
 * the generator's exit is seen through its 'exit' event, which reads the
 * drops map (the only read while timing) and drains once; a DRAIN_MS
 * interval consumes, and a TIMEOUT_MS interval stands for the C side's poll
 * timeout (after the exit, it drains whatever no wake-up signalled).
 *
 * Wake-ups: the library hands a wake-up's records to JS in one batch
 * (onBatch, through napi_make_callback, after which the microtask queue
 * runs); the first record of a batch counts one wake-up and queues a
 * microtask that closes the batch. Records from this file's own consume()
 * calls count as drains instead.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { type ArrayTable, BPF, type PerfEventArray, type RingBuf } from "../src/index.js";

const [src, gen, kind, eventsArg, settingArg, pagesArg, timeoutArg, drainArg] = process.argv.slice(2);
if (!src || !gen || (kind !== "ringbuf" && kind !== "perf") || !eventsArg || settingArg === undefined) {
  process.stderr.write(
    "usage: events_consumer SRC GEN ringbuf|perf EVENTS SETTING [PAGES [TIMEOUT_MS [DRAIN_MS]]]\n",
  );
  process.exit(2);
}
const events = Number(eventsArg);
const setting = Number(settingArg);
const timeoutMs = Number(timeoutArg ?? 100);
const drainMs = Number(drainArg ?? 0);

// Attached below, once the configuration is set (its SEC() would attach it at load).
const b = await BPF.load({ text: readFileSync(src, "utf8"), autoAttach: false });
const cfg = b.getTable<ArrayTable<bigint>>("cfg");
cfg.set(0, kind === "ringbuf" ? BigInt(setting) : 0n);
cfg.set(1, kind === "ringbuf" ? 2n : 1n); // skip the other output
b.getTable<ArrayTable<bigint>>("seqs").set(0, 0n);
const drops = b.getTable<ArrayTable<bigint>>("drops");
drops.clear();
b.attachTracepoint({ tp: "syscalls:sys_enter_getppid", fnName: "on_getppid" });

let received = 0;
let seqSum = 0;
// The run ends when received reaches target: the events, less the lost once known.
let target = events;
let t1 = 0;
let finish: () => void = () => {};
const finished = new Promise<void>((resolve) => {
  finish = resolve;
});
let wakeups = 0;
let drains = 0;
let drainRecords = 0;
let dropsReads = 0;
let draining = false;
let inBatch = false;
const endBatch = (): void => {
  inBatch = false;
};
// The callback reads one field (seq, at offset 4) of each record.
const onRecord = (data: Uint8Array): void => {
  seqSum += data[4] as number;
  if (!inBatch && !draining) {
    inBatch = true;
    wakeups++;
    queueMicrotask(endBatch);
  }
  if (++received >= target && t1 === 0) {
    t1 = performance.now();
    finish();
  }
};
if (kind === "ringbuf") {
  b.getTable<RingBuf>("rb").openRingBuffer((_ctx, data) => onRecord(data));
} else {
  b.getTable<PerfEventArray>("perf_events").openPerfBuffer((_cpu, data) => onRecord(data), {
    pageCnt: Number(pagesArg ?? 64),
    wakeupEvents: setting,
  });
}
/** Consumes what waits without waiting (the drain timer, the generator's exit). */
const drain = (): void => {
  const before = received;
  draining = true;
  try {
    if (kind === "ringbuf") b.ringBufferConsume();
    else b.perfBufferConsume();
  } finally {
    draining = false;
  }
  if (received > before) {
    drains++;
    drainRecords += received - before;
  }
};

// GEN_CPU pins the generator as the C consumer does (taskset execs it: same pid).
const genCpu = process.env.GEN_CPU;
const child =
  genCpu === undefined
    ? spawn(gen, [String(events)], { stdio: ["pipe", "ignore", "inherit"] })
    : spawn("taskset", ["-c", genCpu, gen, String(events)], { stdio: ["pipe", "ignore", "inherit"] });
b.getTable<ArrayTable<number>>("target").set(0, child.pid as number);
const lostNow = (): number => Number(drops.get(kind === "ringbuf" ? 0 : 1) ?? 0n);
let lost = 0;
let genEnd = 0;
let exitCode: number | null = null;
const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
// Let the loop settle (the perf buffer's first drain on open) before timing.
await new Promise((r) => setImmediate(r));
// Voluntary context switches of the event loop's thread: the times it slept.
const sleepsNow = (): number =>
  Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync("/proc/thread-self/status", "utf8"))?.[1]);
const sleeps0 = sleepsNow();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
child.stdin?.write("g");
child.on("exit", (code) => {
  // the generator's exit: what was lost is final now
  exitCode = code;
  genEnd = performance.now();
  if (t1 !== 0) return;
  lost = lostNow();
  dropsReads++;
  target = events - lost;
  if (received >= target) {
    t1 = genEnd;
    finish();
  } else drain();
});
const drainTimer = drainMs > 0 ? setInterval(drain, drainMs) : undefined;
const tick = setInterval(() => {
  // a poll timeout: after the exit, what no wake-up signalled
  if (genEnd === 0 || t1 !== 0) return;
  drain();
  if (t1 === 0 && performance.now() - genEnd > 10_000) {
    process.stderr.write(
      `events_consumer: ${received} of ${target} records 10 s after the generator exited\n`,
    );
    t1 = performance.now();
    finish();
  }
}, timeoutMs);
await finished;
const cpu = process.cpuUsage(cpu0);
const sleeps = sleepsNow() - sleeps0;
if (drainTimer) clearInterval(drainTimer);
clearInterval(tick);
await exited;
if (genEnd === 0) genEnd = performance.now();
if (exitCode !== 0) {
  process.stderr.write(`events_consumer: the generator failed (exit code ${exitCode})\n`);
  process.exit(1);
}
// After timing: what the report says was lost (read again only if not read at the exit).
if (dropsReads === 0) lost = lostNow();
const seconds = (t1 - t0) / 1000;
const status = readFileSync("/proc/self/status", "utf8");
const maxrss = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
process.stdout.write(
  `${JSON.stringify({
    consumer: `tsbpf-${kind}`,
    events: received,
    seconds,
    rate: Math.round(received / seconds),
    lost,
    gen_seconds: (genEnd - t0) / 1000,
    wakeups,
    wakeup_records: received - drainRecords,
    drains,
    drain_records: drainRecords,
    drops_reads: dropsReads,
    sleeps,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    maxrss_kb: maxrss,
    seq_sum: seqSum,
  })}\n`,
);
b.close();
