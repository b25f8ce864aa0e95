/**
 * The tsbpf side of the event-stream benchmark: the same BPF program as the C
 * consumer (bench/c/getppid.bpf.c, compiled by tsbpf from its source), the
 * same load generator (bench/c/gen), a JS callback that reads one field of
 * each record. Prints one JSON line like bench/c/consumer.c.
 *
 *   node dist/bench/events_consumer.js SRC GEN ringbuf|perf EVENTS SETTING [PAGES]
 *     ringbuf SETTING: 0 (kernel wake-up per unseen record) or a threshold in bytes
 *     perf SETTING: wakeup_events (1 = every sample)
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { type ArrayTable, BPF, type PerfEventArray, type RingBuf } from "../src/index.js";

const [src, gen, kind, eventsArg, settingArg, pagesArg] = process.argv.slice(2);
if (!src || !gen || (kind !== "ringbuf" && kind !== "perf") || !eventsArg || settingArg === undefined) {
  process.stderr.write("usage: events_consumer SRC GEN ringbuf|perf EVENTS SETTING\n");
  process.exit(2);
}
const events = Number(eventsArg);
const setting = Number(settingArg);

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
let t1 = 0;
// The callback reads one field (seq, at offset 4) of each record.
const onRecord = (data: Uint8Array): void => {
  seqSum += data[4] as number;
  received++;
};
let drain: NodeJS.Timeout | undefined;
if (kind === "ringbuf") {
  b.getTable<RingBuf>("rb").openRingBuffer((_ctx, data) => onRecord(data));
  // Records below the threshold are never signalled: drain them on a timer.
  if (setting >= 4) drain = setInterval(() => b.ringBufferConsume(), 1);
} else {
  b.getTable<PerfEventArray>("perf_events").openPerfBuffer((_cpu, data) => onRecord(data), {
    pageCnt: Number(pagesArg ?? 64),
    wakeupEvents: setting,
  });
}

// GEN_CPU pins the generator as the C consumer's --gen-cpu does (taskset execs it: same pid).
const genCpu = process.env.GEN_CPU;
const child =
  genCpu === undefined
    ? spawn(gen, [String(events)], { stdio: ["pipe", "ignore", "inherit"] })
    : spawn("taskset", ["-c", genCpu, gen, String(events)], { stdio: ["pipe", "ignore", "inherit"] });
b.getTable<ArrayTable<number>>("target").set(0, child.pid as number);
const lostNow = (): number => Number(drops.get(kind === "ringbuf" ? 0 : 1) ?? 0n);
const t0 = performance.now();
child.stdin?.write("g");
let exited = false;
child.on("exit", () => {
  exited = true;
});

await new Promise<void>((resolve) => {
  const check = setInterval(() => {
    if (kind === "ringbuf") b.ringBufferConsume();
    else b.perfBufferConsume();
    if (received + lostNow() >= events || (exited && performance.now() - t0 > 60_000)) {
      clearInterval(check);
      resolve();
    }
    if (received > 0 && t1 === 0 && received + lostNow() >= events) t1 = performance.now();
  }, 2);
});
if (t1 === 0) t1 = performance.now();
if (drain) clearInterval(drain);
const seconds = (t1 - t0) / 1000;
const status = readFileSync("/proc/self/status", "utf8");
const maxrss = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
process.stdout.write(
  `${JSON.stringify({
    consumer: `tsbpf-${kind}`,
    events: received,
    seconds,
    rate: Math.round(received / seconds),
    lost: lostNow(),
    maxrss_kb: maxrss,
    seq_sum: seqSum,
  })}\n`,
);
b.close();
