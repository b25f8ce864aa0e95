/**
 * bcc's map dialect against the real kernel: maps written by BPF and read
 * from JS, written from JS and read by BPF, with BTF-typed keys and values.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import {
  ArrayTable,
  BPF,
  BpfError,
  CompileError,
  type HashTable,
  MapInMap,
  mapTypeName,
  onlineCpus,
  PerCpuArray,
  type ProgArray,
  type QueueStack,
  StackTrace,
} from "../../src/index.js";
import { execTargeted, runChild, skipUnlessRoot, testTempDir, waitFor } from "../helpers.js";
import { getppidCaller } from "./tools/activity.js";

/** Runs `argv` and returns its pid (the program filters on it). */
function execOnce(argv: string[] = ["/bin/true"]): number {
  return runChild(argv);
}

describe("maps", { skip: skipUnlessRoot }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });
  const load = async (text: string): Promise<BPF> => {
    const b = await BPF.load({ text });
    open.push(b);
    return b;
  };

  it("a libbpf-style stack map declared by sizes alone walks as u64 addresses", async () => {
    const b = await load(`
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(max_entries, 64);
  __uint(key_size, sizeof(u32));
  __uint(value_size, 127 * sizeof(u64));
} stacks SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, s64); } last SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx) {
  u32 zero = 0;
  s64 id = bpf_get_stackid(ctx, &stacks, 0);
  bpf_map_update_elem(&last, &zero, &id, BPF_ANY);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";`);
    runChild(["/usr/bin/python3", "-c", "import os; os.getppid()"]);
    const id = Number(b.getTable<ArrayTable<bigint>>("last").get(0));
    assert.ok(id >= 0, `stack id ${id}`);
    const frames = b.getTable<StackTrace>("stacks").walk(id);
    assert.ok(frames.length > 0 && frames.every((ip) => typeof ip === "bigint" && ip > 0n), String(frames));
    assert.match(b.ksym(frames[0] as bigint), /\w/);
  });

  it("BPF_HASH keyed by a struct with char comm[16]: lookup_or_try_init and increment, read as typed objects", async () => {
    const b = await load(`
struct key_t { u32 pid; char comm[16]; };
BPF_HASH(counts, struct key_t, u64);
BPF_HASH(byincr, struct key_t);
int on_exec(void *ctx)
{
    struct key_t key = {};
    u64 zero = 0, *val;
    key.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&key.comm, sizeof(key.comm));
    val = counts.lookup_or_try_init(&key, &zero);
    if (val)
        (*val) += 5;
    byincr.increment(key);
    byincr.increment(key, 2);
    return 0;
}`);
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    const pid = execOnce();
    const counts = b.getTable<HashTable<{ pid: number; comm: string }, bigint>>("counts");
    const mine = [...counts.items()].filter(([k]) => k.pid === pid);
    assert.equal(mine.length, 1);
    assert.equal(mine[0]?.[1], 5n);
    assert.equal(typeof mine[0]?.[0].comm, "string");
    const key = mine[0]?.[0] as { pid: number; comm: string };
    assert.equal(counts.get(key), 5n);
    assert.equal(b.getTable<HashTable<{ pid: number; comm: string }, bigint>>("byincr").get(key), 3n);
    // Written from JS, read back; deleted; cleared.
    counts.set({ pid: 1, comm: "from-js" }, 42n);
    assert.equal(counts.get({ pid: 1, comm: "from-js" }), 42n);
    assert.ok(counts.has({ pid: 1, comm: "from-js" }));
    assert.equal(counts.delete({ pid: 1, comm: "from-js" }), true);
    assert.equal(counts.get({ pid: 1, comm: "from-js" }), undefined);
    counts.clear();
    assert.equal(counts.size, 0);
  });

  it("BPF_ARRAY written from JS is read by BPF (root vs non-root counters, as the tutorial's map_table_sample)", async () => {
    const b = await load(`
BPF_ARRAY(config, u32, 1);
BPF_ARRAY(counter, u64, 2);
int on_exec(void *ctx)
{
    int zero = 0;
    u32 *want = config.lookup(&zero);
    if (!want || *want != (bpf_get_current_pid_tgid() >> 32))
        return 0;
    u32 uid = bpf_get_current_uid_gid();
    int idx = uid == 0 ? 0 : 1;
    counter.increment(idx);
    return 0;
}`);
    const config = b.getTable<ArrayTable<number>>("config");
    const counter = b.getTable<ArrayTable<bigint>>("counter");
    assert.ok(config instanceof ArrayTable);
    assert.deepEqual([...counter.keys()], [0, 1]);
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    // The pid is only known once spawned: use a shell that waits for the config to be set.
    await execTargeted((pid) => config.set(0, pid));
    assert.equal(counter.get(0), 1n);
    assert.equal(counter.get(1), 0n);
    counter.clear();
    assert.deepEqual([...counter.values()], [0n, 0n]);
    assert.throws(() => counter.get(2), RangeError);
  });

  it("a map declared once per #ifdef branch: the branch the cflags select is the map", async () => {
    const text = `
#ifdef USE_ARRAY
BPF_ARRAY(cnt, u64, 4);
#else
BPF_HASH(cnt, u32, u64, 4);
#endif
int f(void *ctx) { return 0; }`;
    {
      await using b = await BPF.load({ text, cflags: ["-DUSE_ARRAY"] });
      assert.ok(b.getTable("cnt") instanceof ArrayTable);
    }
    await using h = await BPF.load({ text });
    assert.ok(!(h.getTable("cnt") instanceof ArrayTable));
    assert.equal(h.getTable("cnt").maxEntries, 4);
  });

  it("BPF_PERCPU_ARRAY: a value per possible CPU, summed like bcc's sum()", async () => {
    const b = await load(`
BPF_PERCPU_ARRAY(cnt, long, 1);
int on_switch(void *ctx) { int k = 0; cnt.increment(k); return 0; }`);
    b.attachTracepoint({ tp: "sched:sched_switch", fnName: "on_switch" });
    const cnt = b.getTable<PerCpuArray<bigint>>("cnt");
    assert.ok(cnt instanceof PerCpuArray);
    await waitFor(() => BigInt(cnt.sum(0)) > 10n, 3000);
    b.detachTracepoint({ tp: "sched:sched_switch" }); // freeze the counters before comparing
    const per = cnt.getValue(0);
    assert.ok(per.length >= onlineCpus().length);
    assert.equal(
      BigInt(cnt.sum(0)),
      per.reduce((a, x) => a + BigInt(x), 0n),
    );
    assert.ok(
      onlineCpus().some((c) => BigInt(per[c] as bigint) > 0n),
      "some online CPU switched",
    );
    // bcc's max() and average() over the CPUs
    const values = per.map((x) => BigInt(x));
    let most = 0n;
    for (const v of values) if (v > most) most = v;
    assert.equal(BigInt(cnt.max(0)), most);
    const mean = Number(values.reduce((a, v) => a + v, 0n)) / values.length;
    assert.ok(Math.abs(cnt.average(0) - mean) < 1e-6, `${cnt.average(0)} vs ${mean}`);
  });

  it("BPF_HISTOGRAM filled from a tracepoint prints in bcc's log2 layout", async () => {
    const b = await load(`
BPF_HISTOGRAM(dist);
BPF_ARRAY(target, u32, 2);
TRACEPOINT_PROBE(syscalls, sys_enter_write)
{
    int zero = 0, one = 1;
    u32 *pid = target.lookup(&zero), *fd = target.lookup(&one);
    if (!pid || !fd || *pid != (bpf_get_current_pid_tgid() >> 32) || *fd != args->fd)
        return 0;
    dist.increment(bpf_log2l(args->count));
    return 0;
}`);
    // Only this process's writes to one fd count (the test runner writes elsewhere).
    const { writeSync, openSync, closeSync } = await import("node:fs");
    const fd = openSync("/dev/null", "w");
    const target = b.getTable<ArrayTable<number>>("target");
    target.set(0, process.pid);
    target.set(1, fd);
    for (const n of [1, 3, 3, 100, 1000, 1000, 1000, 5000]) writeSync(fd, Buffer.alloc(n));
    closeSync(fd);
    const lines: string[] = [];
    b.getTable("dist").printLog2Hist("kbytes", { write: (s) => lines.push(s) });
    const text = lines.join("");
    assert.match(text, /^ {5}kbytes {14}: count {5}distribution\n/);
    const row = (lo: number, hi: number, n: number): string =>
      `${String(lo).padStart(10)} -> ${String(hi).padEnd(10)} : ${String(n).padEnd(8)} |${"*".repeat(Math.floor((40 * n) / 3)).padEnd(40)}|\n`;
    assert.ok(text.includes(row(0, 1, 1)), text);
    assert.ok(text.includes(row(2, 3, 2)), text);
    assert.ok(text.includes(row(4, 7, 0)), text);
    assert.ok(text.includes(row(64, 127, 1)), text);
    assert.ok(text.includes(row(512, 1023, 3)), text);
    assert.ok(text.endsWith(row(4096, 8191, 1)), text);
  });

  it("BPF_QUEUE: pushed by JS, popped by BPF, and the other way", async () => {
    const b = await load(`
BPF_QUEUE(in, u32, 8);
BPF_QUEUE(out, u32, 8);
BPF_ARRAY(target, u32, 1);
int on_exec(void *ctx)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    if (!t || *t != (bpf_get_current_pid_tgid() >> 32))
        return 0;
    u32 v;
    for (int i = 0; i < 8; i++) {
        if (in.pop(&v))
            break;
        v *= 10;
        out.push(&v, 0);
    }
    return 0;
}`);
    const qin = b.getTable<QueueStack<number>>("in");
    const qout = b.getTable<QueueStack<number>>("out");
    for (const v of [1, 2, 3]) qin.push(v);
    assert.equal(qin.peek(), 1);
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    await execTargeted((pid) => b.getTable<ArrayTable<number>>("target").set(0, pid));
    assert.deepEqual([...qout.values()], [10, 20, 30]);
    assert.equal(qout.pop(), undefined);
  });

  it("BPF_PROG_ARRAY: tail calls alternating two functions (the tutorial's map_prog_array_simple)", async () => {
    const b = await load(`
BPF_PROG_ARRAY(ftable, 2);
BPF_ARRAY(turn, u64, 1);
BPF_ARRAY(target, u32, 1);
int foo(void *ctx) { bpf_trace_printk("I'm foo"); return 0; }
int bar(void *ctx) { bpf_trace_printk("I'm bar"); return 0; }
int on_exec(void *ctx)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    if (!t || *t != (bpf_get_current_pid_tgid() >> 32))
        return 0;
    u64 *n = turn.lookup(&zero);
    if (!n)
        return 0;
    int idx = (*n)++ & 1;
    ftable.call(ctx, idx);
    return 0;
}`);
    const ftable = b.getTable<ProgArray>("ftable");
    ftable.set(0, b.loadFunc("bar", BPF.TRACEPOINT));
    ftable.set(1, b.loadFunc("foo", BPF.TRACEPOINT).fd);
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    const target = b.getTable<ArrayTable<number>>("target");
    target.set(0, process.pid);
    while (b.traceFieldsNonBlocking() !== undefined);
    // A child that calls execve three times in the same process (exec keeps the pid).
    const { spawn } = await import("node:child_process");
    const child = spawn("/bin/sh", ["-c", "read x; exec /bin/sh -c 'exec /bin/sh -c \"exec /bin/true\"'"], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    target.set(0, child.pid as number);
    child.stdin?.end("go\n");
    await new Promise((r) => child.on("exit", r));
    const msgs: string[] = [];
    await waitFor(() => {
      for (let l = b.traceFieldsNonBlocking(); l; l = b.traceFieldsNonBlocking()) {
        if (l.pid === child.pid) msgs.push(l.msg);
      }
      return msgs.length >= 3;
    }, 3000);
    assert.deepEqual(msgs, ["I'm bar", "I'm foo", "I'm bar"]);
  });

  it("BPF_ARRAY_OF_MAPS with inner maps set from JS", async () => {
    const b = await load(`
BPF_ARRAY(inner_a, u64, 2);
BPF_ARRAY(inner_b, u64, 2);
BPF_ARRAY_OF_MAPS(outer, "inner_a", 2);
BPF_ARRAY(target, u32, 1);
int on_exec(void *ctx)
{
    int zero = 0, one = 1;
    u32 *t = target.lookup(&zero);
    if (!t || *t != (bpf_get_current_pid_tgid() >> 32))
        return 0;
    void *inner = outer.lookup(&one);
    if (!inner)
        return 0;
    u64 *v = bpf_map_lookup_elem(inner, &zero);
    if (v)
        *v += 7;
    return 0;
}`);
    const outer = b.getTable<MapInMap<number>>("outer");
    assert.ok(outer instanceof MapInMap);
    outer.set(1, b.getTable("inner_b"));
    assert.ok((outer.get(1) ?? 0) > 0, "the kernel reports the inner map's id");
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    await execTargeted((pid) => b.getTable<ArrayTable<number>>("target").set(0, pid));
    assert.equal(b.getTable<ArrayTable<bigint>>("inner_b").get(0), 7n);
    assert.equal(b.getTable<ArrayTable<bigint>>("inner_a").get(0), 0n);
  });

  it("BPF_STACK_TRACE: a kernel stack resolved to symbols in /proc/kallsyms", async () => {
    const b = await load(`
BPF_STACK_TRACE(stacks, 128);
BPF_HASH(ids, u32, int);
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    int id = stacks.get_stackid(ctx, 0);
    ids.update(&pid, &id);
    return 0;
}`);
    b.attachRawTracepoint({ tp: "sched_process_exec", fnName: "on_exec" });
    const pid = execOnce();
    const id = b.getTable<HashTable<number, number>>("ids").get(pid);
    assert.ok(id !== undefined && id >= 0, `stack id ${id}`);
    const stacks = b.getTable<StackTrace>("stacks");
    const ips = stacks.walk(id);
    assert.ok(ips.length > 2);
    const names = ips.map((ip) => b.ksym(ip));
    assert.ok(
      names.some((n) => /exec/.test(n)),
      names.join(" "),
    );
    assert.ok(
      names.every((n) => n !== "[unknown]"),
      names.join(" "),
    );
    assert.deepEqual(
      stacks.walk(id, (ip) => b.ksym(ip)),
      names,
      "walk(id, resolve)",
    );
    assert.equal(StackTrace.MAX_DEPTH, 127);
  });

  it("StackTrace.folded/flameGraph/pprof: a counts map keyed by stack ids, as bcc's profilers print it", async () => {
    const b = await load(`
struct key_t {
    u32 pid;
    int user_stack_id;
    int kernel_stack_id;
    char name[16];
};
BPF_ARRAY(target, u32, 1);
BPF_HASH(counts, struct key_t, u64);
BPF_STACK_TRACE(stack_traces, 1024);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    struct key_t key = {};
    int zero = 0;
    u32 *want = target.lookup(&zero);
    key.pid = bpf_get_current_pid_tgid() >> 32;
    if (!want || key.pid != *want)
        return 0;
    key.user_stack_id = stack_traces.get_stackid(args, BPF_F_USER_STACK);
    key.kernel_stack_id = stack_traces.get_stackid(args, 0);
    bpf_get_current_comm(&key.name, sizeof(key.name));
    counts.increment(key);
    return 0;
}`);
    const c = getppidCaller();
    b.getTable<ArrayTable<number>>("target").set(0, c.pid);
    await c.go();
    c.end();
    const counts = b.getTable("counts");
    const stacks = b.getTable<StackTrace>("stack_traces");
    const folded = stacks.folded(counts);
    const lines = folded.trimEnd().split("\n");
    assert.ok(folded.endsWith("\n") && lines.length > 0);
    let total = 0;
    for (const l of lines) {
      // comm; user frames (libc's getppid wrapper innermost) ; kernel frames (the syscall's entry)
      assert.match(l, /^python3;.*;getppid;.*do_syscall_64.* \d+$/);
      total += Number(l.slice(l.lastIndexOf(" ") + 1));
    }
    assert.equal(total, 1000);
    const rows = stacks.stackCounts(counts).rows;
    assert.ok(rows.every((r) => r.pid === c.pid && r.comm === "python3"));
    assert.ok(rows.every((r, i) => i === 0 || (rows[i - 1] as { value: bigint }).value <= r.value));
    assert.match(
      stacks.flameGraph(counts, { graph: { title: "getppid" } }),
      /<svg[\s\S]*getppid[\s\S]*<\/svg>/,
    );
    const p = Profile.decode(gunzipSync(stacks.pprof(counts)));
    assert.equal(
      p.sample.reduce((n, s) => n + Number(s.value[0]), 0),
      1000,
    );
    // the user stacks alone, a "-" between them and the kernel's
    assert.ok(
      stacks
        .folded(counts, { userOnly: true })
        .split("\n")
        .every((l) => l === "" || !l.includes("do_syscall_64")),
    );
    assert.match(stacks.folded(counts, { delimited: true }), /;getppid;.*-;.*do_syscall_64/);
  });

  it("Table.next walks the keys as bcc's next does; arrays take negative indices from the end", async () => {
    const b = await load("BPF_HASH(h, u32, u64, 8);\nBPF_ARRAY(a, u64, 4);\nint f(void *ctx) { return 0; }");
    const h = b.getTable<HashTable<number, bigint>>("h");
    for (const k of [3, 5, 9]) h.set(k, BigInt(k));
    const walked: number[] = [];
    for (let k = h.next(); k !== undefined; k = h.next(k)) walked.push(k);
    assert.deepEqual(walked.sort(), [3, 5, 9]);
    const a = b.getTable<ArrayTable<bigint>>("a");
    a.set(-1, 42n);
    assert.equal(a.get(3), 42n);
    assert.equal(a.get(-1), 42n);
    assert.equal(a.get(-4), 0n);
    assert.throws(() => a.get(-5), /index -5 is out of range 0\.\.3/);
  });

  it("items() reads big maps in batches, the same as key by key", async () => {
    const b = await load(
      "BPF_HASH(big, u32, u64, 2048);\nBPF_PERCPU_HASH(pc, u32, u32, 64);\nint f(void *ctx) { return 0; }",
    );
    const big = b.getTable<HashTable<number, bigint>>("big");
    for (let i = 0; i < 1000; i++) big.set(i, BigInt(i * 3));
    const items = [...big.items()];
    assert.equal(items.length, 1000);
    assert.deepEqual(
      items.sort((x, y) => x[0] - y[0]),
      Array.from({ length: 1000 }, (_, i) => [i, BigInt(i * 3)]),
    );
    assert.equal(big.size, 1000);
    const pc = b.getTable<HashTable<number, number[]>>("pc");
    pc.set(5, [1, 2]);
    const all = [...pc.items()];
    assert.equal(all.length, 1);
    assert.equal(all[0]?.[0], 5);
    assert.deepEqual(all[0]?.[1].slice(0, 2), [1, 2]);
  });

  it("tsbpf gen-types writes the .d.ts of a program's maps and events", async () => {
    const { writeFileSync, readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { spawnSync } = await import("node:child_process");
    const { repoRoot } = await import("../helpers.js");
    const dir = testTempDir("tsbpf-gt");
    writeFileSync(
      join(dir, "prog.c"),
      "struct key_t { u32 pid; char comm[16]; };\nstruct data_t { u32 pid; u64 ts; };\nBPF_HASH(counts, struct key_t, u64);\nBPF_PERF_OUTPUT(events);\nint f(void *ctx) { struct data_t d = {}; events.perf_submit(ctx, &d, sizeof(d)); return 0; }\n",
    );
    const r = spawnSync(
      process.execPath,
      [
        join(repoRoot, "dist/bundle/tsbpf.cjs"),
        "gen-types",
        join(dir, "prog.c"),
        "-o",
        join(dir, "prog.d.ts"),
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const dts = readFileSync(join(dir, "prog.d.ts"), "utf8");
    assert.match(
      dts,
      /export interface key_t \{\n {2}pid: number; \/\/ u32\n {2}comm: string; \/\/ char\[16\]\n\}/,
    );
    assert.match(dts, /export interface data_t \{\n {2}pid: number; \/\/ u32\n {2}ts: bigint; \/\/ u64\n\}/);
    assert.match(dts, /counts: \{ key: key_t; value: bigint \};/);
  });

  it("every bcc table type creates the kernel map it names", async () => {
    const b = await load(`
struct lpm_key { u32 prefixlen; u32 addr; };
BPF_HASH(t_hash, u32, u64, 8);
BPF_ARRAY(t_array, u64, 8);
BPF_HISTOGRAM(t_hist);
BPF_PERCPU_HASH(t_pch, u32, u64, 8);
BPF_PERCPU_ARRAY(t_pca, u64, 8);
BPF_TABLE("lru_hash", u32, u64, t_lru, 8);
BPF_TABLE("lru_percpu_hash", u32, u64, t_lrupc, 8);
BPF_LPM_TRIE(t_lpm, struct lpm_key, u64, 8);
BPF_STACK_TRACE(t_stacks, 8);
BPF_PERF_OUTPUT(t_perf);
BPF_PERF_ARRAY(t_perfarr, 4);
BPF_RINGBUF_OUTPUT(t_rb, 1);
BPF_PROG_ARRAY(t_prog, 4);
BPF_QUEUE(t_queue, u32, 4);
BPF_STACK(t_stack, u32, 4);
BPF_CGROUP_ARRAY(t_cg, 4);
BPF_DEVMAP(t_dev, 4);
BPF_CPUMAP(t_cpu, 4);
BPF_XSKMAP(t_xsk, 4);
BPF_SOCKMAP(t_sockmap, 4);
BPF_SOCKHASH(t_sockhash, u32, 4);
BPF_ARRAY(t_inner, u32, 2);
BPF_ARRAY_OF_MAPS(t_aom, "t_inner", 2);
BPF_HASH_OF_MAPS(t_hom, u32, "t_inner", 2);
BPF_SK_STORAGE(t_sk, u64);
BPF_TASK_STORAGE(t_task, u64);
BPF_CGROUP_STORAGE(t_cgs, u64);
BPF_PERCPU_CGROUP_STORAGE(t_pcgs, u64);
BPF_QUEUE(t_queue_f, u32, 4, BPF_F_RDONLY_PROG);
BPF_HASH_OF_MAPS(t_hom2, "t_inner");
int f(void *ctx) { return 0; }`);
    // The map type libbpf created each map with, through the table objects.
    const byName = new Map<string, number>();
    const want: Record<string, number> = {
      t_hash: 1,
      t_array: 2,
      t_hist: 2,
      t_pch: 5,
      t_pca: 6,
      t_lru: 9,
      t_lrupc: 10,
      t_lpm: 11,
      t_stacks: 7,
      t_perf: 4,
      t_perfarr: 4,
      t_rb: 27,
      t_prog: 3,
      t_queue: 22,
      t_stack: 23,
      t_cg: 8,
      t_dev: 14,
      t_cpu: 16,
      t_xsk: 17,
      t_sockmap: 15,
      t_sockhash: 18,
      t_aom: 12,
      t_hom: 13,
      t_sk: 24,
      t_task: 29,
      t_cgs: 19,
      t_pcgs: 21,
      t_queue_f: 22,
      t_hom2: 13,
    };
    for (const name of Object.keys(want)) byName.set(name, b.getTable(name).mapType);
    assert.deepEqual(Object.fromEntries(byName), want);
    assert.deepEqual(
      [b.getTable("t_hash").typeName, b.getTable("t_pca").typeName, mapTypeName(9999)],
      ["HASH", "PERCPU_ARRAY", "<unknown>"],
    );
    // A map the kernel refuses is named (queues take no BPF_F_NO_PREALLOC).
    const bad = await load("BPF_QUEUE(q, u32, 4, BPF_F_NO_PREALLOC);\nint f(void *ctx) { return 0; }");
    assert.throws(
      () => bad.getTable("q"),
      (err: unknown) =>
        err instanceof BpfError &&
        err.errno === 22 &&
        /failed: map q \(the kernel refused its type, sizes or flags/.test(err.message),
    );
  });

  it("BPF_LPM_TRIE: longest-prefix match from BPF on keys written from JS; BPF_STACK is last in, first out", async () => {
    const b = await load(`
struct lpm_key { u32 prefixlen; u8 addr[4]; };
BPF_LPM_TRIE(routes, struct lpm_key, u32, 16);
BPF_ARRAY(result, u32, 4);
BPF_STACK(st, u32, 4);
BPF_ARRAY(target, u32, 1);
int on_exec(void *ctx)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    if (!t || *t != (bpf_get_current_pid_tgid() >> 32))
        return 0;
    struct lpm_key k = { .prefixlen = 32, .addr = { 10, 1, 2, 3 } };
    u32 *v = routes.lookup(&k);
    int i = 0;
    if (v) result.update(&i, v);
    struct lpm_key k2 = { .prefixlen = 32, .addr = { 10, 9, 9, 9 } };
    v = routes.lookup(&k2);
    i = 1;
    if (v) result.update(&i, v);
    u32 x;
    i = 2;
    if (st.pop(&x) == 0) result.update(&i, &x);
    return 0;
}`);
    const routes = b.getTable<HashTable<{ prefixlen: number; addr: number[] }, number>>("routes");
    routes.set({ prefixlen: 8, addr: [10, 0, 0, 0] }, 8);
    routes.set({ prefixlen: 16, addr: [10, 1, 0, 0] }, 16);
    routes.set({ prefixlen: 24, addr: [10, 1, 2, 0] }, 24);
    const st = b.getTable<QueueStack<number>>("st");
    st.push(1);
    st.push(2);
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    await execTargeted((pid) => b.getTable<ArrayTable<number>>("target").set(0, pid));
    const result = b.getTable<ArrayTable<number>>("result");
    assert.deepEqual([result.get(0), result.get(1), result.get(2)], [24, 8, 2]);
    assert.equal(st.pop(), 1);
    assert.equal(routes.size, 3);
  });

  it('BPF_TABLE_PUBLIC in one object, BPF_TABLE("extern") in another: one map; BPF_TABLE_PINNED reuses its pin', async () => {
    const a = await load(
      'BPF_TABLE_PUBLIC("hash", u32, u64, tsbpf_shared_counts, 16);\nint f(void *ctx) { return 0; }',
    );
    a.getTable<HashTable<number, bigint>>("tsbpf_shared_counts").set(1, 11n);
    const b = await load(`
BPF_TABLE("extern", u32, u64, tsbpf_shared_counts, 16);
BPF_ARRAY(target, u32, 1);
int on_exec(void *ctx)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    if (!t || *t != (bpf_get_current_pid_tgid() >> 32))
        return 0;
    u32 k = 1;
    u64 *v = tsbpf_shared_counts.lookup(&k);
    if (v)
        *v += 1;
    return 0;
}`);
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    await execTargeted((pid) => b.getTable<ArrayTable<number>>("target").set(0, pid));
    assert.equal(a.getTable<HashTable<number, bigint>>("tsbpf_shared_counts").get(1), 12n);
    await assert.rejects(
      (async () => {
        const c = await load(
          'BPF_TABLE("extern", u32, u64, tsbpf_nobody_published, 16);\nint f(void *ctx) { return 0; }',
        );
        c.getTable("tsbpf_nobody_published");
      })(),
      /no open BPF object of this process made it public/,
    );

    const { rmSync, existsSync } = await import("node:fs");
    const pin = "/sys/fs/bpf/tsbpf_test_pinned";
    rmSync(pin, { force: true });
    try {
      const text =
        'BPF_TABLE_PINNED("hash", u32, u64, pinned_counts, 16, "/sys/fs/bpf/tsbpf_test_pinned");\nint f(void *ctx) { return 0; }';
      const p1 = await load(text);
      p1.getTable<HashTable<number, bigint>>("pinned_counts").set(5, 55n);
      assert.ok(existsSync(pin));
      p1.close();
      const p2 = await load(text);
      assert.equal(
        p2.getTable<HashTable<number, bigint>>("pinned_counts").get(5),
        55n,
        "the second object reused the pinned map",
      );
      p2.close();
    } finally {
      rmSync(pin, { force: true });
    }
  });

  it("keys and values in bcc's text form (key_sprintf, leaf_sprintf) and back (key_scanf, leaf_scanf)", async () => {
    const b = await load(`
struct key_t { u32 pid; char comm[16]; s16 delta[2]; struct { u8 flag : 1; u8 level : 3; } bits; };
BPF_HASH(seen, struct key_t, s64);
BPF_PERCPU_ARRAY(ts, u64, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    u32 zero = 0;
    u64 now = bpf_ktime_get_ns();
    ts.update(&zero, &now);
    return 0;
}`);
    type Key = { pid: number; comm: string; delta: number[]; bits: { flag: number; level: number } };
    const seen = b.getTable<HashTable<Key, bigint>>("seen");
    const key: Key = { pid: 31, comm: "bash", delta: [-1, 2], bits: { flag: 1, level: 5 } };
    const text = seen.keySprintf(key);
    assert.equal(text, '{ 0x1f "bash" [ 0xffff 0x2 ] { 0x1 0x5 } }');
    assert.deepEqual(seen.keyScanf(text), key);
    // As bcc's sscanf reads them: any spacing, decimal, octal and negative integers.
    assert.deepEqual(seen.keyScanf('{31 "bash" [-1 02] {1 5}}'), key);
    assert.equal(seen.leafSprintf(-2n), "0xfffffffffffffffe");
    assert.equal(seen.leafScanf("0xfffffffffffffffe"), -2n);
    seen.set(seen.keyScanf('{ 0x1 "from-text" [ 0x0 0x0 ] { 0x0 0x0 } }'), seen.leafScanf("42") as bigint);
    assert.equal(seen.get({ pid: 1, comm: "from-text", delta: [0, 0], bits: { flag: 0, level: 0 } }), 42n);
    assert.throws(() => seen.keyScanf('{ 0x1f "bash" }'), /seen key: expected "\[" at offset 14/);
    assert.throws(
      () => seen.keyScanf(`{ 1 "${"x".repeat(17)}" [ 0 0 ] { 0 0 } }`),
      /a string of at most 16 bytes/,
    );
    assert.throws(() => seen.leafScanf("0x1 0x2"), /expected the end of the text/);

    // BPF.monotonicTime() is the clock of bpf_ktime_get_ns() (the TRACEPOINT_PROBE attached itself at load).
    assert.throws(
      () =>
        b.attachTracepoint({
          tp: "syscalls:sys_enter_execve",
          fnName: "tracepoint__syscalls__sys_enter_execve",
        }),
      /already attached there .*pass autoAttach: false/,
    );
    const before = BPF.monotonicTime();
    execOnce();
    const after = BPF.monotonicTime();
    const stamps = (b.getTable("ts").get(0) as bigint[]).filter((t) => t > 0n);
    assert.ok(
      stamps.some((t) => t >= before && t <= after),
      `${before} <= ${stamps.join(",")} <= ${after}`,
    );
  });

  it("itemsLookupAndDeleteBatch reads and resets a map that a program keeps filling, losing nothing", async () => {
    // Every getppid of the child gets a sequence number and an entry of its own.
    const b = await load(`
BPF_ARRAY(seq, u64, 1);
BPF_ARRAY(target, u32, 1);
BPF_HASH(events, u64, u32, 200000);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    u32 zero = 0;
    u32 *t = target.lookup(&zero);
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (!t || *t != pid)
        return 0;
    u64 *s = seq.lookup(&zero);
    if (!s)
        return 0;
    u64 n = __sync_fetch_and_add(s, 1);
    events.update(&n, &pid);
    return 0;
}`);
    const events = b.getTable<HashTable<bigint, number>>("events");
    const child = spawn(process.execPath, [
      "-e",
      "process.stdin.once('data', () => { const end = Date.now() + 1500; let x = 0; while (Date.now() < end) x += process.ppid; process.exit(x === -1 ? 1 : 0); });",
    ]);
    const exited = new Promise((r) => child.on("exit", r));
    b.getTable<ArrayTable<number>>("target").set(0, child.pid as number);
    child.stdin?.write("go\n");
    let running = true;
    void exited.then(() => {
      running = false;
    });
    const drained: bigint[] = [];
    let drains = 0;
    while (running) {
      for (const [k, pid] of events.itemsLookupAndDeleteBatch()) {
        assert.equal(pid, child.pid);
        drained.push(k);
      }
      drains++;
      await new Promise((r) => setImmediate(r));
    }
    for (const [k] of events.itemsLookupAndDeleteBatch()) drained.push(k);
    const total = Number(b.getTable("seq").get(0));
    assert.ok(total > 1000 && drains > 10, `${total} events in ${drains} drains`);
    assert.equal(drained.length, total, "every event read exactly once");
    assert.equal(new Set(drained).size, total);
    assert.equal(events.size, 0);
  });

  it("itemsLookupBatch, itemsUpdateBatch and itemsDeleteBatch, batched on hash and array maps, key by key on others", async () => {
    const b = await load(`
struct lpm_key { u32 prefixlen; u8 addr[4]; };
BPF_HASH(h, u32, u64, 1024);
BPF_ARRAY(a, u64, 600);
BPF_LPM_TRIE(t, struct lpm_key, u64, 16);
int f(void *ctx) { return 0; }`);
    const h = b.getTable<HashTable<number, bigint>>("h");
    const keys = Array.from({ length: 600 }, (_, i) => i * 7);
    h.itemsUpdateBatch(
      keys,
      keys.map((k) => BigInt(k) * 2n),
    );
    assert.equal(h.size, 600);
    assert.deepEqual(new Map(h.itemsLookupBatch()), new Map(keys.map((k) => [k, BigInt(k) * 2n])));
    h.itemsDeleteBatch(keys.slice(0, 300));
    assert.equal(h.size, 300);
    assert.equal(h.get(0), undefined);
    assert.equal(h.get(300 * 7), 4200n);
    assert.throws(
      () => h.itemsDeleteBatch([0]),
      /delete batch failed after 0 entries \(a key is not in the map\)/,
    );
    h.itemsDeleteBatch();
    assert.equal(h.size, 0);
    assert.throws(() => h.itemsUpdateBatch([1, 2], [1n]), /got 2 keys and 1 values/);

    const a = b.getTable<ArrayTable<bigint>>("a");
    a.itemsUpdateBatch([1, 599], [11n, 599n]);
    const all = a.itemsLookupBatch();
    assert.equal(all.length, 600);
    assert.deepEqual(
      [all[1], all[599], all[2]],
      [
        [1, 11n],
        [599, 599n],
        [2, 0n],
      ],
    );
    assert.throws(() => a.itemsLookupAndDeleteBatch(), /an array's entries cannot be deleted/);

    // An LPM trie has no batch operations: the same calls, key by key.
    type K = { prefixlen: number; addr: number[] };
    const t = b.getTable<HashTable<K, bigint>>("t");
    const k1: K = { prefixlen: 8, addr: [10, 0, 0, 0] };
    const k2: K = { prefixlen: 24, addr: [10, 1, 2, 0] };
    t.itemsUpdateBatch([k1, k2], [1n, 2n]);
    assert.equal(t.itemsLookupBatch().length, 2);
    const got = t.itemsLookupAndDeleteBatch();
    assert.deepEqual(got.map(([, v]) => v).sort(), [1n, 2n]);
    assert.equal(t.size, 0);
  });

  it("C-side methods and macros: BPF_F_TABLE, BPF_TABLE_SHARED, atomic_increment, lock_xadd, peek, task_storage_get, ringbuf_query", async () => {
    const b = await BPF.load({
      text: `
BPF_F_TABLE("hash", u32, u64, ftab, 16, 0);
BPF_TABLE_SHARED("array", int, u64, shared_tab, 4);
BPF_QUEUE(q, u64, 4);
BPF_TASK_STORAGE(calls, u64);
BPF_RINGBUF_OUTPUT(rb, 1);
BPF_ARRAY(out, u64, 4);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    u32 one = 1;
    ftab.atomic_increment(one);
    int zero = 0;
    u64 *v = shared_tab.lookup(&zero);
    if (v)
        lock_xadd(v, 2);
    u64 x;
    if (q.peek(&x) == 0) {
        u32 i = 0;
        out.update(&i, &x);
    }
    u64 *n = calls.task_storage_get(bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (n) {
        *n += 1;
        u32 i = 1;
        u64 c = *n;
        out.update(&i, &c);
    }
    u32 i = 2;
    u64 avail = rb.ringbuf_query(BPF_RB_AVAIL_DATA);
    out.update(&i, &avail);
    return 0;
}`,
      cflags: [`-DTARGET=${process.pid}`],
    });
    open.push(b);
    b.getTable<QueueStack<bigint>>("q").push(77n);
    let x = 0;
    for (let k = 0; k < 5; k++) x += process.ppid;
    assert.ok(x > 0);
    assert.equal(b.getTable("ftab").get(1), 5n, "atomic_increment");
    assert.equal(b.getTable("shared_tab").get(0), 10n, "lock_xadd");
    const out = b.getTable<ArrayTable<bigint>>("out");
    assert.deepEqual(
      [out.get(0), out.get(1), out.get(2)],
      [77n, 5n, 0n],
      "peeked value, per-task count, empty ring",
    );
    assert.equal(b.getTable<QueueStack<bigint>>("q").pop(), 77n, "peek left it in the queue");
    assert.deepEqual(b.tableNames().sort(), ["calls", "ftab", "out", "q", "rb", "shared_tab"]);
    out.delete(0);
    assert.equal(out.get(0), 0n, "an array's delete zeroes the entry");
  });

  it("an unknown table name: BpfError naming the close ones", async () => {
    const b = await load("BPF_HASH(counts);\nint f(void *ctx) { return 0; }");
    assert.throws(
      () => b.getTable("count"),
      (err: unknown) => err instanceof BpfError && /did you mean counts/.test(err.message),
    );
  });

  it("a method the map kind lacks, or a call on something that is not a map: CompileError at the user's line", async () => {
    await assert.rejects(
      BPF.load({
        text: "BPF_HASH(counts);\nint f(void *ctx) {\n  counts.perf_submit(ctx, 0, 0);\n  return 0;\n}",
      }),
      (err: unknown) =>
        err instanceof CompileError &&
        err.diagnostics[0]?.line === 3 &&
        /counts is a hash map and has no method perf_submit\(\); its methods are lookup/.test(err.message),
    );
    await assert.rejects(
      BPF.load({ text: "int f(void *ctx) {\n  u64 k = 0;\n  nothere.lookup(&k);\n  return 0;\n}" }),
      (err: unknown) =>
        err instanceof CompileError &&
        err.diagnostics[0]?.line === 3 &&
        /nothere is not a map/.test(err.message),
    );
  });
});
