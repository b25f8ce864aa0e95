/**
 * NativeRingBuffer and NativePerfBuffer against the real kernel: a tracepoint
 * on getppid() (bench/c/getppid.bpf.c) writes one numbered record per call of
 * a generator process (bench/c/gen.c) to a ring buffer and a perf event
 * array; every record must arrive exactly once and in order, whichever way
 * consumption is driven.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setImmediate as yieldLoop } from "node:timers/promises";
import {
  type NativeError,
  type NativeLink,
  type NativeObject,
  type NativePerfBuffer,
  type NativeRingBuffer,
  native,
} from "../src/native.js";
import { repoRoot, skipUnlessRoot, waitFor } from "./helpers.js";

const skip: string | false =
  skipUnlessRoot ||
  (existsSync("/sys/kernel/btf/vmlinux") ? false : "the kernel has no BTF (/sys/kernel/btf/vmlinux)");

/* cfg[0]: bpf_ringbuf_output flags; cfg[1]: outputs to skip. */
const RB_NO_WAKEUP = 1;
const RB_FORCE_WAKEUP = 2;
const SKIP_RINGBUF = 1;
const SKIP_PERF = 2;
/* struct event {u32 pid; u32 seq; u64 ts; u64 a; u64 b = seq ^ 0x5eed}. */
const RECORD = 32;
/* The perf sample of a 32-byte record: u32 size + data, padded to 8 bytes. */
const PERF_RECORD = 36;
/* At most ~50k records/s, far below what either consumer keeps up with. */
const THROTTLE = { burst: 250, pauseUs: 5000 };

let dir = "";
let gen = "";
let obj: NativeObject | undefined;
let link: NativeLink | undefined;

function o(): NativeObject {
  if (!obj) throw new Error("setup failed");
  return obj;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function u64(v: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}

function readU64(map: string, key: number): number {
  const v = new Uint8Array(8);
  assert.ok(native().mapLookup(o().mapFd(map), u32(key), v));
  return Number(new DataView(v.buffer).getBigUint64(0, true));
}

/** Resets the sequence and drop counters and sets what the program outputs. */
function configure(rbFlags: number, skipMask: number): void {
  const n = native();
  n.mapUpdate(o().mapFd("target"), u32(0), u32(0), 0);
  n.mapUpdate(o().mapFd("cfg"), u32(0), u64(rbFlags), 0);
  n.mapUpdate(o().mapFd("cfg"), u32(1), u64(skipMask), 0);
  n.mapUpdate(o().mapFd("seqs"), u32(0), u64(0), 0);
  n.mapUpdate(o().mapFd("drops"), u32(0), u64(0), 0);
  n.mapUpdate(o().mapFd("drops"), u32(1), u64(0), 0);
}

interface GenOptions {
  burst?: number;
  pauseUs?: number;
  /** Pin the generator to this CPU (with taskset). */
  cpu?: number;
}

/** Starts the generator, makes it the target, lets it go; resolves when it exits. */
function generate(count: number, opts: GenOptions = {}): { pid: number; exited: Promise<void> } {
  const args = [String(count)];
  if (opts.burst) args.push(String(opts.burst), String(opts.pauseUs ?? 0));
  const argv = opts.cpu === undefined ? [gen, ...args] : ["taskset", "-c", String(opts.cpu), gen, ...args];
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["pipe", "ignore", "inherit"] });
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start the generator");
  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      native().mapUpdate(o().mapFd("target"), u32(0), u32(0), 0);
      if (code === 0) resolve();
      else reject(new Error(`generator exited with ${code ?? signal}`));
    });
  });
  // taskset execs the generator in place: the pid stays the same.
  native().mapUpdate(o().mapFd("target"), u32(0), u32(pid), 0);
  child.stdin?.end("g");
  return { pid, exited };
}

/** Checks ring buffer records: each seq once, in order, with the right pid and checksum. */
class RingCheck {
  count = 0;
  calls = 0;
  errors: string[] = [];
  pid = 0;

