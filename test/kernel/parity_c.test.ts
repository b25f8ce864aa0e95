/**
 * bcc dialect items that had a counterpart but no test (docs/bcc-parity.md,
 * "All untested and partly tested items"), each checked against what the
 * kernel did: a value the program wrote, the PID of a process the test
 * spawned, a record that arrived or did not.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type ArrayTable,
  BPF,
  BPF_EXIST,
  BPFAttachType,
  BPFProgType,
  BpfError,
  CompileError,
  type HashTable,
  NotSupportedError,
  type PerCpuHash,
  type PerfEventArray,
  PerfEventSampleFormat,
  PerfSWConfig,
  PerfType,
  possibleCpus,
  type QueueStack,
  type RingBuf,
  type StackTrace,
  type TraceLine,
  XDPFlags,
} from "../../src/index.js";
import { cgroup2Root, runInCgroup } from "../cgroup.js";
import {
  assertNothingLeft,
  kernelObjects,
  runChild,
  skipUnlessRoot,
  testTempDir,
  waitFor,
} from "../helpers.js";
import { ip, netToolsMissing, sendIcmp, setSysctl } from "../net.js";

/** Calls getppid(2) n times (process.ppid asks the kernel each time). */
function getppidLoop(n: number): void {
  let x = 0;
  for (let i = 0; i < n; i++) x += process.ppid;
  if (x === -1) throw new Error("unreachable");
}

