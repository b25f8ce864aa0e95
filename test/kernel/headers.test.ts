/**
 * bcc programs as users write them, against the real kernel: kernel macros,
 * inline helpers and field aliases that kernel headers give and BTF lacks
 * (each value checked where the program computed it: in the kernel), private
 * kernel structs, a function per #if branch, text in Japanese with CRLF and
 * tabs, lookup_or_init, and the errors that name what this kernel lacks.
 * @kernel-matrix the macros' values come from the running kernel (BTF, version, configuration), and 6.1's differ.
 */
import assert from "node:assert/strict";
import { createServer, type Server, connect as tcpConnect } from "node:net";
import { after, describe, it } from "node:test";
import type { BtfArray, BtfComposite, BtfEnum } from "../../src/btf/btf.js";
import { type ArrayTable, AttachError, BPF, CompileError, type HashTable } from "../../src/index.js";
import { kernelBtf } from "../../src/kernel/kernel_btf.js";
import { execTargeted, skipUnlessRoot, waitFor } from "../helpers.js";

/** What the program stores, slot by slot: the expression and its expected value. */
const VALUES: Array<[string, () => bigint | ((v: bigint) => boolean)]> = [
  ["NAME_MAX", () => 255n],
  ["PATH_MAX", () => 4096n],
  ["S_ISREG(0100644)", () => 1n],
  ["S_ISSOCK(0140777) && !S_ISREG(0140777)", () => 1n],
  ["O_CREAT | O_TRUNC", () => 0o1100n],
  ["ETH_P_IPV6", () => 0x86ddn],
  ["AF_INET6", () => 10n],
  ["SCM_RIGHTS", () => 1n],
  ["FMODE_CREATED", () => 0x100000n],
  ["DNAME_INLINE_LEN", () => dentryNameLength()],
  ["DISK_NAME_LEN", () => arrayLength("gendisk", "disk_name")],
  ["REQ_OP_MASK", () => (1n << requestFlagBit("__REQ_FAILFAST_DEV")) - 1n],
  ["REQ_SYNC", () => 1n << requestFlagBit("__REQ_SYNC")],
  ["TASK_COMM_LEN", () => arrayLength("task_struct", "comm")],
  ["min(3, 7) + max(3, 7)", () => 10n],
  ["min_t(u32, 9, 4)", () => 4n],
  ["clamp(42, 0, 10)", () => 10n],
  ["div_u64(5000000000ULL, NSEC_PER_MSEC)", () => 5000n],
  ["MAJOR(MKDEV(8, 17)) * 1000 + MINOR(MKDEV(8, 17))", () => 8017n],
  ["BIT(5) | GENMASK(3, 1)", () => 0b101110n],
  ["PAGE_SIZE", () => 4096n],
  // The direct map's start: a kernel address, 1 GiB aligned (KASLR moves it in 1 GiB steps).
  ["PAGE_OFFSET", () => (v: bigint) => v >= 0xff00000000000000n && v % (1n << 30n) === 0n],
  ["IS_ENABLED(CONFIG_BPF_SYSCALL)", () => 1n],
  ["bpf_ntohll(0x0102030405060708ULL)", () => 0x0807060504030201n],
];

function member(struct: string, name: string): number {
  const btf = kernelBtf();
  const id = btf.findByName(struct, "STRUCT") as number;
  const m = (btf.type(id) as BtfComposite).members.find((x) => x.name === name);
  assert.ok(m, `struct ${struct} has ${name}`);
  return btf.resolve(m.type);
}

function arrayLength(struct: string, name: string): bigint {
  return BigInt((kernelBtf().type(member(struct, name)) as BtfArray).nelems);
}

/** dentry.d_iname's length; a union d_shortname of the same size since 6.14. */
function dentryNameLength(): bigint {
  const btf = kernelBtf();
  const d = (btf.type(btf.findByName("dentry", "STRUCT") as number) as BtfComposite).members;
  if (d.some((m) => m.name === "d_iname")) return arrayLength("dentry", "d_iname");
  return BigInt((btf.type(member("dentry", "d_shortname")) as BtfComposite).size);
}

function requestFlagBit(name: string): bigint {
  const btf = kernelBtf();
  const e = btf.type(btf.findByName("req_flag_bits", "ENUM") as number) as BtfEnum;
  return BigInt(e.values.find((v) => v.name === name)?.value as number);
}