  batch(data: ArrayBuffer, index: Uint32Array, count: number): void {
    this.calls++;
    const dv = new DataView(data);
    for (let i = 0; i < count; i++) {
      const off = index[2 * i] as number;
      const len = index[2 * i + 1] as number;
      if (len !== RECORD) this.error(`record ${this.count}: length ${len}`);
      const pid = dv.getUint32(off, true);
      const seq = dv.getUint32(off + 4, true);
      const b = dv.getUint32(off + 24, true);
      if (pid !== this.pid) this.error(`record ${this.count}: pid ${pid}, expected ${this.pid}`);
      if (seq !== this.count) this.error(`record ${this.count}: seq ${seq}`);
      if (b !== (seq ^ 0x5eed) >>> 0) this.error(`record ${this.count}: corrupt (b = ${b})`);
      this.count++;
    }
  }

  private error(msg: string): void {
    if (this.errors.length < 10) this.errors.push(msg);
  }

  assertComplete(n: number): void {
    assert.deepEqual(this.errors, []);
    assert.equal(this.count, n);
    assert.equal(readU64("drops", 0), 0, "the ring buffer was full (the consumer fell behind)");
  }
}

/** Checks perf samples: each seq exactly once, increasing per CPU. */
class PerfCheck {
  count = 0;
  calls = 0;
  lost = 0;
  errors: string[] = [];
  readonly pids = new Set<number>();
  readonly seen: Uint8Array;
  readonly last = new Map<number, number>();

  constructor(n: number) {
    this.seen = new Uint8Array(n);
  }

  batch(data: ArrayBuffer, index: Uint32Array, count: number): void {
    this.calls++;
    const dv = new DataView(data);
    for (let i = 0; i < count; i++) {
      const cpu = index[3 * i] as number;
      const off = index[3 * i + 1] as number;
      const len = index[3 * i + 2] as number;
      if (len !== PERF_RECORD) this.error(`sample: length ${len}`);
      const pid = dv.getUint32(off, true);
      const seq = dv.getUint32(off + 4, true);
      if (!this.pids.has(pid)) this.error(`seq ${seq}: pid ${pid}, expected one of ${[...this.pids]}`);
      if (dv.getUint32(off + 24, true) !== (seq ^ 0x5eed) >>> 0) this.error(`seq ${seq}: corrupt`);
      if (seq >= this.seen.length) this.error(`seq ${seq} out of range`);
      else if (this.seen[seq]) this.error(`seq ${seq} twice`);
      else this.seen[seq] = 1;
      if (seq <= (this.last.get(cpu) ?? -1)) this.error(`cpu ${cpu}: seq ${seq} after ${this.last.get(cpu)}`);
      this.last.set(cpu, seq);
      this.count++;
    }
  }

  onLost(_cpu: number, lost: number): void {
    this.lost += lost;
  }

  private error(msg: string): void {
    if (this.errors.length < 10) this.errors.push(msg);
  }

  assertComplete(n: number): void {
    assert.deepEqual(this.errors, []);
    assert.equal(this.lost, 0);
    assert.equal(this.count, n);
    assert.equal(readU64("drops", 1), 0);
  }
}

function ringBuffer(
  mode: "copy" | "view",
  batchBytes: number,
  onBatch: (d: ArrayBuffer, i: Uint32Array, c: number) => void,
): NativeRingBuffer {
  return new (native().NativeRingBuffer)(o().mapFd("rb"), { mode, batchBytes, onBatch });
}

function perfBuffer(
  check: PerfCheck,
  pageCnt: number,
  wakeupEvents: number,
  batchBytes = 65536,
): NativePerfBuffer {
  return new (native().NativePerfBuffer)(o().mapFd("perf_events"), {
    pageCnt,
    wakeupEvents,
    batchBytes,
    onBatch: (d, i, c) => check.batch(d, i, c),
    onLost: (cpu, lost) => check.onLost(cpu, lost),
  });
}