describe("bcc dialect: C-side items", { skip: skipUnlessRoot }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });
  const load = async (text: string, cflags: string[] = []): Promise<BPF> => {
    const b = await BPF.load({ text, cflags });
    open.push(b);
    return b;
  };

  it("bpf_get_ns_current_pid_tgid: the test's own pid in its namespace, and pid 1 in a new one", async () => {
    const b = await load(
      `
struct ids { u32 ns_pid; u32 ns_tgid; u32 pid; s32 ret; };
BPF_ARRAY(ns, u64, 2);      // [0] dev, [1] inode of the pid namespace to look through
BPF_ARRAY(target, u32, 1);  // 0: the test process (getppid); else any execve in that namespace
BPF_HASH(seen, u32, struct ids);
static __always_inline int record(u32 key)
{
    int i0 = 0, i1 = 1;
    u64 *dev = ns.lookup(&i0), *ino = ns.lookup(&i1);
    if (!dev || !ino)
        return 0;
    struct bpf_pidns_info info = {};
    struct ids v = {};
    v.ret = bpf_get_ns_current_pid_tgid(*dev, *ino, &info, sizeof(info));
    if (v.ret != 0 && key != 0)
        return 0;
    v.ns_pid = info.pid;
    v.ns_tgid = info.tgid;
    v.pid = bpf_get_current_pid_tgid() >> 32;
    seen.update(&key, &v);
    return 0;
}
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    return record(0);
}
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    return record(1);
}`,
      [`-DTARGET=${process.pid}`],
    );
    const nsTable = b.getTable<ArrayTable<bigint>>("ns");
    const seen =
      b.getTable<HashTable<number, { ns_pid: number; ns_tgid: number; pid: number; ret: number }>>("seen");
    // The test's own namespace: the helper gives the pid the test knows.
    const own = statSync("/proc/self/ns/pid");
    nsTable.set(0, BigInt(own.dev));
    nsTable.set(1, BigInt(own.ino));
    getppidLoop(1);
    assert.deepEqual(seen.get(0), { ns_pid: process.pid, ns_tgid: process.pid, pid: process.pid, ret: 0 });
    // A namespace the test is not in: -EINVAL (the helper checks dev and inode).
    nsTable.set(1, BigInt(own.ino) + 1n);
    getppidLoop(1);
    assert.equal(seen.get(0)?.ret, -22, "another namespace's inode: -EINVAL");

    // A new pid namespace (unshare --pid --fork): its first process is pid 1 there.
    if (spawnSync("unshare", ["--version"]).status !== 0) return;
    seen.delete(1);
    const child = spawn("unshare", ["--pid", "--fork", "/bin/sh", "-c", "read x; exec /bin/true"], {
      stdio: ["pipe", "ignore", "inherit"],
    });
    const exited = new Promise((r) => child.on("exit", r));
    const unsharePid = child.pid as number;
    // unshare's children go into the new namespace: wait for the forked shell.
    let newNs: ReturnType<typeof statSync> | undefined;
    await waitFor(() => {
      try {
        newNs = statSync(`/proc/${unsharePid}/ns/pid_for_children`);
        return newNs.ino !== own.ino;
      } catch {
        return false;
      }
    }, 3000);
    assert.ok(newNs && newNs.ino !== own.ino, "unshare made a new pid namespace");
    nsTable.set(0, BigInt(newNs.dev));
    nsTable.set(1, BigInt(newNs.ino));
    child.stdin?.end("go\n");
    await exited;
    const v = seen.get(1);
    assert.ok(v !== undefined, "the execve in the new namespace was seen");
    assert.deepEqual([v.ns_pid, v.ns_tgid, v.ret], [1, 1, 0], "pid 1 in its own namespace");
    assert.ok(v.pid > 1 && v.pid !== unsharePid, `its pid outside is ${v.pid}`);
  });

  it("task_storage_delete: a task's storage deleted on its third call starts again from one", async () => {
    const b = await load(
      `
BPF_TASK_STORAGE(calls, u64);
BPF_ARRAY(out, s64, 4);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    struct task_struct *task = bpf_get_current_task_btf();
    u64 *n = calls.task_storage_get(task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!n)
        return 0;
    *n += 1;
    u32 i = 0;
    s64 c = *n;
    out.update(&i, &c);
    if (*n == 3) {
        s64 r = calls.task_storage_delete(task);
        i = 1;
        out.update(&i, &r);
        // deleted: a lookup without F_CREATE finds nothing, a second delete says -ENOENT
        s64 gone = calls.task_storage_get(task, 0, 0) == 0;
        i = 2;
        out.update(&i, &gone);
        r = calls.task_storage_delete(task);
        i = 3;
        out.update(&i, &r);
    }
    return 0;
}`,
      [`-DTARGET=${process.pid}`],
    );
    getppidLoop(5);
    const out = b.getTable<ArrayTable<bigint>>("out");
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => out.get(i)),
      [2n, 0n, 1n, -2n],
      "calls 1, 2, 3 (deleted), then 1, 2; delete returned 0, then -ENOENT",
    );
  });

  it("perf_counter_value: bpf_perf_event_read_value on a software counter of a BPF_PERF_ARRAY", async () => {
    const b = await load(
      `
BPF_PERF_ARRAY(clock, ${possibleCpus()});
struct reading { s64 ret; u64 counter; u64 enabled; u64 running; };
BPF_ARRAY(out, struct reading, 2);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    struct bpf_perf_event_value v = {};
    struct reading r = {};
    r.ret = clock.perf_counter_value(BPF_F_CURRENT_CPU, &v, sizeof(v));
    r.counter = v.counter;
    r.enabled = v.enabled;
    r.running = v.running;
    u32 i = 0;
    struct reading *old = out.lookup(&i);
    if (old && old->ret == 0 && old->counter != 0)
        i = 1;
    out.update(&i, &r);
    return 0;
}`,
      [`-DTARGET=${process.pid}`],
    );
    const out =
      b.getTable<ArrayTable<{ ret: bigint; counter: bigint; enabled: bigint; running: bigint }>>("out");
    getppidLoop(1);
    assert.equal(out.get(0)?.ret, -2n, "no event in the slot yet: -ENOENT");
    const clock = b.getTable<PerfEventArray>("clock");
    clock.openPerfEvent(PerfType.SOFTWARE, PerfSWConfig.CPU_CLOCK);
    getppidLoop(1);
    const first = out.get(0);
    assert.ok(
      first !== undefined && first.ret === 0n,
      `read: ${JSON.stringify(first, (_k, v) => String(v))}`,
    );
    assert.ok(
      first.counter > 0n && first.enabled > 0n && first.running > 0n,
      "counter, enabled and running times",
    );
    const end = Date.now() + 20;
    while (Date.now() < end);
    getppidLoop(1);
    const second = out.get(1);
    assert.ok(second !== undefined && second.ret === 0n);
    assert.ok(second.enabled > first.enabled, "enabled time grows");
    clock.closePerfEvents();
    out.set(0, { ret: 0n, counter: 0n, enabled: 0n, running: 0n });
    getppidLoop(1);
    assert.equal(out.get(0)?.ret, -2n, "closePerfEvents emptied the slots: -ENOENT again");
  });

  it("ringbuf_discard: a discarded record never arrives, a submitted one does", async () => {
    const b = await load(
      `
struct event { u32 pid; u32 seq; };
BPF_RINGBUF_OUTPUT(rb, 1);
BPF_ARRAY(seq, u32, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    int zero = 0;
    u32 *s = seq.lookup(&zero);
    if (!s)
        return 0;
    struct event *e = rb.ringbuf_reserve(sizeof(struct event));
    if (!e)
        return 0;
    e->pid = TARGET;
    e->seq = (*s)++;
    if (e->seq % 2)
        rb.ringbuf_discard(e, 0);
    else
        rb.ringbuf_submit(e, 0);
    return 0;
}`,
      [`-DTARGET=${process.pid}`],
    );
    const rb = b.getTable<RingBuf>("rb");
    const got: unknown[] = [];
    rb.openRingBuffer((_ctx, data) => got.push(rb.event(data)));
    getppidLoop(6);
    await waitFor(() => got.length >= 3, 2000);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, [
      { pid: process.pid, seq: 0 },
      { pid: process.pid, seq: 2 },
      { pid: process.pid, seq: 4 },
    ]);
    assert.equal(b.getTable<ArrayTable<number>>("seq").get(0), 6, "six records reserved");
  });

  it("BPF_QUEUESTACK, _SHARED, _PINNED and _PUBLIC: pushed and popped from C and from JS", async () => {
    const pin = "/sys/fs/bpf/tsbpf_test_parity_queue";
    rmSync(pin, { force: true });
    try {
      const text = `
BPF_QUEUESTACK("queue", q, u32, 8, 0);
BPF_QUEUESTACK_SHARED("stack", s, u32, 8, 0);
BPF_QUEUESTACK_PINNED("queue", qp, u32, 8, 0, "${pin}");
BPF_QUEUESTACK_PUBLIC("stack", tsbpf_parity_pubstack, u32, 8, 0);
BPF_ARRAY(popped, u32, 4);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    u32 v, i;
    // each: pop what JS pushed (recorded), push it back times ten and one more
    if (q.pop(&v) == 0) { i = 0; popped.update(&i, &v); v *= 10; q.push(&v, 0); v += 1; q.push(&v, 0); }
    if (s.pop(&v) == 0) { i = 1; popped.update(&i, &v); v *= 10; s.push(&v, 0); v += 1; s.push(&v, 0); }
    if (qp.pop(&v) == 0) { i = 2; popped.update(&i, &v); v *= 10; qp.push(&v, 0); v += 1; qp.push(&v, 0); }
    if (tsbpf_parity_pubstack.pop(&v) == 0) {
        i = 3; popped.update(&i, &v); v *= 10; tsbpf_parity_pubstack.push(&v, 0); v += 1;
        tsbpf_parity_pubstack.push(&v, 0);
    }
    return 0;
}`;
      const b = await load(text, [`-DTARGET=${process.pid}`]);
      const names = ["q", "s", "qp", "tsbpf_parity_pubstack"] as const;
      const tables = names.map((n) => b.getTable<QueueStack<number>>(n));
      assert.deepEqual(
        tables.map((t) => t.typeName),
        ["QUEUE", "STACK", "QUEUE", "STACK"],
      );
      tables.forEach((t, i) => {
        t.push(i + 1);
        t.push(i + 5);
      });
      getppidLoop(1);
      // Queues pop the oldest (1, 3), stacks the newest (6, 8).
      assert.deepEqual(
        [0, 1, 2, 3].map((i) => b.getTable<ArrayTable<number>>("popped").get(i)),
        [1, 6, 3, 8],
      );
      assert.deepEqual(
        [...(tables[0] as QueueStack<number>).values()],
        [5, 10, 11],
        "queue: JS's second value, then what C pushed",
      );
      assert.deepEqual(
        [...(tables[1] as QueueStack<number>).values()],
        [61, 60, 2],
        "stack: C's last push first",
      );
      assert.ok(existsSync(pin), "the pinned queue is in bpffs");
      // The pinned queue outlives its object: a second object finds what is left in it.
      b.close();
      const again = await load(text, [`-DTARGET=${process.pid}`]);
      assert.deepEqual(
        [...again.getTable<QueueStack<number>>("qp").values()],
        [7, 30, 31],
        "kept in the pin",
      );
      // The public stack: another object of the process reaches it as "extern".
      again.getTable<QueueStack<number>>("tsbpf_parity_pubstack").push(99);
      const other = await load(
        `
BPF_TABLE("extern", int, u32, tsbpf_parity_pubstack, 8);
BPF_ARRAY(got, u32, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    u32 v;
    int zero = 0;
    if (bpf_map_pop_elem(&tsbpf_parity_pubstack, &v) == 0)
        got.update(&zero, &v);
    return 0;
}`,
        [`-DTARGET=${process.pid}`],
      );
      again.close();
      getppidLoop(1);
      assert.equal(other.getTable<ArrayTable<number>>("got").get(0), 99, "popped through the public map");
    } finally {
      rmSync(pin, { force: true });
    }
  });

  it('BPF_TABLE("lru_percpu_hash"): counted per CPU from C, read, set and summed from JS', async () => {
    const b = await load(
      `
BPF_TABLE("lru_percpu_hash", u32, u64, per_pid, 4);
BPF_ARRAY(read_back, u64, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid != TARGET)
        return 0;
    per_pid.increment(pid);
    u32 seven = 7;
    u64 *v = per_pid.lookup(&seven);
    if (v) {
        int zero = 0;
        read_back.update(&zero, v);
    }
    return 0;
}`,
      [`-DTARGET=${process.pid}`],
    );
    const t = b.getTable<PerCpuHash<number, bigint>>("per_pid");
    assert.equal(t.typeName, "LRU_PERCPU_HASH");
    const ncpu = possibleCpus();
    t.set(
      7,
      Array.from({ length: ncpu }, () => 70n),
    );
    getppidLoop(4);
    assert.equal(t.sum(process.pid), 4n);
    assert.equal(t.getValue(process.pid).length, ncpu);
    assert.equal(b.getTable("read_back").get(0), 70n, "C read the value JS set (its own CPU's)");
    // LRU: more keys than entries evicts, never fails.
    for (let k = 100; k < 110; k++)
      t.set(
        k,
        Array.from({ length: ncpu }, () => 1n),
      );
    assert.ok(t.size <= 4, `${t.size} entries`);
  });

  it("PT_REGS_PARMn_SYSCALL on the user registers of sys_enter: openat's four arguments (the fourth in r10)", async () => {
    const b = await load(
      `
struct args { s32 dfd; u64 flags; u64 mode; char path[64]; };
BPF_ARRAY(out, struct args, 1);
RAW_TRACEPOINT_PROBE(sys_enter)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET || ctx->args[1] != 257 /* openat */)
        return 0;
    struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
    struct args a = {};
    bpf_probe_read_kernel(&a.dfd, sizeof(a.dfd), &PT_REGS_PARM1_SYSCALL(regs));
    const char *path = 0;
    bpf_probe_read_kernel(&path, sizeof(path), &PT_REGS_PARM2_SYSCALL(regs));
    bpf_probe_read_user_str(a.path, sizeof(a.path), path);
    bpf_probe_read_kernel(&a.flags, sizeof(a.flags), &PT_REGS_PARM3_SYSCALL(regs));
    bpf_probe_read_kernel(&a.mode, sizeof(a.mode), &PT_REGS_PARM4_SYSCALL(regs));
    int zero = 0;
    out.update(&zero, &a);
    return 0;
}`,
      [`-DTARGET=${process.pid}`],
    );
    const { constants } = await import("node:fs");
    const file = `${testTempDir("tsbpf-parity")}/created`;
    closeSync(openSync(file, constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL, 0o640));
    const a = b
      .getTable<ArrayTable<{ dfd: number; flags: bigint; mode: bigint; path: string }>>("out")
      .get(0);
    assert.ok(a !== undefined);
    assert.equal(a.path, file);
    assert.equal(a.dfd, -100, "AT_FDCWD (an int: the register's low half)");
    assert.equal(
      Number(a.flags) & (constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY),
      constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY,
    );
    assert.equal(a.mode, 0o640n, "the fourth syscall argument (r10, not rcx)");
  });

  it("BPF_XSKMAP from JS: slots delete; a socket that is not AF_XDP is refused; values cannot be read back", async () => {
    const b = await load(
      "BPF_XSKMAP(xsks, 4);\nint f(struct xdp_md *ctx) { return xsks.redirect_map(0, XDP_PASS); }",
    );
    const xsks = b.getTable<HashTable<number, number>>("xsks");
    assert.equal(xsks.typeName, "XSKMAP");
    assert.deepEqual([...xsks.keys()], [0, 1, 2, 3]);
    assert.equal(xsks.delete(0), true, "an empty slot deletes");
    assert.throws(
      () => xsks.delete(4),
      (err: unknown) => err instanceof BpfError && err.errno === 22,
    );
    // Only a bound AF_XDP socket goes in (the tests make none): a TCP socket is EOPNOTSUPP,
    // a file ENOTSOCK. The kernel never gives a slot's socket back to user space: EOPNOTSUPP.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const devNull = openSync("/dev/null", "r");
    try {
      const tcpFd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      assert.ok(tcpFd > 0);
      assert.throws(
        () => xsks.set(0, tcpFd),
        (err: unknown) => err instanceof BpfError && err.errno === 95,
      );
      assert.throws(
        () => xsks.set(0, devNull),
        (err: unknown) => err instanceof BpfError && err.errno === 88,
      );
      assert.throws(
        () => xsks.get(0),
        (err: unknown) => err instanceof BpfError && err.errno === 95,
      );
    } finally {
      closeSync(devNull);
      server.close();
    }
  });

  it("BPF_INODE_STORAGE: set, read and deleted from JS by a file's fd; inode_storage_get/delete need an LSM program, refused here", async () => {
    const b = await load("BPF_INODE_STORAGE(marks, u64);\nint f(void *ctx) { return 0; }");
    const marks = b.getTable<HashTable<number, bigint>>("marks");
    assert.equal(marks.typeName, "INODE_STORAGE");
    const dir = testTempDir("tsbpf-inode");
    writeFileSync(join(dir, "f"), "x");
    const fd1 = openSync(join(dir, "f"), "r");
    const fd2 = openSync(join(dir, "f"), "r");
    try {
      assert.equal(marks.get(fd1), undefined);
      marks.set(fd1, 5n);
      assert.equal(marks.get(fd2), 5n, "the value is the inode's, whichever fd names it");
      assert.equal(marks.delete(fd2), true);
      assert.equal(marks.get(fd1), undefined);
    } finally {
      closeSync(fd1);
      closeSync(fd2);
    }
    // The C methods: only BPF LSM programs have bpf_inode_storage_get/delete (Linux 5.10,
    // CONFIG_BPF_LSM, "bpf" in lsm=); this kernel refuses LSM programs.
    const text = `
BPF_INODE_STORAGE(opens, u64);
LSM_PROBE(file_open, struct file *file)
{
    u64 *n = opens.inode_storage_get(file->f_inode, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (n && ++*n > 2)
        opens.inode_storage_delete(file->f_inode);
    return 0;
}`;
    if (BPF.supportLsm()) return;
    await assert.rejects(
      BPF.load({ text }),
      (err: unknown) => err instanceof NotSupportedError && err.feature === "BPF LSM programs",
    );
  });

  it("BPF_EXIST on a full queue drops the oldest; leafSprintf/leafScanf on a queue of structs", async () => {
    const b = await load(`
struct item { u32 id; char tag[8]; };
BPF_QUEUE(items, struct item, 2);
int f(void *ctx) { return 0; }`);
    type Item = { id: number; tag: string };
    const q = b.getTable<QueueStack<Item>>("items");
    q.push({ id: 1, tag: "one" });
    q.push({ id: 2, tag: "two" });
    assert.throws(
      () => q.push({ id: 3, tag: "three" }),
      (err: unknown) => err instanceof BpfError && err.errno === 7,
    );
    q.push({ id: 3, tag: "three" }, BPF_EXIST);
    const text = q.leafSprintf({ id: 4, tag: "four" });
    assert.equal(text, '{ 0x4 "four" }');
    q.push(q.leafScanf(text) as Item, BPF_EXIST);
    assert.deepEqual(
      [...q.values()],
      [
        { id: 3, tag: "three" },
        { id: 4, tag: "four" },
      ],
    );
  });
});

