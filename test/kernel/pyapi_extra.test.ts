/**
 * bcc Python API items beyond the reference guide, against the real kernel:
 * attach_perf_event_raw, the allow_rlimit and device options (and
 * load_func's device), decode_table, `b[name] = t` / `del b[name]`,
 * get_table's keytype/leaftype/reducer, TableBase.zero() (zeroValues) and
 * decode_c_struct.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import { after, describe, it } from "node:test";
import {
  BPF,
  BpfError,
  type HashTable,
  NotSupportedError,
  onlineCpus,
  type PerCpuArray,
  PerfBreakpointType,
  type PerfEventArray,
  PerfEventSampleFormat,
  PerfSWConfig,
  PerfType,
  possibleCpus,
  type Table,
  type TableCodec,
  USDT,
} from "../../src/index.js";
import { native } from "../../src/native.js";
import { kernelObjects, leftSince, skipUnlessRoot, waitFor } from "../helpers.js";

/** A child that keeps a CPU busy in user space until killed. */
function busyChild(): { pid: number; kill: () => void } {
  const child = spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" });
  if (child.pid === undefined) throw new Error("could not spawn sh");
  return { pid: child.pid, kill: () => child.kill("SIGKILL") };
}

const SAMPLER = `
BPF_HASH(by_pid, u32, u64);
BPF_ARRAY(period, u64, 1);
BPF_ARRAY(kernel_ips, u64, 1);
BPF_PERCPU_ARRAY(ticks, u64, 1);
int on_sample(struct bpf_perf_event_data *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    int zero = 0;
    u64 p = ctx->sample_period;
    by_pid.increment(pid);
    period.update(&zero, &p);
    if (PT_REGS_IP(&ctx->regs) >= 0x8000000000000000ULL)
        kernel_ips.increment(0);
    ticks.increment(0);
    return 0;
}`;