function assertNativeError(fn: () => unknown, code: string, message?: RegExp): NativeError {
  let caught: unknown;
  assert.throws(fn, (e: unknown) => {
    caught = e;
    return true;
  });
  const err = caught as NativeError;
  assert.equal(err.code, code, String(err));
  if (message) assert.match(err.message, message);
  return err;
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "tsbpf-buffers-"));
  writeFileSync(join(dir, "vmlinux.h"), native().btfDumpHeader("/sys/kernel/btf/vmlinux"));
  const objPath = join(dir, "getppid.bpf.o");
  execFileSync(
    "clang",
    [
      "-target",
      "bpf",
      "-O2",
      "-g",
      "-D__TARGET_ARCH_x86",
      `-I${dir}`,
      "-c",
      join(repoRoot, "bench", "c", "getppid.bpf.c"),
      "-o",
      objPath,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  gen = join(dir, "gen");
  execFileSync("gcc", ["-O2", join(repoRoot, "bench", "c", "gen.c"), "-o", gen], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  obj = new (native().NativeObject)(readFileSync(objPath), "getppid");
  obj.load({ logLevel: 0, logSize: 0 });
  link = native().attachTracepoint(obj, "on_getppid", "syscalls", "sys_enter_getppid");
});

after(() => {
  link?.destroy();
  obj?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---- ring buffer -------------------------------------------------------------

for (const [mode, flags] of [
  ["copy", 0],
  ["view", 0],
  ["view", RB_FORCE_WAKEUP],
] as const) {
  test(`ring buffer, ${mode} mode, flags ${flags}: start() delivers every record once, in order`, {
    skip,
  }, async () => {
    const N = 40000; // 1.5 MB of records: the 256 KiB ring wraps around several times
    configure(flags, SKIP_PERF);
    const check = new RingCheck();
    const rb = ringBuffer(mode, 16384, (d, i, c) => check.batch(d, i, c));
    try {
      rb.start();
      rb.start(); // idempotent
      const run = generate(N, THROTTLE);
      check.pid = run.pid;
      await run.exited;
      assert.ok(await waitFor(() => check.count >= N, 10000), `${check.count} of ${N} records arrived`);
      check.assertComplete(N);
      assert.equal(rb.pendingBytes(), 0);
      assert.ok(check.calls < N, "records are batched");
    } finally {
      rb.close();
    }
  });
}

test("ring buffer, copy mode: poll(timeout) delivers every record once, in order", { skip }, async () => {
  const N = 20000;
  configure(0, SKIP_PERF);
  const check = new RingCheck();
  const rb = ringBuffer("copy", 4096, (d, i, c) => check.batch(d, i, c));
  try {
    assert.equal(rb.poll(0), 0);
    const run = generate(N, THROTTLE);
    check.pid = run.pid;
    const deadline = Date.now() + 20000;
    while (check.count < N && Date.now() < deadline) {
      rb.poll(50);
      await yieldLoop(); // lets the generator's exit be seen
    }
    await run.exited;
    check.assertComplete(N);
  } finally {
    rb.close();
  }
});

test("ring buffer, view mode: BPF_RB_NO_WAKEUP records drained by consume() on a timer", {
  skip,
}, async () => {
  const N = 20000;
  configure(RB_NO_WAKEUP, SKIP_PERF);
  const check = new RingCheck();
  const rb = ringBuffer("view", 65536, (d, i, c) => check.batch(d, i, c));
  let drained = 0;
  const timer = setInterval(() => {
    drained += rb.consume();
  }, 5);
  try {
    // The kernel does not signal NO_WAKEUP records: the timer drains them (the
    // event loop still sees some, as epoll re-checks a fd it just reported).
    rb.start();
    const run = generate(N, THROTTLE);
    check.pid = run.pid;
    await run.exited;
    assert.ok(await waitFor(() => check.count >= N, 10000), `${check.count} of ${N} records arrived`);
    check.assertComplete(N);
    assert.ok(drained > 0 && drained <= N, `the timer drained ${drained} records`);
  } finally {
    clearInterval(timer);
    rb.close();
  }
});

test("ring buffer: batch sizes, and records larger than batchBytes", { skip }, async () => {
  const N = 3000; // fits in the ring: produce everything, then consume
  for (const [mode, batchBytes, perCall] of [
    ["copy", 16, 1], // every record is larger than the batch: alone, in its own buffer
    ["copy", 64, 2],
    ["copy", 65, 2], // rounded up to 72
    ["view", 8, 1],
    ["view", 80, 2], // a batch is delivered once it spans 80 bytes of ring (2 records of 40)
  ] as const) {
    configure(0, SKIP_PERF);
    const check = new RingCheck();
    const buffers = new Set<ArrayBuffer>();
    const counts = new Set<number>();
    const rb = ringBuffer(mode, batchBytes, (d, i, c) => {
      buffers.add(d);
      counts.add(c);
      check.batch(d, i, c);
    });
    try {
      const run = generate(N);
      check.pid = run.pid;
      await run.exited;
      assert.equal(rb.pendingBytes(), N * (RECORD + 8));
      assert.equal(rb.consume(), N);
      check.assertComplete(N);
      assert.equal(rb.pendingBytes(), 0);
      assert.equal(rb.consume(), 0);
      assert.deepEqual([...counts], [perCall], `${mode} ${batchBytes}: records per call`);
      assert.equal(check.calls, N / perCall);
      if (mode === "copy" && batchBytes < RECORD) assert.equal(buffers.size, N, "one-off buffers");
      else assert.equal(buffers.size, 1, "one reused buffer");
    } finally {
      rb.close();
    }
  }
});

test("ring buffer: a throwing onBatch propagates from consume() and loses nothing", { skip }, async () => {
  const N = 3000;
  for (const mode of ["copy", "view"] as const) {
    configure(0, SKIP_PERF);
    const check = new RingCheck();
    let throwOn = 3;
    const rb = ringBuffer(mode, 400, (d, i, c) => {
      check.batch(d, i, c);
      if (check.calls === throwOn) throw new Error("onBatch failed");
    });
    try {
      const run = generate(N);
      check.pid = run.pid;
      await run.exited;
      assert.throws(() => rb.consume(), /onBatch failed/);
      assert.equal(check.calls, 3, "consumption stopped at the exception");
      const delivered = check.count;
      assert.ok(delivered > 0 && delivered < N);
      // The batch that threw counts as delivered; everything after it is still there.
      assert.equal(rb.pendingBytes(), (N - delivered) * (RECORD + 8));
      throwOn = 0;
      assert.equal(rb.consume(), N - delivered);
      check.assertComplete(N);
    } finally {
      rb.close();
    }
  }
});

test("ring buffer: close() is idempotent and every other method throws after it", { skip }, () => {
  const rb = ringBuffer("copy", 4096, () => {});
  rb.start();
  rb.stop();
  rb.stop();
  rb.start();
  rb.close(); // while started
  rb.close();
  for (const call of [
    () => rb.consume(),
    () => rb.poll(0),
    () => rb.pendingBytes(),
    () => rb.start(),
    () => rb.stop(),
  ])
    assertNativeError(call, "ECLOSED", /closed/);
});

test("ring buffer, view mode: close() detaches the buffer JavaScript kept", { skip }, async () => {
  configure(0, SKIP_PERF);
  let view: ArrayBuffer | undefined;
  const rb = ringBuffer("view", 4096, (d) => {
    view = d;
  });
  const run = generate(10);
  await run.exited;
  assert.equal(rb.consume(), 10);
  assert.ok(view);
  assert.equal(view.byteLength, 2 * 256 * 1024, "twice the ring: the double mapping");
  const bytes = new Uint8Array(view);
  rb.close();
  assert.equal(view.byteLength, 0, "detached");
  assert.equal(bytes.length, 0);
});

test("ring buffer: reentrancy and close() from inside onBatch", { skip }, async () => {
  configure(0, SKIP_PERF);
  const run = generate(100);
  await run.exited;
  let inner: unknown;
  let calls = 0;
  const rb: NativeRingBuffer = ringBuffer("view", 80, () => {
    calls++;
    try {
      rb.consume();
    } catch (e) {
      inner = e;
    }
    rb.close(); // takes effect when this call returns
  });
  assert.equal(rb.consume(), 2);
  assert.equal(calls, 1, "consumption stops once closed");
  assert.equal((inner as NativeError).code, "EBUSY");
  assertNativeError(() => rb.consume(), "ECLOSED");
});

test("ring buffer: argument errors", { skip }, () => {
  const n = native();
  const fd = o().mapFd("rb");
  const onBatch = () => {};
  assertNativeError(
    () => new n.NativeRingBuffer(o().mapFd("perf_events"), { mode: "copy", batchBytes: 4096, onBatch }),
    "EINVAL",
    /not a ring buffer/,
  );
  assertNativeError(
    () => new n.NativeRingBuffer(fd, { mode: "zero" as "copy", batchBytes: 4096, onBatch }),
    "EINVAL",
    /mode/,
  );
  assertNativeError(
    () => new n.NativeRingBuffer(fd, { mode: "copy", batchBytes: 4, onBatch }),
    "EINVAL",
    /batchBytes/,
  );
  assertNativeError(() => new n.NativeRingBuffer(-1, { mode: "copy", batchBytes: 4096, onBatch }), "EBADF");
  assertNativeError(
    () => new n.NativeRingBuffer(99999, { mode: "copy", batchBytes: 4096, onBatch }),
    "EBADF",
  );
});

test("ring buffer: an exception thrown from onBatch on the event loop is an uncaught exception", {
  skip,
}, async () => {
  // In a child process: node:test treats uncaught exceptions as test failures.
  const script = join(dir, "uncaught.mjs");
  writeFileSync(
    script,
    `
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
const { native } = await import(${JSON.stringify(join(repoRoot, "dist", "src", "native.js"))});
const n = native();
const obj = new n.NativeObject(readFileSync(${JSON.stringify(join(dir, "getppid.bpf.o"))}), "getppid");
obj.load({ logLevel: 0, logSize: 0 });
const link = n.attachTracepoint(obj, "on_getppid", "syscalls", "sys_enter_getppid");
const u32 = (v) => new Uint8Array(new Uint32Array([v]).buffer);
const u64 = (v) => new Uint8Array(new BigUint64Array([BigInt(v)]).buffer);
n.mapUpdate(obj.mapFd("cfg"), u32(0), u64(0), 0);
n.mapUpdate(obj.mapFd("cfg"), u32(1), u64(2), 0); // skip the perf array
let uncaught = 0, calls = 0, records = 0;
process.on("uncaughtException", (e) => { if (e.message === "boom") uncaught++; else throw e; });
const rb = new n.NativeRingBuffer(obj.mapFd("rb"), { mode: "copy", batchBytes: 40, onBatch(d, i, c) {
  calls++; records += c; if (calls <= 2) throw new Error("boom");
} });
rb.start();
const child = spawn(${JSON.stringify(gen)}, ["50", "1", "1000"], { stdio: ["pipe", "ignore", "inherit"] });
n.mapUpdate(obj.mapFd("target"), u32(0), u32(child.pid), 0);
child.stdin.end("g");
const t0 = Date.now();
while (records < 50 && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 10));
rb.close(); link.destroy(); obj.close();
console.log(JSON.stringify({ uncaught, calls, records }));
`,
  );
  const out = execFileSync(process.execPath, [script], { encoding: "utf8" });
  const r = JSON.parse(out) as { uncaught: number; calls: number; records: number };
  assert.equal(r.uncaught, 2);
  assert.equal(r.records, 50, "polling goes on after an uncaught exception, nothing is lost");
});

// ---- perf buffer -------------------------------------------------------------

for (const wakeup of [1, 16]) {
  test(`perf buffer, wakeupEvents ${wakeup}: start() delivers every sample once, in order per CPU`, {
    skip,
  }, async () => {
    const N = 40000;
    configure(0, SKIP_RINGBUF);
    const check = new PerfCheck(N);
    const pb = perfBuffer(check, 64, wakeup, 16384);
    try {
      pb.start();
      const run = generate(N, THROTTLE);
      check.pids.add(run.pid);
      await run.exited;
      // Above 1, up to wakeupEvents - 1 samples per CPU wait for a wake-up that never comes.
      await waitFor(() => check.count >= N, wakeup === 1 ? 10000 : 1000);
      if (wakeup === 1) assert.equal(check.count, N, "wakeupEvents 1: no sample waits for a drain");
      pb.consume();
      check.assertComplete(N);
      assert.ok(check.calls < N, "samples are batched");
    } finally {
      pb.close();
    }
  });
}

test("perf buffer: poll(timeout) delivers every sample once", { skip }, async () => {
  const N = 20000;
  configure(0, SKIP_RINGBUF);
  const check = new PerfCheck(N);
  const pb = perfBuffer(check, 16, 1, 4096);
  try {
    const run = generate(N, THROTTLE);
    check.pids.add(run.pid);
    const deadline = Date.now() + 20000;
    let total = 0;
    while (check.count < N && Date.now() < deadline) {
      total += pb.poll(50);
      await yieldLoop();
    }
    await run.exited;
    check.assertComplete(N);
    assert.equal(total, N);
  } finally {
    pb.close();
  }
});

test("perf buffer: lost samples are counted when the rings overflow", { skip }, async () => {
  const N = 20000;
  configure(0, SKIP_RINGBUF);
  const check = new PerfCheck(N + 10);
  // One page per CPU holds about 85 samples; nothing is consumed while the generator runs.
  const pb = perfBuffer(check, 1, 1, 4096);
  const cpu = 0;
  try {
    const run = generate(N, { cpu });
    check.pids.add(run.pid);
    await run.exited;
    pb.consume();
    // The kernel writes PERF_RECORD_LOST once the ring has room again: with the next sample.
    const run2 = generate(10, { cpu });
    check.pids.add(run2.pid);
    await run2.exited;
    pb.consume();
    assert.deepEqual(check.errors, []);
    assert.ok(check.lost > 0, "samples were lost");
    assert.equal(check.lost, readU64("drops", 1), "as many as bpf_perf_event_output failed to write");
    assert.equal(check.count + check.lost, N + 10);
  } finally {
    pb.close();
  }
});

test("perf buffer: a throwing onBatch propagates from consume() and loses nothing", { skip }, async () => {
  const N = 3000;
  for (const batchBytes of [400, 16]) {
    configure(0, SKIP_RINGBUF);
    const check = new PerfCheck(N);
    let throwOn = 3;
    const pb = new (native().NativePerfBuffer)(o().mapFd("perf_events"), {
      pageCnt: 64,
      wakeupEvents: 1,
      batchBytes,
      onBatch: (d, i, c) => {
        check.batch(d, i, c);
        if (check.calls === throwOn) throw new Error("onBatch failed");
      },
      onLost: (c, l) => check.onLost(c, l),
    });
    try {
      const run = generate(N);
      check.pids.add(run.pid);
      await run.exited;
      assert.throws(() => pb.consume(), /onBatch failed/);
      assert.equal(check.calls, 3, "consumption stopped at the exception");
      const delivered = check.count;
      assert.ok(delivered > 0 && delivered < N);
      throwOn = 0;
      // The sample in hand when onBatch threw leads the next batch.
      assert.equal(pb.consume(), N - delivered);
      check.assertComplete(N);
    } finally {
      pb.close();
    }
  }
});

test("perf buffer: close() is idempotent, methods throw after it, argument errors", { skip }, () => {
  const n = native();
  const check = new PerfCheck(1);
  const pb = perfBuffer(check, 8, 1);
  pb.start();
  pb.stop();
  pb.close();
  pb.close();
  for (const call of [() => pb.consume(), () => pb.poll(0), () => pb.start(), () => pb.stop()])
    assertNativeError(call, "ECLOSED", /closed/);

  const fd = o().mapFd("perf_events");
  const base = { pageCnt: 8, wakeupEvents: 1, batchBytes: 4096, onBatch: () => {}, onLost: () => {} };
  assertNativeError(() => new n.NativePerfBuffer(fd, { ...base, pageCnt: 3 }), "EINVAL", /power of two/);
  assertNativeError(() => new n.NativePerfBuffer(fd, { ...base, pageCnt: 0 }), "EINVAL", /power of two/);
  assertNativeError(() => new n.NativePerfBuffer(fd, { ...base, wakeupEvents: 0 }), "EINVAL", /wakeupEvents/);
  assertNativeError(() => new n.NativePerfBuffer(o().mapFd("rb"), base), "EINVAL", /not a perf event array/);
  assertNativeError(
    () => new n.NativePerfBuffer(fd, { ...base, onLost: undefined as unknown as () => void }),
    "EINVAL",
    /onLost/,
  );
});

test("perf buffer: close() from inside onBatch, consume() from inside is EBUSY", { skip }, async () => {
  configure(0, SKIP_RINGBUF);
  let inner: unknown;
  let calls = 0;
  const pb: NativePerfBuffer = new (native().NativePerfBuffer)(o().mapFd("perf_events"), {
    pageCnt: 8,
    wakeupEvents: 1,
    batchBytes: 80,
    onBatch: () => {
      calls++;
      try {
        pb.consume();
      } catch (e) {
        inner = e;
      }
      pb.close();
    },
    onLost: () => {},
  });
  // Samples only reach the rings once the perf buffer put them in the map.
  const run = generate(100, { cpu: 0 });
  await run.exited;
  assert.equal(pb.consume(), 2);
  assert.equal(calls, 1);
  assert.equal((inner as NativeError).code, "EBUSY");
  assertNativeError(() => pb.consume(), "ECLOSED");
});