/**
 * Two connections to one server in the test's cgroup: the server's sockets go
 * into a socket map (sock_ops), then what client A sends is redirected by an
 * sk_skb stream verdict program from server socket A's receive path into
 * server socket B's receive queue. Prints what each side received, as JSON lines.
 */
const TWO_CONNECTIONS = `
const net = require("net");
const seen = [];
const server = net.createServer((s) => {
  seen.push(s);
  const me = seen.length === 1 ? "server-a" : "server-b";
  s.on("data", (d) => console.log(JSON.stringify({ at: me, data: d.toString() })));
  if (seen.length === 2) s.write("ready");
});
server.listen(0, "127.0.0.1", () => {
  const port = server.address().port;
  const a = net.connect(port, "127.0.0.1", () => {
    const b = net.connect(port, "127.0.0.1");
    b.on("data", () => a.write("sent by client A"));
  });
});
setTimeout(() => process.exit(0), 1000);`;

function received(out: string): Array<{ at: string; data: string }> {
  return out
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { at: string; data: string });
}

describe("bcc dialect: socket maps and socket storage", { skip: skipUnlessRoot }, () => {
  let cg = "";
  before(() => {
    cg = join(cgroup2Root(), `tsbpf-parity-${process.pid}`);
    mkdirSync(cg, { recursive: true });
  });
  after(() => {
    try {
      rmdirSync(cg);
    } catch {
      // a process may still be leaving it
    }
  });

  for (const kind of ["BPF_SOCKHASH", "BPF_SOCKMAP"] as const) {
    const hash = kind === "BPF_SOCKHASH";
    const method = hash ? "sk_redirect_hash" : "sk_redirect_map";
    it(`${kind}: ${hash ? "sock_hash_update" : "sock_map_update"} from sock_ops, ${method} from an sk_skb stream verdict`, async () => {
      const before = kernelObjects();
      const b = await BPF.load({
        text: `
${hash ? "BPF_SOCKHASH(socks, u32, 4);" : "BPF_SOCKMAP(socks, 4);"}
BPF_ARRAY(counts, u64, 2);
int add_sock(struct bpf_sock_ops *skops)
{
    if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
        return 0;
    u32 zero = 0;
    u64 *n = counts.lookup(&zero);
    if (!n)
        return 0;
    u32 key = __sync_fetch_and_add(n, 1);
    socks.${hash ? "sock_hash_update" : "sock_map_update"}(skops, &key, BPF_ANY);
    return 0;
}
int verdict(struct __sk_buff *skb)
{
    u32 one = 1;
    counts.increment(one);
    return socks.${method}(skb, ${hash ? "&one" : "one"}, BPF_F_INGRESS);
}`,
      });
      try {
        b.attachCgroup({ fnName: "add_sock", cgroup: cg, attachType: "sockops" });
        b.attachFunc("verdict", "socks", BPFAttachType.SK_SKB_STREAM_VERDICT);
        const got = received(runInCgroup(cg, TWO_CONNECTIONS));
        assert.deepEqual(got, [{ at: "server-b", data: "sent by client A" }]);
        const counts = b.getTable<ArrayTable<bigint>>("counts");
        assert.equal(counts.get(0), 2n, "both server sockets went into the map");
        assert.equal(counts.get(1), 1n, "the verdict program saw the one send");
        b.detachFunc("verdict", "socks", BPFAttachType.SK_SKB_STREAM_VERDICT);
        // Without the verdict program the data stays where it was sent.
        counts.set(0, 0n);
        assert.deepEqual(received(runInCgroup(cg, TWO_CONNECTIONS)), [
          { at: "server-a", data: "sent by client A" },
        ]);
      } finally {
        b.close();
      }
      await assertNothingLeft(before);
    });
  }

  it("BPF_SK_STORAGE: sk_storage_get creates a socket's value in connect4, sock_ops reads and deletes it", async () => {
    const b = await BPF.load({
      text: `
struct seen { u64 port; s64 deleted; s64 gone; s64 again; };
BPF_SK_STORAGE(ports, u64);
BPF_ARRAY(out, struct seen, 1);
SEC("cgroup/connect4")
int on_connect(struct bpf_sock_addr *ctx)
{
    struct bpf_sock *sk = ctx->sk;
    if (!sk)
        return 1;
    u64 *v = ports.sk_storage_get(sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (v)
        *v = bpf_ntohs(ctx->user_port) + 100000;
    return 1;
}
int on_established(struct bpf_sock_ops *skops)
{
    if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
        return 0;
    struct bpf_sock *sk = skops->sk;
    if (!sk)
        return 0;
    u64 *v = ports.sk_storage_get(sk, 0, 0);
    if (!v)
        return 0;
    struct seen s = { .port = *v };
    s.deleted = ports.sk_storage_delete(sk);
    s.gone = ports.sk_storage_get(sk, 0, 0) == 0;
    s.again = ports.sk_storage_delete(sk);
    int zero = 0;
    out.update(&zero, &s);
    return 0;
}`,
    });
    b.attachCgroup({ fnName: "on_connect", cgroup: cg });
    b.attachCgroup({ fnName: "on_established", cgroup: cg, attachType: "sockops" });
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as { port: number }).port;
      const out = runInCgroup(
        cg,
        `const s = require("net").connect(${port}, "127.0.0.1"); s.on("connect", () => { console.log("connected"); process.exit(0); }); s.on("error", (e) => { console.log(e.code); process.exit(0); });`,
      );
      assert.equal(out.trim(), "connected");
      assert.deepEqual(b.getTable("out").get(0), {
        port: BigInt(port) + 100000n,
        deleted: 0n,
        gone: 1n,
        again: -2n,
      });
    } finally {
      server.close();
      b.close();
    }
  });
});

