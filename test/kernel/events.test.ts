/**
 * Perf and ring buffers against the real kernel: events whose PIDs the test
 * knows, decoded through BTF; lost samples; batched ring buffer wake-ups.
 */
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { after, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import {
  type ArrayTable,
  BPF,
  type PerfEventArray,
  type RingBuf,
  type RingBufferOptions,
} from "../../src/index.js";
import { runChild, skipUnlessRoot, waitFor } from "../helpers.js";

interface DataT {
  pid: number;
  ts: bigint;
  comm: string;
}

const PERF = `
#include <linux/sched.h>
struct data_t { u32 pid; u64 ts; char comm[TASK_COMM_LEN]; };
BPF_PERF_OUTPUT(events);
int on_exec(void *ctx)
{
    struct data_t data = {};
    data.pid = bpf_get_current_pid_tgid() >> 32;
    data.ts = bpf_ktime_get_ns();
    bpf_get_current_comm(&data.comm, sizeof(data.comm));
    events.perf_submit(ctx, &data, sizeof(data));
    return 0;
}`;

const RING = `
struct event { u32 pid; u32 seq; u64 ts; };
BPF_RINGBUF_OUTPUT(rb, 64);
BPF_ARRAY(target, u32, 1);
BPF_ARRAY(seq, u32, 1);
int on_getppid(void *ctx)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (!t || *t != pid)
        return 0;
    u32 *s = seq.lookup(&zero);
    if (!s)
        return 0;
    struct event e = { .pid = pid, .seq = (*s)++, .ts = bpf_ktime_get_ns() };
    rb.ringbuf_output(&e, sizeof(e), 0);
    return 0;
}
int on_getppid_reserve(void *ctx)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (!t || *t != pid)
        return 0;
    struct event *e = rb.ringbuf_reserve(sizeof(struct event));
    if (!e)
        return 0;
    e->pid = pid;
    e->seq = 7;
    e->ts = 0;
    rb.ringbuf_submit(e, 0);
    return 0;
}`;

/** Calls getppid(2) n times (process.ppid asks the kernel each time). */
function getppidLoop(n: number): void {
  let x = 0;
  for (let i = 0; i < n; i++) x += process.ppid;
  if (x === -1) throw new Error("unreachable");
}

/**
 * Calls getppid(2) n times on this thread and on `threads` worker threads (same
 * tgid) at once, with this thread's event loop blocked throughout: with more
 * busy threads than CPUs, every CPU runs one of them, so every CPU's buffer
 * fills. One thread alone fills only the buffer of the CPU it happens to run on.
 */
function getppidOnThreads(threads: number, n: number): void {
  // [ready, go, done]
  const flags = new Int32Array(new SharedArrayBuffer(12));
  const workers = Array.from(
    { length: threads },
    () =>
      new Worker(
        `const { workerData } = require("node:worker_threads");
const f = new Int32Array(workerData.sab);
Atomics.add(f, 0, 1);
Atomics.notify(f, 0);
while (Atomics.load(f, 1) === 0) Atomics.wait(f, 1, 0, 50);
let x = 0;
for (let i = 0; i < workerData.n; i++) x += process.ppid;
Atomics.add(f, 2, x === -1 ? 2 : 1);
Atomics.notify(f, 2);`,
        { eval: true, workerData: { sab: flags.buffer, n } },
      ),
  );
  const waitUntil = (i: number, want: number) => {
    const deadline = Date.now() + 30_000;
    for (let v = Atomics.load(flags, i); v < want; v = Atomics.load(flags, i)) {
      if (Date.now() > deadline) throw new Error(`worker threads stalled (${i}: ${v} of ${want})`);
      Atomics.wait(flags, i, v, 50);
    }
  };
  waitUntil(0, threads);
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  getppidLoop(n);
  waitUntil(2, threads);
  for (const w of workers) void w.terminate();
}

describe("perf buffer", { skip: skipUnlessRoot }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });

  it("delivers execve events decoded from BTF through the callback, on the event loop", async () => {
    const b = await BPF.load({ text: PERF });
    open.push(b);
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    const events = b.getTable<PerfEventArray>("events");
    const seen: DataT[] = [];
    events.openPerfBuffer((_cpu, data, size) => {
      // perf pads raw samples to 8 bytes after its 4-byte size: 32 bytes arrive as 36
      assert.ok(size >= 32 && size === data.byteLength, `size ${size}`);
      seen.push(events.event(data) as DataT);
    });
    const pid = runChild(["/bin/sh", "-c", "printf perfchild > /proc/self/comm; exec /bin/true"]);
    assert.ok(
      await waitFor(() => seen.some((e) => e.pid === pid && e.comm === "perfchild"), 5000),
      JSON.stringify(seen.slice(-5), (_k, v) => (typeof v === "bigint" ? String(v) : v)),
    );
    const ev = seen.find((e) => e.pid === pid && e.comm === "perfchild") as DataT;
    assert.equal(typeof ev.ts, "bigint");
    assert.ok(ev.ts > 0n);
    events.closePerfBuffer();
    b.close();
  });

  it("events() yields decoded objects until the signal aborts; perfBufferPoll works bcc-style", async () => {
    const b = await BPF.load({ text: PERF });
    open.push(b);
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    const ac = new AbortController();
    let pid = -1;
    setTimeout(() => {
      pid = runChild();
    }, 50);
    const timer = setTimeout(() => ac.abort(), 5000);
    let found: DataT | undefined;
    for await (const ev of b.getTable<PerfEventArray>("events").events({ signal: ac.signal })) {
      const e = ev as DataT;
      if (e.pid === pid) {
        found = e;
        ac.abort();
      }
    }
    clearTimeout(timer);
    assert.equal(found?.pid, pid);

    // bcc's loop: open, then perf_buffer_poll(timeout) blocks until data or timeout.
    const got: number[] = [];
    const events = b.getTable<PerfEventArray>("events");
    events.openPerfBuffer((_cpu, data) => got.push((events.event(data) as DataT).pid));
    const pid2 = runChild();
    for (let i = 0; i < 50 && !got.includes(pid2); i++) b.perfBufferPoll(100);
    assert.ok(got.includes(pid2));
    assert.throws(() => events.openPerfBuffer(() => {}), /already open/);
    b.close();
  });

  it("counts lost samples when the consumer does not keep up", async () => {
    const b = await BPF.load({
      text: `
struct data_t { u32 pid; u32 pad; u64 a, b, c; };
BPF_PERF_OUTPUT(events);
BPF_ARRAY(target, u32, 1);
int on_getppid(void *ctx)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    struct data_t d = {};
    d.pid = bpf_get_current_pid_tgid() >> 32;
    if (!t || *t != d.pid)
        return 0;
    events.perf_submit(ctx, &d, sizeof(d));
    return 0;
}`,
    });
    open.push(b);
    b.getTable<ArrayTable<number>>("target").set(0, process.pid);
    b.attachTracepoint({ tp: "syscalls:sys_enter_getppid", fnName: "on_getppid" });
    const events = b.getTable<PerfEventArray>("events");
    let received = 0;
    let lostReported = 0;
    events.openPerfBuffer(
      () => {
        received++;
      },
      { pageCnt: 1, lostCb: (lost) => (lostReported += lost) },
    );
    // The event loop is blocked while the threads run: nothing consumes, and the
    // one page of every CPU fills.
    getppidOnThreads(2 * availableParallelism(), 20_000);
    b.perfBufferPoll(100);
    while (b.perfBufferConsume() > 0);
    // The kernel reports the loss with the next sample that fits in the buffer of
    // the CPU that lost it; every CPU lost some, so the next samples of this
    // thread, wherever it runs, bring the count.
    for (let i = 0; i < 200 && events.lost === 0; i++) {
      getppidLoop(5);
      b.perfBufferPoll(10);
    }
    assert.ok(events.lost > 0, `lost ${events.lost}, received ${received}`);
    assert.equal(lostReported, events.lost);
    assert.ok(received > 0 && received < 20_000 * (1 + 2 * availableParallelism()));
    b.close();
  });
});