describe("kernel headers without kernel headers", { skip: skipUnlessRoot }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });
  const load = async (text: string, cflags: string[] = []): Promise<BPF> => {
    const b = await BPF.load({ text, cflags });
    open.push(b);
    return b;
  };

  it("macros from UAPI headers, kernel-internal shims, this kernel's BTF and configuration: the values the program computes", async () => {
    const b = await load(`
#include <linux/sched.h>
#include <linux/fs.h>
#include <linux/blkdev.h>
#include <linux/dcache.h>
#include <linux/socket.h>
#include <linux/kdev_t.h>
BPF_ARRAY(target, u32, 1);
BPF_ARRAY(out, u64, ${VALUES.length});
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    if (!t || *t != (bpf_get_current_pid_tgid() >> 32))
        return 0;
${VALUES.map(([expr], i) => `    { int k = ${i}; u64 v = (u64)(${expr}); out.update(&k, &v); }`).join("\n")}
    return 0;
}`);
    await execTargeted((pid) => b.getTable<ArrayTable<number>>("target").set(0, pid));
    const out = b.getTable<ArrayTable<bigint>>("out");
    VALUES.forEach(([expr, expected], i) => {
      const got = out.get(i) as bigint;
      const want = expected();
      if (typeof want === "function") assert.ok(want(got), `${expr} = 0x${got.toString(16)}`);
      else assert.equal(got, want, expr);
    });
  });

  it("struct sock aliases, inet_sk()/tcp_sk() and sk_fullsock on a TCP connect of ours", async () => {
    const server: Server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const b = await load(
        `
#include <net/sock.h>
#include <net/inet_sock.h>
#include <linux/tcp.h>
struct seen_t { u16 dport; u16 family; u32 daddr; u32 state; u32 old; u32 full; u32 mss; };
BPF_HASH(seen, u32, struct seen_t);
TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    struct sock *sk = (struct sock *)args->skaddr;
    u16 dport = inet_sk(sk)->inet_dport;
    if (args->protocol != IPPROTO_TCP || ntohs(dport) != PORT)
        return 0;
    struct seen_t s = {};
    s.dport = ntohs(dport);
    s.family = sk->sk_family;
    s.daddr = inet_sk(sk)->inet_daddr;
    s.state = sk->sk_state;
    s.old = args->oldstate;
    s.full = sk_fullsock(sk) ? 1 : 0;
    s.mss = tcp_sk(sk)->mss_cache;
    u32 key = args->newstate;
    seen.update(&key, &s);
    return 0;
}`,
        [`-DPORT=${port}`],
      );
      const c = tcpConnect(port, "127.0.0.1");
      await new Promise<void>((r) => c.on("connect", () => r()));
      c.destroy();
      const seen = b.getTable<HashTable<number, Record<string, number>>>("seen");
      const TCP_SYN_SENT = 2;
      assert.ok(
        await waitFor(() => seen.get(TCP_SYN_SENT) !== undefined, 5000),
        "saw the SYN_SENT transition",
      );
      const s = seen.get(TCP_SYN_SENT) as Record<string, number>;
      assert.equal(s.dport, port, "inet_sk(sk)->inet_dport");
      assert.equal(s.family, 2, "sk->sk_family is AF_INET");
      assert.equal(s.daddr, 0x0100007f, "inet_daddr is 127.0.0.1 in network order");
      assert.equal(s.state, s.old, "sk->sk_state is the state the socket leaves");
      assert.equal(s.full, 1, "a connecting socket is a full socket");
      assert.ok((s.mss as number) > 0, "tcp_sk(sk)->mss_cache");
    } finally {
      server.close();
    }
  });

  it("a struct the program declares itself replaces the kernel's (mountsnoop's mnt_namespace), read through CO-RE", async () => {
    const b = await load(`
#include <linux/nsproxy.h>
#include <linux/ns_common.h>
struct mnt_namespace {
    struct ns_common ns;
};
BPF_ARRAY(target, u32, 1);
BPF_ARRAY(inum, u32, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    if (!t || *t != (bpf_get_current_pid_tgid() >> 32))
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    u32 n = task->nsproxy->mnt_ns->ns.inum;
    inum.update(&zero, &n);
    return 0;
}`);
    await execTargeted((pid) => b.getTable<ArrayTable<number>>("target").set(0, pid));
    const { readlinkSync } = await import("node:fs");
    const own = Number(/mnt:\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/mnt"))?.[1]);
    assert.equal(b.getTable<ArrayTable<number>>("inum").get(0), own, "the mount namespace's inode number");
  });

  it("one function per #if branch, and a function opened in each branch and closed after #endif", async () => {
    const b = await load(`
BPF_ARRAY(hits, u64, 2);
#ifdef USE_EXIT
TRACEPOINT_PROBE(raw_syscalls, sys_exit) { int k = 1; hits.increment(k); return 0; }
#else
TRACEPOINT_PROBE(raw_syscalls, sys_enter) { int k = 0; hits.increment(k); return 0; }
#endif
#if defined(CONFIG_ARCH_HAS_SYSCALL_WRAPPER)
int opened(struct pt_regs *ctx)
{
    int which = 0;
#else
int opened(struct pt_regs *ctx)
{
    int which = 1;
#endif
    return which;
}`);
    assert.deepEqual(b.compiled.programs.map((p) => p.name).sort(), [
      "opened",
      "tracepoint__raw_syscalls__sys_enter",
    ]);
    assert.ok(await waitFor(() => (b.getTable<ArrayTable<bigint>>("hits").get(0) ?? 0n) > 0n));
    assert.equal(b.getTable<ArrayTable<bigint>>("hits").get(1), 0n);
  });

  it("text as users write it: Japanese comments, an emoji, CRLF line ends and tabs, through the implicit kernel reads", async () => {
    const src = [
      "// 次のタスクの tgid を読む（日本語のコメント）😀",
      "#include <linux/sched.h>",
      "BPF_HASH(stats, u32, u64);",
      "BPF_ARRAY(tgid_of_next, u32, 1);",
      "/* 統計: タスクごとの切り替え回数 — café */",
      "RAW_TRACEPOINT_PROBE(sched_switch)",
      "{",
      "\t// 引数 2 は次のタスク",
      "\tstruct task_struct *next = (struct task_struct *)ctx->args[2];",
      "\tu32 next_tgid = 0;",
      "\tbpf_probe_read(&next_tgid, sizeof(next->tgid), &next->tgid);",
      "\tu32 key = next->tgid; // 暗黙の読み取り 🚀",
      "\tu64 zero = 0, *v = stats.lookup_or_try_init(&key, &zero);",
      "\tif (v) { (*v)++; }",
      "\tint k = 0;",
      "\tif (next_tgid == key) tgid_of_next.update(&k, &next_tgid);",
      "\treturn 0;",
      "}",
      "",
    ].join("\r\n");
    const b = await load(src);
    assert.ok(await waitFor(() => (b.getTable<ArrayTable<number>>("tgid_of_next").get(0) ?? 0) > 0));
    assert.ok(b.getTable<HashTable<number, bigint>>("stats").size > 0);
  });

  it("a compile error after Japanese text points at the user's line and character column", async () => {
    await assert.rejects(
      BPF.load({ text: "// コメント\r\nint f(void *ctx) {\r\n\t/* 日本 */ return nope;\r\n}\r\n" }),
      (err: unknown) =>
        err instanceof CompileError &&
        err.diagnostics[0]?.line === 3 &&
        err.diagnostics[0]?.column === "\t/* 日本 */ return ".length + 1 &&
        /use of undeclared identifier 'nope'/.test(err.message),
    );
  });

  it("lookup_or_init returns from the program when the entry cannot be made, so its value needs no check", async () => {
    const b = await load(`
BPF_HASH(counts, u32, u64, 1);
BPF_ARRAY(target, u32, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    if (!t || *t != (bpf_get_current_pid_tgid() >> 32))
        return 0;
    u64 init = 0;
    u32 a = 1, b = 2;
    u64 *va = counts.lookup_or_init(&a, &init);
    *va += 1;
    u64 *vb = counts.lookup_or_init(&b, &init); /* the map holds one entry: returns here */
    *vb += 100;
    return 0;
}`);
    await execTargeted((pid) => b.getTable<ArrayTable<number>>("target").set(0, pid));
    const counts = b.getTable<HashTable<number, bigint>>("counts");
    assert.equal(counts.get(1), 1n);
    assert.equal(counts.get(2), undefined);
  });

  it("kernel drift named: a renamed member, a struct this kernel lacks, a missing tracepoint", async () => {
    await assert.rejects(
      BPF.load({
        text: "int f(void *ctx) { struct task_struct *t = (void *)bpf_get_current_task(); return t->stat; }",
      }),
      (err: unknown) =>
        err instanceof CompileError &&
        /this kernel's struct task_struct has no member stat .*its closest are: .*stats/.test(err.message),
    );
    await assert.rejects(
      BPF.load({ text: "int f(void *ctx) { struct tsbpf_no_such_struct *p = 0; return p->x; }" }),
      (err: unknown) =>
        err instanceof CompileError &&
        /this kernel's BTF has no struct tsbpf_no_such_struct/.test(err.message),
    );
    await assert.rejects(
      BPF.load({ text: "TRACEPOINT_PROBE(random, urandom_read) { return 0; }" }),
      (err: unknown) =>
        err instanceof CompileError &&
        /tracepoint random:urandom_read does not exist on this kernel/.test(err.message),
    );
  });

  it("a raw tracepoint program that reads more ctx->args[] than the tracepoint has: an AttachError saying so", async () => {
    const c = await BPF.load({
      text: "int reads_many(struct bpf_raw_tracepoint_args *ctx) { return ctx->args[9] != 0; }",
      autoAttach: false,
    });
    open.push(c);
    assert.throws(
      () => c.attachRawTracepoint({ tp: "sched_switch", fnName: "reads_many" }),
      (err: unknown) =>
        err instanceof AttachError &&
        /reads_many reads ctx->args\[9\], but sched_switch passes \d arguments on this kernel \(args\[0\]: bool/.test(
          err.message,
        ),
    );
  });
});