/**
 * perf_submit_skb on a veth pair of the test's own (one end in a network
 * namespace, as in xdp.test.ts): ICMP echo requests sent from inside the
 * namespace reach the host end, where a socket filter and an XDP program
 * copy each packet into a perf buffer after their own record.
 */
describe("bcc dialect: perf_submit_skb", { skip: skipUnlessRoot || netToolsMissing }, () => {
  const ns = `tsbpf-pc-${process.pid}`;
  const host = `tp${process.pid}h`;
  const peer = `tp${process.pid}n`;
  const net = `10.214.${(process.pid % 250) + 1}`;
  before(() => {
    ip("netns", "add", ns);
    ip("link", "add", host, "type", "veth", "peer", "name", peer);
    ip("link", "set", peer, "netns", ns);
    setSysctl(`net.ipv6.conf.${host}.disable_ipv6`, "1");
    setSysctl(`net.ipv4.conf.${host}.forwarding`, "0");
    setSysctl(`net.ipv6.conf.${peer}.disable_ipv6`, "1", ns);
    ip("-n", ns, "addr", "add", `${net}.1/24`, "dev", peer);
    ip("-n", ns, "link", "set", peer, "up");
    ip("link", "set", host, "up");
    const mac = readFileSync(`/sys/class/net/${host}/address`, "utf8").trim();
    ip("-n", ns, "neigh", "add", `${net}.2`, "lladdr", mac, "dev", peer);
  });
  after(() => {
    spawnSync("ip", ["netns", "del", ns]);
    if (existsSync(`/sys/class/net/${host}`)) spawnSync("ip", ["link", "del", host]);
  });

  it("a socket filter's and an XDP program's records arrive with the packet's bytes after them", async () => {
    const b = await BPF.load({
      text: `
#include <linux/bpf.h>
struct meta { u32 len; u32 from_xdp; };
BPF_PERF_OUTPUT(pkts);
int capture_skb(struct __sk_buff *skb)
{
    if (load_half(skb, 12) != ETH_P_IP ||
        load_byte(skb, ETH_HLEN + offsetof(struct iphdr, protocol)) != IPPROTO_ICMP)
        return 0;
    struct meta m = { .len = skb->len, .from_xdp = 0 };
    pkts.perf_submit_skb(skb, skb->len, &m, sizeof(m));
    return 0;
}
int capture_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *iph = (void *)(eth + 1);
    if ((void *)(iph + 1) > end || iph->protocol != IPPROTO_ICMP)
        return XDP_PASS;
    struct meta m = { .len = end - data, .from_xdp = 1 };
    pkts.perf_submit_skb(ctx, m.len, &m, sizeof(m));
    return XDP_PASS;
}`,
    });
    try {
      const pkts = b.getTable<PerfEventArray>("pkts");
      const got: Array<{ meta: { len: number; from_xdp: number }; packet: Buffer }> = [];
      pkts.openPerfBuffer((_cpu, data, size) => {
        const meta = pkts.event(data) as { len: number; from_xdp: number };
        assert.ok(size >= 8 + meta.len, `record of ${size} bytes holds the ${meta.len}-byte packet`);
        got.push({ meta, packet: Buffer.from(data.subarray(8, 8 + meta.len)) });
      });
      b.attachRawSocket("capture_skb", host);
      b.attachXdp(host, "capture_xdp", BPF.XDP_FLAGS_SKB_MODE);
      sendIcmp(`${net}.2`, 2, ns);
      assert.ok(await waitFor(() => got.length >= 4, 3000), `${got.length} records`);
      assert.deepEqual(got.map((g) => g.meta.from_xdp).sort(), [0, 0, 1, 1], "two from each program");
      const peerMac = ip("-n", ns, "link", "show", peer).match(/link\/ether ([0-9a-f:]+)/)?.[1];
      for (const { meta, packet } of got) {
        assert.equal(packet.length, meta.len);
        assert.equal(packet.readUInt16BE(12), 0x0800, "an IPv4 Ethernet frame");
        assert.equal(packet.subarray(6, 12).toString("hex"), peerMac?.replace(/:/g, ""), "sent by the peer");
        assert.equal(packet[14 + 9], 1, "ICMP");
        assert.equal(packet.subarray(14 + 12, 14 + 16).join("."), `${net}.1`, "from the namespace's address");
        assert.equal(packet.subarray(meta.len - 6).toString(), "tsbpf!", "the echo request's payload");
      }
    } finally {
      b.close();
    }
  });
});

