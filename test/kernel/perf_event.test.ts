/**
 * Perf events: a program sampling the software CPU clock on every CPU, a
 * perf array read from BPF with perf_read, and the typed error for hardware
 * counters where the machine has none (this VM, and most others).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import {
  BPF,
  NotSupportedError,
  onlineCpus,
  type PerCpuArray,
  type PerfEventArray,
  PerfHWConfig,
  PerfSWConfig,
  PerfType,
  possibleCpus,
} from "../../src/index.js";
import { perfEventSupport } from "../../src/kernel/features.js";
import { kernelObjects, leftSince, skipUnlessRoot, waitFor } from "../helpers.js";

const COUNT_SAMPLES = `
BPF_ARRAY(samples, u64, 1);
BPF_PERCPU_ARRAY(per_cpu, u64, 1);
int on_sample(struct bpf_perf_event_data *ctx)
{
    samples.increment(0);
    per_cpu.increment(0);
    return 0;
}`;

/** Keeps a CPU busy for ms (samples of the CPU clock come at 99 Hz whether it is busy or not). */
function spin(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe("perf events", { skip: skipUnlessRoot }, () => {
  it("samples PERF_COUNT_SW_CPU_CLOCK at 99 Hz on every online CPU", async () => {
    const before = kernelObjects();
    const b = await BPF.load({ text: COUNT_SAMPLES });
    try {
      b.attachPerfEvent({
        evType: PerfType.SOFTWARE,
        evConfig: PerfSWConfig.CPU_CLOCK,
        fnName: "on_sample",
        sampleFreq: 99,
      });
      // One link per online CPU.
      assert.equal(leftSince(before).links.length, onlineCpus().length);
      const samples = b.getTable("samples");
      const perCpu = b.getTable<PerCpuArray<bigint>>("per_cpu");
      const cpus = onlineCpus();
      spin(100);
      // CPU_CLOCK is an hrtimer: it fires on idle CPUs too, so every online CPU gets samples.
      assert.ok(
        await waitFor(() => cpus.every((c) => (perCpu.getValue(0)[c] ?? 0n) > 0n), 10_000),
        `samples on every online CPU (${cpus.join(", ")}): ${perCpu.getValue(0).join(", ")}`,
      );
      // The rate: 99 a second per CPU once the kernel has tuned the period (frequency mode starts
      // with a short period), measured over a second by the clock the samples come from.
      await new Promise((r) => setTimeout(r, 300));
      const n0 = samples.get(0) as bigint;
      const t0 = BPF.monotonicTime();
      await new Promise((r) => setTimeout(r, 1000));
      const n1 = samples.get(0) as bigint;
      const secs = Number(BPF.monotonicTime() - t0) / 1e9;
      const rate = Number(n1 - n0) / secs / cpus.length;
      assert.ok(rate > 99 / 3 && rate < 99 * 3, `${rate.toFixed(1)} samples/s per CPU, asked for 99`);
      b.detachPerfEvent({ evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.CPU_CLOCK });
      assert.equal(leftSince(before).links.length, 0, "every CPU's link is gone");
      const after = samples.get(0) as bigint;
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(samples.get(0), after, "no samples after detach");
      assert.throws(
        () => b.detachPerfEvent({ evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.CPU_CLOCK }),
        /not attached/,
      );
    } finally {
      b.close();
    }
  });

  it("samples one CPU only when given cpu, with samplePeriod", async () => {
    const b = await BPF.load({ text: COUNT_SAMPLES });
    try {
      // CPU_CLOCK counts nanoseconds: a sample every 1 ms on CPU 0.
      b.attachPerfEvent({
        evType: PerfType.SOFTWARE,
        evConfig: PerfSWConfig.CPU_CLOCK,
        fnName: "on_sample",
        samplePeriod: 1_000_000,
        cpu: 0,
      });
      const perCpu = b.getTable<PerCpuArray<bigint>>("per_cpu");
      assert.ok(await waitFor(() => (perCpu.getValue(0)[0] ?? 0n) > 0n, 3000), "CPU 0 sampled");
      const counts = perCpu.getValue(0);
      assert.equal(counts.length, possibleCpus());
      for (let c = 1; c < counts.length; c++) assert.equal(counts[c], 0n, `no samples on CPU ${c}`);
    } finally {
      b.close();
    }
  });

  it("wants exactly one of samplePeriod and sampleFreq", async () => {
    await using b = await BPF.load({ text: COUNT_SAMPLES });
    assert.throws(
      () =>
        b.attachPerfEvent({
          evType: PerfType.SOFTWARE,
          evConfig: PerfSWConfig.CPU_CLOCK,
          fnName: "on_sample",
        }),
      /exactly one of samplePeriod and sampleFreq/,
    );
    assert.throws(
      () =>
        b.attachPerfEvent({
          evType: PerfType.SOFTWARE,
          evConfig: PerfSWConfig.CPU_CLOCK,
          fnName: "on_sample",
          samplePeriod: 1,
          sampleFreq: 1,
        }),
      /exactly one/,
    );
  });

  it("hardware CPU_CYCLES: samples where the CPU has a PMU, else a NotSupportedError naming the CPU clock", async () => {
    await using b = await BPF.load({ text: COUNT_SAMPLES });
    const before = kernelObjects();
    const attach = (): void =>
      b.attachPerfEvent({
        evType: PerfType.HARDWARE,
        evConfig: PerfHWConfig.CPU_CYCLES,
        fnName: "on_sample",
        samplePeriod: 1_000_000,
      });
    if (perfEventSupport("hardware") === "yes") {
      attach();
      spin(50);
      assert.ok(await waitFor(() => ((b.getTable("samples").get(0) as bigint) ?? 0n) > 0n, 3000));
      return;
    }
    assert.throws(attach, (err: unknown) => {
      assert.ok(err instanceof NotSupportedError, String(err));
      assert.equal(err.feature, "hardware perf event PERF_COUNT_HW_CPU_CYCLES");
      assert.match(err.reason, /no such counter/);
      assert.match(err.alternative ?? "", /PERF_COUNT_SW_CPU_CLOCK/);
      assert.ok(err.errno === 2 || err.errno === 95, `errno ${err.errno}`);
      return true;
    });
    assert.equal(leftSince(before).links.length, 0, "nothing left attached");
    assert.equal(BPF.supports("perf_event:hardware"), "no");
    assert.equal(BPF.supports("perf_event:software"), "yes");
  });

  it("opens a counter on every CPU of a BPF_PERF_ARRAY and reads it in BPF with perf_read", async () => {
    await using b = await BPF.load({
      text: `
BPF_PERF_ARRAY(clock, ${possibleCpus()});
BPF_HASH(seen, u32, u64);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    u64 v = clock.perf_read(CUR_CPU_IDENTIFIER);
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    seen.update(&pid, &v);
    return 0;
}`,
    });
    b.getTable<PerfEventArray>("clock").openPerfEvent(PerfType.SOFTWARE, PerfSWConfig.CPU_CLOCK);
    // Node's process.ppid is a getppid(2) call: the child's own call is the one to find.
    const child = spawnSync(process.execPath, ["-e", "process.ppid"]);
    assert.equal(child.status, 0, String(child.stderr));
    const seen = b.getTable("seen");
    const v = seen.get(child.pid) as bigint | undefined;
    assert.ok(v !== undefined, `the tracepoint ran for the child ${child.pid}`);
    // perf_read returns the counter (ns of CPU clock), or a negative errno (as u64) when the slot is empty.
    assert.ok(v > 0n && v < 1n << 63n, `counter ${v} read`);
  });

  it("openPerfEvent says so for hardware counters the machine lacks", async (t) => {
    if (perfEventSupport("hardware") === "yes") return t.skip("this machine has hardware counters");
    await using b = await BPF.load({
      text: `BPF_PERF_ARRAY(cycles, ${possibleCpus()});
int unused(void *ctx) { return cycles.perf_read(CUR_CPU_IDENTIFIER) > 0; }`,
      autoAttach: false,
    });
    assert.throws(
      () => b.getTable<PerfEventArray>("cycles").openPerfEvent(PerfType.HARDWARE, PerfHWConfig.CPU_CYCLES),
      NotSupportedError,
    );
  });
});