describe("bcc Python API extras", { skip: skipUnlessRoot }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });
  const load = async (text: string, opts: { allowRlimit?: boolean; device?: string } = {}): Promise<BPF> => {
    const b = await BPF.load({ text, ...opts });
    open.push(b);
    return b;
  };

  it("attachPerfEventRaw: a raw attr (period, sample_type, exclude_kernel) on one process, detached by type and config", async () => {
    const b = await load(SAMPLER);
    const child = busyChild();
    const before = kernelObjects();
    try {
      b.attachPerfEventRaw({
        attr: {
          type: PerfType.SOFTWARE,
          config: PerfSWConfig.CPU_CLOCK,
          samplePeriod: 1_000_000,
          sampleType: PerfEventSampleFormat.IP | PerfEventSampleFormat.TID,
          excludeKernel: true,
        },
        fnName: "on_sample",
        pid: child.pid,
      });
      // pid given, cpu -1: one event following the process on any CPU.
      assert.equal(leftSince(before).links.length, 1);
      const byPid = b.getTable<HashTable<number, bigint>>("by_pid");
      assert.ok(
        await waitFor(() => (byPid.get(child.pid) ?? 0n) >= 5n, 3000),
        "the program ran on the child's samples",
      );
      assert.deepEqual([...byPid.keys()], [child.pid], "only the child was sampled");
      assert.equal(b.getTable("period").get(0), 1_000_000n, "the kernel sampled with the attr's period");
      assert.equal(b.getTable("kernel_ips").get(0), 0n, "exclude_kernel: no sample in kernel mode");
      b.detachPerfEvent({ evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.CPU_CLOCK });
      assert.equal(leftSince(before).links.length, 0);
    } finally {
      child.kill();
    }
  });

  it("attachPerfEventRaw: sample_freq on every CPU; typed errors for what the attr gets wrong", async () => {
    const b = await load(SAMPLER);
    const before = kernelObjects();
    b.attachPerfEventRaw({
      attr: { type: PerfType.SOFTWARE, config: PerfSWConfig.CPU_CLOCK, sampleFreq: 200 },
      fnName: "on_sample",
    });
    assert.equal(leftSince(before).links.length, onlineCpus().length, "one event per online CPU");
    const ticks = b.getTable<PerCpuArray<bigint>>("ticks");
    const ran = () => onlineCpus().every((cpu) => (ticks.getValue(0)[cpu] ?? 0n) > 0n);
    assert.ok(await waitFor(ran, 3000), "the program ran on every online CPU");
    b.detachPerfEvent({ evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.CPU_CLOCK });
    const attr = { type: PerfType.SOFTWARE, config: PerfSWConfig.CPU_CLOCK };
    assert.throws(
      () => b.attachPerfEventRaw({ attr, fnName: "on_sample" }),
      /exactly one of attr.samplePeriod/,
    );
    assert.throws(
      () => b.attachPerfEventRaw({ attr: { ...attr, samplePeriod: 1, preciseIp: 4 }, fnName: "on_sample" }),
      (e: unknown) => e instanceof BpfError && /preciseIp/.test(e.message),
    );
    assert.throws(
      () =>
        b.attachPerfEventRaw({
          attr: { type: PerfType.BREAKPOINT, config: 0, samplePeriod: 1, bpAddr: 0x1000n, config1: 0x2000n },
          fnName: "on_sample",
        }),
      /bpAddr and config1 are the same/,
    );
    assert.throws(
      () =>
        b.attachPerfEventRaw({
          attr: { type: PerfType.BREAKPOINT, config: 0, samplePeriod: 1 },
          fnName: "on_sample",
        }),
      /breakpoint event needs attr.bpType/,
    );
  });

  it("attachPerfEventRaw: a hardware breakpoint event; the kernel checks bp_len", async () => {
    const b = await load(`
BPF_ARRAY(hits, u64, 1);
BPF_ARRAY(addr, u64, 1);
int on_bp(struct bpf_perf_event_data *ctx)
{
    int zero = 0;
    u64 a = ctx->addr;
    hits.increment(0);
    addr.update(&zero, &a);
    return 0;
}`);
    const child = spawn("yes", [], { stdio: "ignore" });
    const pid = child.pid as number;
    try {
      await waitFor(() => BPF.resolveName(pid, "write") !== undefined, 2000);
      const bpAddr = BPF.resolveName(pid, "write") as bigint;
      const attr = {
        type: PerfType.BREAKPOINT,
        config: 0,
        samplePeriod: 1,
        bpType: PerfBreakpointType.X,
        bpAddr,
      };
      // x86 takes 1, 2, 4 or 8 bytes (an execute breakpoint: sizeof(long)); 3 is refused by the kernel.
      assert.throws(
        () => b.attachPerfEventRaw({ attr: { ...attr, bpLen: 3 }, fnName: "on_bp", pid }),
        (e: unknown) => e instanceof BpfError && e.code === "EINVAL" && /breakpoint event/.test(e.message),
      );
      const before = kernelObjects();
      b.attachPerfEventRaw({ attr: { ...attr, bpLen: 8 }, fnName: "on_bp", pid });
      assert.equal(leftSince(before).links.length, 1, "the kernel took the breakpoint event");
      await new Promise((r) => setTimeout(r, 200));
      // Where the hypervisor delivers debug-register hits (not this machine's PVM), each names the address.
      const hits = b.getTable("hits").get(0) as bigint;
      if (hits > 0n) assert.equal(b.getTable("addr").get(0), bpAddr);
      b.detachPerfEvent({ evType: PerfType.BREAKPOINT, evConfig: 0 });
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("allowRlimit: false leaves RLIMIT_MEMLOCK as it is; true changes nothing where memcg accounting (5.11+) makes it unneeded", async () => {
    const limit = native().memlockRlimit();
    for (const allowRlimit of [false, true]) {
      const b = await load("BPF_HASH(h, u32, u64, 4096);", { allowRlimit });
      const h = b.getTable<HashTable<number, bigint>>("h");
      h.set(1, 2n);
      assert.equal(h.get(1), 2n);
      assert.deepEqual(native().memlockRlimit(), limit, `allowRlimit ${allowRlimit}`);
    }
  });

  it("device: offloading maps or an XDP program to a device without BPF offload is a NotSupportedError naming it", async () => {
    const withMaps = await load("BPF_HASH(h, u32, u64, 16);", { device: "lo" });
    assert.throws(
      () => withMaps.getTable("h"),
      (e: unknown) =>
        e instanceof NotSupportedError &&
        /offload to network device lo/.test(e.message) &&
        e.errno !== undefined,
    );
    const b = await load("int pass(struct xdp_md *ctx) { return XDP_PASS; }");
    assert.throws(
      () => b.loadFunc("pass", BPF.XDP, { device: "lo" }),
      (e: unknown) => e instanceof NotSupportedError && /offload to network device lo/.test(e.message),
    );
    assert.throws(
      () => b.loadFunc("pass", BPF.KPROBE, { device: "lo" }),
      /XDP and BPF.SCHED_CLS programs only/,
    );
    assert.throws(() => b.loadFunc("pass", BPF.XDP, { device: "nosuchdev0" }), /no such device/);
    // Without device the same function loads.
    assert.ok(b.loadFunc("pass", BPF.XDP).fd > 0);
  });

  it("decodeTable: bcc's layout text of a struct key and a scalar value, with sizeInfo", async () => {
    const b = await load(`
struct key_t { u32 pid; char comm[16]; struct { u16 a; u16 b; } pair; };
BPF_HASH(counts, struct key_t, u64);`);
    const t = b.getTable("counts");
    const id = Number(/ID (\d+)/.exec(b.decodeTable("counts"))?.[1]);
    assert.ok(native().mapIds().includes(id), "the ID is the kernel's");
    assert.equal(
      b.decodeTable("counts"),
      [
        `Layout of BPF map counts (type HASH, FD ${t.fd}, ID ${id}):`,
        "  struct {",
        "    unsigned int pid;",
        "    char[16] comm;",
        "    struct {",
        "      unsigned short a;",
        "      unsigned short b;",
        "    } pair;",
        "  } key;",
        "  unsigned long long value;",
      ].join("\n"),
    );
    assert.equal(
      b.decodeTable("counts", { sizeInfo: true }).split("\n").slice(1, 8).join("\n"),
      [
        "  struct {",
        "    [0 +4] unsigned int pid;",
        "    [4 +16] char[16] comm;",
        "    [20 +4] struct {",
        "      [20 +2] unsigned short a;",
        "      [22 +2] unsigned short b;",
        "    } pair;",
      ].join("\n"),
    );
    assert.throws(() => b.decodeTable("nope"), /no map nope/);
  });

  it("setTable / deleteTable: bcc's b[name] = t and del b[name]; the kernel map stays with the object", async () => {
    const b = await load(`
BPF_HASH(a, u32, u64);
BPF_PERF_OUTPUT(events);`);
    const a = b.getTable<HashTable<number, bigint>>("a");
    assert.equal(b.getTable("a"), a, "b[name] is kept");
    a.set(1, 10n);
    assert.equal(b.deleteTable("a"), true);
    assert.equal(b.deleteTable("a"), false, "nothing kept under a any more");
    const a2 = b.getTable<HashTable<number, bigint>>("a");
    assert.notEqual(a2, a, "a new wrapper");
    assert.equal(a2.get(1), 10n, "over the same kernel map");
    assert.equal(a.get(1), 10n, "the dropped wrapper still reads it until close");
    b.setTable("alias", a2);
    assert.equal(b.getTable("alias"), a2);
    assert.equal(b.deleteTable("alias"), true);
    assert.throws(
      () => b.setTable("x", {} as Table),
      (e: unknown) => e instanceof BpfError && /expected a Table/.test(e.message),
    );
    // del b[name] on a perf buffer closes the reader it opened.
    b.getTable<PerfEventArray>("events").openPerfBuffer(() => {});
    assert.equal(b.perfBufferPoll(0), 0);
    b.deleteTable("events");
    assert.throws(() => b.perfBufferPoll(0), /no perf buffer is open/);
    b.close();
    assert.throws(() => a.get(1), /closed/);
  });

  it("getTable with keyType, leafType and a reducer (sum) over a per-CPU map the program writes", async () => {
    const b = await load(`
BPF_PERCPU_HASH(hits, u32, u64);
int on_sample(struct bpf_perf_event_data *ctx)
{
    u32 key = 7;
    hits.increment(key);
    return 0;
}`);
    b.attachPerfEventRaw({
      attr: { type: PerfType.SOFTWARE, config: PerfSWConfig.CPU_CLOCK, sampleFreq: 500 },
      fnName: "on_sample",
    });
    const raw = b.getTable<HashTable<number, bigint[]>>("hits");
    assert.ok(
      await waitFor(
        () => (raw.get(7) ?? []).filter((v) => v > 0n).length >= Math.min(2, possibleCpus()),
        3000,
      ),
    );
    b.detachPerfEvent({ evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.CPU_CLOCK });
    const hexKey: TableCodec<string> = {
      size: 4,
      decode: (bytes) => `0x${new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true).toString(16)}`,
      encode: (s) => {
        const out = new Uint8Array(4);
        new DataView(out.buffer).setUint32(0, Number.parseInt(s, 16), true);
        return out;
      },
    };
    const num: TableCodec<number> = {
      size: 8,
      decode: (bytes) => Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)),
      encode: (n) => {
        const out = new Uint8Array(8);
        new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
        return out;
      },
    };
    const sum = (x: unknown, y: unknown) => (x as number) + (y as number);
    const t = b.getTable<Table<string, number>>("hits", { keyType: hexKey, leafType: num, reducer: sum });
    assert.notEqual(t, raw, "a table of its own, not b[name]");
    const perCpu = raw.get(7) as bigint[];
    const total = Number(perCpu.reduce((x, y) => x + y));
    assert.equal(t.get("0x7"), total, "the reducer's sum of the CPUs' values");
    assert.deepEqual([...t.items()], [["0x7", total]]);
    assert.deepEqual(
      (t as unknown as PerCpuArray<number>).getValue("0x7" as unknown as number),
      perCpu.map(Number),
      "getValue still reads the CPUs' values, through leafType",
    );
    t.set("0x9", 3); // one value: every CPU's
    assert.deepEqual(raw.get(9), new Array(possibleCpus()).fill(3n));
    assert.equal(t.get("0x9"), 3 * possibleCpus());
    // What a caller can get wrong.
    const plain = await load("BPF_HASH(h, u32, u64);");
    assert.throws(() => plain.getTable("h", { reducer: sum }), /per-CPU map, and h is a HASH map/);
    assert.throws(() => plain.getTable("h", { keyType: num }), /keyType is 8 bytes, the map's is 4/);
    const bad = plain.getTable("h", {
      leafType: { size: 8, decode: () => 0, encode: () => new Uint8Array(2) },
    });
    assert.throws(() => bad.set(1, 1), /encode returned 2 bytes, not 8 bytes/);
  });

  it("zeroValues (bcc's TableBase.zero()) zeroes every value and keeps the keys; zero() is still one zero value", async () => {
    const b = await load(`
BPF_HASH(h, u32, u64);
BPF_PERCPU_ARRAY(pa, u64, 4);
BPF_QUEUE(q, u64, 4);`);
    const h = b.getTable<HashTable<number, bigint>>("h");
    for (const k of [1, 2, 3]) h.set(k, BigInt(k * 100));
    assert.equal(h.zero(), 0n, "zero(): bcc's Leaf()");
    h.zeroValues();
    assert.deepEqual(
      [...h.items()].sort((x, y) => x[0] - y[0]),
      [
        [1, 0n],
        [2, 0n],
        [3, 0n],
      ],
    );
    const pa = b.getTable<PerCpuArray<bigint>>("pa");
    pa.set(2, new Array(possibleCpus()).fill(5n));
    assert.equal(pa.sum(2), BigInt(5 * possibleCpus()));
    pa.zeroValues();
    assert.deepEqual(pa.getValue(2), new Array(possibleCpus()).fill(0n));
    assert.equal(pa.size, 4);
    assert.throws(() => b.getTable("q").zeroValues(), /QUEUE: it has no values to zero/);
  });

  it("decodeCStruct: a struct-keyed histogram as per-section slot counts (bcc's decode_c_struct)", async () => {
    const b = await load(`
struct hist_key { u32 disk; u64 slot; };
BPF_HISTOGRAM(dist, struct hist_key);`);
    const dist = b.getTable<HashTable<{ disk: number; slot: bigint }, bigint>>("dist");
    dist.set({ disk: 1, slot: 2n }, 5n);
    dist.set({ disk: 1, slot: 4n }, 7n);
    dist.set({ disk: 2, slot: 0n }, 1n);
    const sections = dist.decodeCStruct({ bucketSortFn: (s) => [...s].sort() });
    assert.deepEqual([...sections.keys()], [1, 2]);
    assert.equal(sections.get(1)?.length, 65);
    assert.deepEqual(sections.get(1)?.slice(0, 5), [0n, 0n, 5n, 0n, 7n]);
    assert.deepEqual(sections.get(2)?.slice(0, 2), [1n, 0n]);
    assert.equal(dist.decodeCStruct({ bucketFn: (d) => `disk${d}`, indexMax: 8 }).get("disk1")?.length, 8);
  });

  it("TRACEFS, traceOpen and USDT.getContext (bcc's TRACEFS, trace_open, get_context)", async () => {
    assert.ok(existsSync(`${BPF.TRACEFS}/trace_pipe`), BPF.TRACEFS);
    const b = await BPF.load({
      text: 'int f(void *ctx) { bpf_trace_printk("tsbpf-trace-open\\n"); return 0; }',
    });
    try {
      b.traceOpen();
      // a second reader of trace_pipe is refused by the kernel while this one holds it
      assert.throws(() => openSync(`${BPF.TRACEFS}/trace_pipe`, "r"), /EBUSY/);
    } finally {
      b.close();
    }
    const u = new USDT({ path: "/bin/true" });
    assert.equal(u.getContext(), u);
  });
});