/** The members of a C enum with implicit values in a UAPI header, by name (undefined when the header is missing). */
function uapiEnum(header: string, name: string): Map<string, number> | undefined {
  let text: string;
  try {
    text = readFileSync(`/usr/include/${header}`, "utf8");
  } catch {
    return undefined;
  }
  const body = new RegExp(`enum ${name} \\{([^}]*)\\}`).exec(text)?.[1] ?? "";
  const out = new Map<string, number>();
  let next = 0;
  for (const raw of body.replace(/\/\*[\s\S]*?\*\//g, "").split(",")) {
    const m = /^\s*(\w+)\s*(?:=\s*(.+?))?\s*$/.exec(raw);
    if (!m) continue;
    const shift = m[2] === undefined ? undefined : /^1U? << (\d+)$/.exec(m[2]);
    const value = m[2] === undefined ? next : shift ? 1 << Number(shift[1]) : Number(m[2]);
    if (Number.isNaN(value)) continue;
    out.set(m[1] as string, value);
    next = value + 1;
  }
  return out;
}

describe("bcc Python API items, from JS", { skip: skipUnlessRoot }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });

  it("PerfEventSampleFormat, BPFProgType, XDPFlags and BPF.XDP_FLAGS_* have the kernel's UAPI values", async () => {
    const sample = uapiEnum("linux/perf_event.h", "perf_event_sample_format");
    const prog = uapiEnum("linux/bpf.h", "bpf_prog_type");
    if (!sample || !prog) return;
    let compared = 0;
    for (const [k, v] of Object.entries(PerfEventSampleFormat)) {
      const want = sample.get(`PERF_SAMPLE_${k}`);
      if (want === undefined) continue;
      assert.equal(v, want, `PerfEventSampleFormat.${k}`);
      compared++;
    }
    assert.ok(compared >= 20, `${compared} sample formats compared`);
    compared = 0;
    for (const [k, v] of Object.entries(BPFProgType)) {
      const want = prog.get(`BPF_PROG_TYPE_${k}`);
      if (want === undefined) continue;
      assert.equal(v, want, `BPFProgType.${k}`);
      compared++;
    }
    assert.ok(compared >= 30, `${compared} program types compared`);
    assert.equal(BPF.SOCKET_FILTER, BPFProgType.SOCKET_FILTER);
    assert.equal(BPF.XDP, BPFProgType.XDP);
    const ifLink = readFileSync("/usr/include/linux/if_link.h", "utf8");
    for (const [k, v] of Object.entries(XDPFlags)) {
      const shift = new RegExp(`#define XDP_FLAGS_${k}\\s+\\(1U << (\\d+)\\)`).exec(ifLink)?.[1];
      assert.equal(v, 1 << Number(shift), `XDPFlags.${k}`);
      assert.equal((BPF as unknown as Record<string, number>)[`XDP_FLAGS_${k}`], v, `BPF.XDP_FLAGS_${k}`);
    }
    // The object's values load programs: a socket filter by BPFProgType.
    await using b = await BPF.load({ text: "int keep(struct __sk_buff *skb) { return -1; }" });
    assert.equal(b.loadFunc("keep", BPFProgType.SOCKET_FILTER).type, BPFProgType.SOCKET_FILTER);
  });

  it("BPF.load({ srcFile }): the program read from a file; compile errors name the file and line", async () => {
    const dir = testTempDir("tsbpf-srcfile");
    const file = join(dir, "prog.c");
    writeFileSync(
      file,
      `BPF_ARRAY(calls, u64, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    if ((bpf_get_current_pid_tgid() >> 32) == TARGET)
        calls.increment(0);
    return 0;
}
`,
    );
    const b = await BPF.load({ srcFile: file, cflags: [`-DTARGET=${process.pid}`] });
    open.push(b);
    getppidLoop(3);
    assert.equal(b.getTable("calls").get(0), 3n);
    const bad = join(dir, "bad.c");
    writeFileSync(bad, "int f(void *ctx)\n{\n    return undeclared_thing;\n}\n");
    await assert.rejects(BPF.load({ srcFile: bad }), (err: unknown) => {
      assert.ok(err instanceof CompileError);
      const d = err.diagnostics[0];
      assert.deepEqual([d?.file, d?.line, d?.severity], [bad, 3, "error"]);
      assert.match(err.message, /undeclared_thing/);
      return true;
    });
  });

  it("Table.insert fails on a key that is there, Table.update overwrites; BPF reads what JS wrote", async () => {
    const b = await BPF.load({
      text: `
BPF_HASH(h, u32, u64, 4);
BPF_ARRAY(out, u64, 2);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    u32 k1 = 1, k2 = 2, i0 = 0, i1 = 1;
    u64 *v = h.lookup(&k1);
    if (v)
        out.update(&i0, v);
    v = h.lookup(&k2);
    if (v)
        out.update(&i1, v);
    return 0;
}`,
      cflags: [`-DTARGET=${process.pid}`],
    });
    open.push(b);
    const h = b.getTable<HashTable<number, bigint>>("h");
    h.insert(1, 10n);
    assert.throws(
      () => h.insert(1, 11n),
      (err: unknown) => err instanceof BpfError && err.errno === 17 /* EEXIST */,
    );
    assert.equal(h.get(1), 10n, "insert left the value as it was");
    h.update(1, 12n);
    h.update(2, 20n);
    getppidLoop(1);
    const out = b.getTable<ArrayTable<bigint>>("out");
    assert.deepEqual([out.get(0), out.get(1)], [12n, 20n]);
  });

  it("StackTrace.clear() deletes every stack id (bcc's does nothing): walk then finds none", async () => {
    const b = await BPF.load({
      text: `
BPF_STACK_TRACE(stacks, 16);
BPF_HASH(ids, u32, int);
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    int id = stacks.get_stackid(ctx, 0);
    ids.update(&pid, &id);
    return 0;
}`,
    });
    open.push(b);
    b.attachRawTracepoint({ tp: "sched_process_exec", fnName: "on_exec" });
    const pid = runChild();
    const id = b.getTable<HashTable<number, number>>("ids").get(pid);
    assert.ok(id !== undefined && id >= 0, `stack id ${id}`);
    const stacks = b.getTable<StackTrace>("stacks");
    assert.ok(stacks.walk(id).length > 2);
    assert.ok([...stacks.keys()].includes(id));
    // (attached, any exec on the machine would store a new stack between clear() and keys())
    b.detachRawTracepoint({ tp: "sched_process_exec" });
    stacks.clear();
    assert.deepEqual([...stacks.keys()], []);
    assert.deepEqual(stacks.walk(id), []);
  });

  it("traceFieldsOnce() gives the next trace_pipe line, parsed", async () => {
    const b = await BPF.load({
      text: `
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    if ((bpf_get_current_pid_tgid() >> 32) == TARGET)
        bpf_trace_printk("parity once %d", 42);
    return 0;
}`,
      cflags: [`-DTARGET=${process.pid}`],
    });
    open.push(b);
    while (b.traceFieldsNonBlocking() !== undefined);
    getppidLoop(1);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 5000);
    let line: TraceLine | undefined;
    try {
      // trace_pipe is the machine's: skip lines other processes' programs wrote.
      for (let i = 0; i < 1000; i++) {
        line = await b.traceFieldsOnce(ac.signal);
        if (line === undefined || (line.pid === process.pid && line.msg.startsWith("parity once"))) break;
      }
    } finally {
      clearTimeout(timer);
    }
    assert.ok(line !== undefined, "a line arrived");
    assert.equal(line.pid, process.pid);
    assert.equal(line.msg, "parity once 42");
    assert.equal(typeof line.ts, "number");
  });

  it("attachPerfEvent's groupFd puts the sampling event in a group whose leader the caller opened", async () => {
    const { openPerfEvents } = await import("../../src/attach/perf_event.js");
    const { native } = await import("../../src/native.js");
    const [leader] = openPerfEvents({ evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.CPU_CLOCK }, [0]);
    assert.ok(leader !== undefined && leader > 0);
    const b = await BPF.load({
      text: `
BPF_ARRAY(samples, u64, 1);
int on_sample(struct bpf_perf_event_data *ctx)
{
    samples.increment(0);
    return 0;
}`,
    });
    try {
      b.attachPerfEvent({
        evType: PerfType.SOFTWARE,
        evConfig: PerfSWConfig.CPU_CLOCK,
        fnName: "on_sample",
        sampleFreq: 99,
        cpu: 0,
        groupFd: leader,
      });
      assert.ok(
        await waitFor(() => ((b.getTable("samples").get(0) as bigint | undefined) ?? 0n) > 0n, 3000),
        "samples in the group",
      );
      b.detachPerfEvent({ evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.CPU_CLOCK });
      // The group is scheduled as one: under a task-clock leader (which never runs
      // CPU-wide) the CPU-clock member never samples. And a descriptor that is not a
      // perf event: EBADF. Either way the groupFd reached perf_event_open.
      const [taskLeader] = openPerfEvents(
        { evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.TASK_CLOCK },
        [0],
      );
      b.getTable<ArrayTable<bigint>>("samples").set(0, 0n);
      b.attachPerfEvent({
        evType: PerfType.SOFTWARE,
        evConfig: PerfSWConfig.CPU_CLOCK,
        fnName: "on_sample",
        sampleFreq: 99,
        cpu: 0,
        groupFd: taskLeader,
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(b.getTable("samples").get(0), 0n, "no samples while the group cannot run");
      b.detachPerfEvent({ evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.CPU_CLOCK });
      native().closeFd(taskLeader as number);
      const devNull = openSync("/dev/null", "r");
      try {
        assert.throws(
          () =>
            b.attachPerfEvent({
              evType: PerfType.SOFTWARE,
              evConfig: PerfSWConfig.CPU_CLOCK,
              fnName: "on_sample",
              sampleFreq: 99,
              cpu: 0,
              groupFd: devNull,
            }),
          (err: unknown) => err instanceof BpfError && err.errno === 9 /* EBADF */,
        );
      } finally {
        closeSync(devNull);
      }
    } finally {
      b.close();
      native().closeFd(leader);
    }
  });
});