describe("ring buffer", { skip: skipUnlessRoot }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });

  for (const mode of ["view", "copy"] as const) {
    it(`delivers every record once, in order (${mode} mode)`, async () => {
      const b = await BPF.load({ text: RING });
      open.push(b);
      b.getTable<ArrayTable<number>>("target").set(0, process.pid);
      b.attachTracepoint({ tp: "syscalls:sys_enter_getppid", fnName: "on_getppid" });
      const rb = b.getTable<RingBuf>("rb");
      const seqs: number[] = [];
      rb.openRingBuffer(
        (_ctx, data) => {
          const e = rb.event(data) as { pid: number; seq: number };
          assert.equal(e.pid, process.pid);
          seqs.push(e.seq);
        },
        { mode },
      );
      getppidLoop(1000);
      await waitFor(() => seqs.length >= 1000, 5000);
      assert.equal(seqs.length, 1000);
      assert.deepEqual(
        seqs,
        Array.from({ length: 1000 }, (_, i) => i),
      );
      b.close();
    });
  }

  /** The ring program attached for this process's getppid calls, its ring open with opts, counting records. */
  async function countingRing(
    opts: RingBufferOptions,
  ): Promise<{ b: BPF; rb: RingBuf; count: () => number }> {
    const b = await BPF.load({ text: RING });
    open.push(b);
    b.getTable<ArrayTable<number>>("target").set(0, process.pid);
    b.attachTracepoint({ tp: "syscalls:sys_enter_getppid", fnName: "on_getppid" });
    const rb = b.getTable<RingBuf>("rb");
    let n = 0;
    rb.openRingBuffer(() => {
      n++;
    }, opts);
    return { b, rb, count: () => n };
  }

  it("batches wake-ups with wakeupBytes: none below the threshold, one at it; ringBufferPoll/Consume work", async () => {
    // A drain timer that does not fire during the test: only wake-ups deliver records.
    const { b, rb, count } = await countingRing({ wakeupBytes: 64 * 1024, drainMs: 600_000 });
    // The event loop adds the ring to its epoll set on its next turn, and epoll then finds any
    // record already waiting: let that turn pass with the ring empty.
    await new Promise((r) => setTimeout(r, 50));
    getppidLoop(100); // 100 records of 24 bytes (8 of header), far below the threshold: no wake-up
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(count(), 0, "a record below the threshold woke the consumer");
    assert.equal(b.ringBufferConsume(), 100, "they wait in the ring");
    assert.equal(count(), 100);
    // 2800 more: the 2731st brings 64 KiB waiting, and that record wakes the consumer, which reads all.
    getppidLoop(2800);
    assert.ok(
      await waitFor(() => count() >= 2900, 5000),
      `the threshold woke the consumer: ${count()} of 2900`,
    );
    assert.equal(count(), 2900);
    getppidLoop(10);
    assert.equal(b.ringBufferConsume(), 10);
    getppidLoop(5);
    assert.equal(b.ringBufferPoll(100), 5);
    assert.equal(count(), 2915);
    assert.equal(rb.drops, 0n);
    b.close();
  });

  it("drains records below the wakeupBytes threshold on its timer", async () => {
    const { b, count } = await countingRing({ wakeupBytes: 64 * 1024, drainMs: 20 });
    getppidLoop(100);
    assert.ok(await waitFor(() => count() >= 100, 10_000), `the drain timer delivered ${count()} of 100`);
    assert.equal(count(), 100);
    b.close();
  });

  it("coalesces wake-ups with coalesceMs: every record in order, waiting ones delivered at close", async () => {
    const b = await BPF.load({ text: RING });
    open.push(b);
    b.getTable<ArrayTable<number>>("target").set(0, process.pid);
    b.attachTracepoint({ tp: "syscalls:sys_enter_getppid", fnName: "on_getppid" });
    const rb = b.getTable<RingBuf>("rb");
    const seqs: number[] = [];
    rb.openRingBuffer(
      (_ctx, data) => {
        seqs.push((rb.event(data) as { seq: number }).seq);
      },
      { coalesceMs: 20 },
    );
    getppidLoop(1); // after a quiet spell: delivered by the watch
    await waitFor(() => seqs.length === 1, 2000);
    getppidLoop(999); // some during pauses, delivered when they end
    await waitFor(() => seqs.length >= 1000, 5000);
    await new Promise((r) => setTimeout(r, 200)); // a quiet pause: the ring is watched again
    getppidLoop(1);
    await waitFor(() => seqs.length >= 1001, 2000);
    assert.deepEqual(
      seqs,
      Array.from({ length: 1001 }, (_, i) => i),
    );
    rb.closeRingBuffer();
    // a long pause: records that arrive in it are delivered by the close
    rb.openRingBuffer(
      (_ctx, data) => {
        seqs.push((rb.event(data) as { seq: number }).seq);
      },
      { coalesceMs: 60_000 },
    );
    getppidLoop(1);
    await waitFor(() => seqs.length === 1002, 2000);
    getppidLoop(3);
    assert.equal(seqs.length, 1002);
    rb.closeRingBuffer();
    assert.deepEqual(seqs.slice(1001), [1001, 1002, 1003, 1004]);
    assert.throws(() => rb.openRingBuffer(() => {}, { coalesceMs: -1 }), /coalesceMs must be 0 or more/);
    b.close();
  });

  it("passes openRingBuffer's ctx to the callback, as bcc's open_ring_buffer(cb, ctx) does", async () => {
    const b = await BPF.load({ text: RING });
    open.push(b);
    b.getTable<ArrayTable<number>>("target").set(0, process.pid);
    b.attachTracepoint({ tp: "syscalls:sys_enter_getppid", fnName: "on_getppid" });
    const rb = b.getTable<RingBuf>("rb");
    const ctxs: Array<{ name: string }> = [];
    const mine = { name: "my context" };
    rb.openRingBuffer(
      (ctx, _data, size) => {
        assert.ok(size > 0);
        ctxs.push(ctx);
      },
      { ctx: mine },
    );
    getppidLoop(3);
    assert.equal(b.ringBufferPoll(100), 3);
    assert.deepEqual(ctxs, [mine, mine, mine]);
    assert.ok(ctxs.every((c) => c === mine));
    b.close();
  });

  it("counts records dropped when the ring is full", async () => {
    const b = await BPF.load({
      text: RING.replace("BPF_RINGBUF_OUTPUT(rb, 64)", "BPF_RINGBUF_OUTPUT(rb, 1)"),
    });
    open.push(b);
    b.getTable<ArrayTable<number>>("target").set(0, process.pid);
    b.attachTracepoint({ tp: "syscalls:sys_enter_getppid", fnName: "on_getppid" });
    const rb = b.getTable<RingBuf>("rb");
    let n = 0;
    rb.openRingBuffer(() => {
      n++;
    });
    getppidLoop(1000); // 4 KiB holds ~170 records of 24 bytes; nothing consumes during the loop
    b.ringBufferConsume();
    assert.ok(n > 0 && n < 1000, `received ${n}`);
    assert.equal(rb.drops, BigInt(1000 - n));
    b.close();
  });

  it("ringbuf_reserve/ringbuf_submit records decode through the reserved pointer's type", async () => {
    const b = await BPF.load({ text: RING });
    open.push(b);
    b.getTable<ArrayTable<number>>("target").set(0, process.pid);
    b.attachTracepoint({ tp: "syscalls:sys_enter_getppid", fnName: "on_getppid_reserve" });
    const rb = b.getTable<RingBuf>("rb");
    const got: Array<{ pid: number; seq: number }> = [];
    rb.openRingBuffer((_ctx, data) => got.push(rb.event(data) as { pid: number; seq: number }));
    getppidLoop(3);
    await waitFor(() => got.length >= 3, 2000);
    assert.deepEqual(got, [
      { pid: process.pid, seq: 7, ts: 0n },
      { pid: process.pid, seq: 7, ts: 0n },
      { pid: process.pid, seq: 7, ts: 0n },
    ]);
    b.close();
  });
});
