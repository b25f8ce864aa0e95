/**
 * bcc's implicit kernel-memory reads: the AST pass on small programs. Each
 * program goes through the bcc rewriter, the pass (clang's AST against a
 * vmlinux.h subset of this kernel), and then a real compile of the result.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { findClang, runClang } from "../../src/compile/clang.js";
import { HEADERS_DIR } from "../../src/compile/compile.js";
import {
  filtersFor,
  needsImplicitReads,
  rewriteImplicitReads,
} from "../../src/compile/implicit_reads/index.js";
import { subsetVmlinuxHeader } from "../../src/compile/kernel_types.js";
import { rewriteBcc } from "../../src/compile/rewriter.js";
import { targetArch } from "../../src/kernel/kernel_info.js";

const skip: string | false = !existsSync("/sys/kernel/btf/vmlinux")
  ? "needs the kernel's BTF (/sys/kernel/btf/vmlinux)"
  : (() => {
      try {
        findClang();
        return false;
      } catch {
        return "needs clang";
      }
    })();

interface Passed {
  /** The rewriter's output (the pass's input). */
  translated: string;
  code: string;
  rewrites: number;
  skipped: boolean;
  notes: string[];
  /** clang's diagnostics when the rewritten text did not compile. */
  compileErrors: string | undefined;
}

/** rewriteBcc, the implicit-reads pass, then a compile of what it produced. */
async function pass(text: string): Promise<Passed> {
  const clang = findClang();
  const rw = rewriteBcc(text, "t.c");
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ir-"));
  try {
    const gen = join(dir, "gen.h");
    writeFileSync(gen, '#define KBUILD_MODNAME "t"\n#include "tsbpf/prelude.h"\n');
    mkdirSync(join(dir, "kernel"));
    writeFileSync(
      join(dir, "kernel", "vmlinux.h"),
      subsetVmlinuxHeader([rw.code, readFileSync(gen, "utf8")], HEADERS_DIR, rw.definedNames).header,
    );
    const args = [
      "-target",
      "bpf",
      "-O2",
      "-g",
      `-D__TARGET_ARCH_${targetArch()}`,
      "-D__BPF_TRACING__",
      "-Wno-unused-value",
      "-Wno-pointer-sign",
      "-Wno-compare-distinct-pointer-types",
      "-Wno-incompatible-pointer-types-discards-qualifiers",
      `-I${HEADERS_DIR}`,
      `-I${join(dir, "kernel")}`,
      "-include",
      gen,
    ];
    const srcPath = join(dir, "t.c");
    writeFileSync(srcPath, rw.code);
    const r = await rewriteImplicitReads({
      translated: rw.code,
      clang,
      clangArgs: args,
      fileName: "t.c",
      programs: rw.programs,
      srcPath,
    });
    assert.equal(r.error, undefined, r.error);
    writeFileSync(srcPath, r.code);
    const c = await runClang(clang, [...args, "-c", srcPath, "-o", join(dir, "t.o")]);
    return {
      translated: rw.code,
      code: r.code,
      rewrites: r.rewrites,
      skipped: r.skipped,
      notes: r.notes,
      compileErrors: c.code === 0 ? undefined : c.stderr,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Line n (1-based) of a text. */
const line = (text: string, n: number): string => text.split("\n")[n - 1] ?? "";
/** 1-based number of the first line containing `needle` in the user's source. */
const lineOf = (text: string, needle: string): number =>
  text.split("\n").findIndex((l) => l.includes(needle)) + 1;
const reads = (s: string): number => s.split("bpf_probe_read_kernel(").length - 1;

/** The same lines; the changed ones hold probe reads (or are the emptied tail of a multi-line read). */
function assertLinesKept(p: Passed): void {
  const a = p.translated.split("\n");
  const b = p.code.split("\n");
  assert.equal(b.length, a.length, "line count changed");
  a.forEach((l, i) => {
    if (b[i] !== l && !l.endsWith(b[i] as string))
      assert.match(b[i] as string, /bpf_probe_read_kernel|BPF_CORE_READ_BITFIELD_PROBED/);
  });
}

function assertCompiles(p: Passed): void {
  assert.equal(p.compileErrors, undefined, `${p.compileErrors}\n--- code:\n${p.code}`);
}

const TASK = "struct task_struct *t = (struct task_struct *)bpf_get_current_task();";

describe("implicit kernel reads", { skip }, () => {
  it("reads a deep chain through bpf_get_current_task() one pointer at a time", async () => {
    const src = `#include <linux/sched.h>
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    ${TASK}
    u32 v = t->real_parent->real_parent->tgid;
    return v;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    const l = line(p.code, lineOf(src, "u32 v ="));
    assert.equal(reads(l), 3);
    assert.equal(p.rewrites, 3);
    assert.match(l, /typeof\(0, t -> real_parent -> real_parent -> tgid\)/);
    assert.match(l, /\(&\(t\)->real_parent\)/);
    assert.equal(line(p.code, lineOf(src, TASK)), line(p.translated, lineOf(src, TASK)));
  });

  it("reads fields of embedded structs and anonymous unions on declared probe arguments", async () => {
    const src = `#include <net/sock.h>
int kprobe__tcp_v4_connect(struct pt_regs *ctx, struct sock *sk)
{
    u16 dport = sk->__sk_common.skc_dport;
    u32 daddr = sk->__sk_common.skc_daddr;
    return dport + daddr;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.equal(p.rewrites, 2);
    // skc_dport is in an anonymous struct in an anonymous union of sock_common: reached by name.
    assert.match(line(p.code, 4), /\(&\(&\(sk\)->__sk_common\)->skc_dport\)/);
    assert.match(line(p.code, 5), /\(&\(&\(sk\)->__sk_common\)->skc_daddr\)/);
  });

  it("leaves an array member that decays as an address and reads its elements", async () => {
    const src = `#include <linux/sched.h>
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    ${TASK}
    bpf_trace_printk("%s", t->comm);
    char c = t->comm[0];
    u32 nr = t->thread_pid->numbers[0].nr;
    return c + nr;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.equal(reads(line(p.code, 5)), 0, "t->comm decays to a pointer: no read");
    assert.match(line(p.code, 6), /\(&\(t->comm\)\[0\]\)/);
    assert.equal(reads(line(p.code, 7)), 2, "thread_pid, then numbers[0].nr");
    assert.match(line(p.code, 7), /->numbers\)\[0\]\)->nr\)/);
  });

  it("follows pointers stored in a map and loaded back", async () => {
    const src = `#include <linux/sched.h>
BPF_HASH(saved, u32, struct task_struct *);
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    u32 k = 0;
    ${TASK}
    saved.update(&k, &t);
    struct task_struct **back = saved.lookup(&k);
    if (!back)
        return 0;
    struct task_struct *again = *back;
    return (*back)->real_parent->tgid + again->pid;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.equal(line(p.code, 11), line(p.translated, 11), "*back is the map's memory: not a probe read");
    assert.equal(reads(line(p.code, 12)), 3);
    assert.match(line(p.code, 12), /\(&\(\(\*back\)\)->real_parent\)/);
  });

  it("reads through a cast of bpf_get_current_task() and a raw tracepoint's ctx->args", async () => {
    const src = `#include <linux/sched.h>
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    u32 a = ((struct task_struct *)bpf_get_current_task())->pid;
    struct task_struct *p = (struct task_struct *)ctx->args[0];
    u64 arg0 = ctx->args[0];
    return a + p->tgid + arg0;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.equal(reads(line(p.code, 4)), 1);
    assert.equal(line(p.code, 5), line(p.translated, 5), "ctx->args[0] is the program's context");
    assert.equal(line(p.code, 6), line(p.translated, 6));
    assert.equal(reads(line(p.code, 7)), 1);
  });

  it("rewrites macros that expand to a dereference at their call site, and reports one it would cut", async () => {
    const src = `#include <linux/sched.h>
#define PARENT(t) ((t)->real_parent)
#define PID_OF(t) t->pid
#define MAXV(a, b) ((a) > (b) ? (a) : (b))
#define CUT(t) (t)->real_parent->tgid + 0
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    ${TASK}
    u32 a = PARENT(t)->tgid;
    u32 b = PID_OF(PARENT(t));
    u32 c = MAXV(t->pid, 0);
    u32 d = CUT(t);
    return a + b + c + d;
}`;
    const p = await pass(src);
    assertLinesKept(p);
    assert.match(line(p.code, 9), /typeof\(0, PARENT \( t \) -> tgid\)/);
    assert.match(line(p.code, 9), /typeof\(0, PARENT \( t \)\)/);
    assert.equal(reads(line(p.code, 9)), 2);
    assert.equal(reads(line(p.code, 11)), 1);
    assert.match(
      line(p.code, 11),
      /^ {4}u32 c = MAXV\(\(\{ typeof\(0, t -> pid\)/,
      "the macro argument is rewritten",
    );
    assert.equal(line(p.code, 12), line(p.translated, 12), "a read inside CUT's body is left as written");
    assert.ok(
      p.notes.some((n) => n.startsWith("t.c:12:")),
      `a note for line 12 in ${JSON.stringify(p.notes)}`,
    );
    // PID_OF(PARENT(t)): the outer read is a whole expansion, the inner one a nested macro.
    assert.ok(reads(line(p.code, 10)) >= 1 || p.notes.some((n) => n.startsWith("t.c:10:")));
    // Line 12 still dereferences t->real_parent directly: clang compiles it (the verifier would refuse).
    assertCompiles(p);
  });

  it("rewrites reads in bpf_trace_printk arguments, conditions and libbpf macro arguments", async () => {
    const src = `#include <net/sock.h>
int kprobe__tcp_v4_connect(struct pt_regs *ctx, struct sock *sk)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    if (t->pid > 1 && sk->__sk_common.skc_family == 2)
        bpf_trace_printk("%d %d\\n", t->tgid, bpf_ntohs(sk->__sk_common.skc_dport));
    return 0;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.equal(reads(line(p.code, 5)), 2);
    assert.equal(reads(line(p.code, 6)), 2);
    assert.match(line(p.code, 6), /bpf_ntohs\(\(\{ typeof/);
  });

  it("leaves address-of, sizeof and the addresses explicit reads are given as written", async () => {
    const src = `#include <linux/sched.h>
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    ${TASK}
    void *mm = &t->mm;
    void *pmm = &t->real_parent->mm;
    u32 x = 0;
    bpf_probe_read_kernel(&x, sizeof(x), &t->pid);
    u32 y = BPF_CORE_READ(t, real_parent, pid);
    bpf_core_read(&y, sizeof(y), &t->real_parent);
    bpf_probe_read_kernel(&x, sizeof(x), &t->real_parent->pid);
    bpf_probe_read(&x, sizeof(x), &t->real_parent->pid);
    return sizeof(t->pid) + x + y + (mm != 0) + (pmm != 0);
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.equal(line(p.code, 5), line(p.translated, 5));
    assert.equal(reads(line(p.code, 6)), 1, "&X->mm: only the pointer X is read");
    assert.match(line(p.code, 6), /void \*pmm = &\(\{ typeof/);
    for (const n of [8, 9, 10, 13]) assert.equal(line(p.code, n), line(p.translated, n), `line ${n}`);
    // The kernel pointer an explicit read's address is computed from is loaded (bcc does the same)...
    assert.match(
      line(p.code, 11),
      /^ {4}bpf_probe_read_kernel\(&x, sizeof\(x\), &\(\{ typeof\(0, t -> real_parent\)/,
    );
    assert.equal(reads(line(p.code, 11)), 2);
    // ...except in the source of bcc's generic bpf_probe_read, left exactly as written (bcc's rule).
    assert.equal(line(p.code, 12), "    bpf_probe_read_kernel(&x, sizeof(x), &t->real_parent->pid);");
  });

  it("never reads user pointers implicitly", async () => {
    const src = `#include <linux/sched.h>
int syscall__openat(struct pt_regs *ctx, int dfd, const char *filename)
{
    return filename[0];
}
int kprobe__do_sys_openat2(struct pt_regs *ctx, int dfd, const char __user *filename)
{
    char c = filename[0];
    const char *p = (const char *)PT_REGS_PARM2(ctx);
    char d = 0;
    bpf_probe_read_user(&d, 1, p);
    return c + d + *p;
}`;
    const p = await pass(src);
    assertLinesKept(p);
    assert.equal(p.code, p.translated);
    assert.equal(p.rewrites, 0);
  });

  it("keeps line numbers across a read spanning lines with comments", async () => {
    const src = `#include <linux/sched.h>
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    ${TASK}
    u32 v = t-> /* first */
        real_parent // second
        ->tgid;
    u32 w = 1;
    return v + w;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.equal(reads(line(p.code, 5)), 2);
    assert.equal(line(p.code, 6), "");
    assert.equal(line(p.code, 7), ";", "what followed the read stays on its line");
    assert.equal(line(p.code, 8), "    u32 w = 1;");
  });

  it("maps bcc's bpf_probe_read to bpf_probe_read_kernel for kernel pointers only", async () => {
    const src = `#include <linux/sched.h>
int kprobe__do_sys_openat2(struct pt_regs *ctx, int dfd, const char __user *filename)
{
    ${TASK}
    u32 pid = 0;
    char buf[8];
    bpf_probe_read(&pid, sizeof(pid), &t->pid);
    bpf_probe_read(buf, sizeof(buf), filename);
    bpf_probe_read_str(buf, sizeof(buf), t->comm);
    return pid;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.match(line(p.code, 7), /^ {4}bpf_probe_read_kernel\(&pid, sizeof\(pid\), &t->pid\);$/);
    assert.equal(line(p.code, 8), line(p.translated, 8));
    assert.match(line(p.code, 9), /^ {4}bpf_probe_read_kernel_str\(buf, sizeof\(buf\), t->comm\);$/);
  });

  it("reads bit-fields of kernel structs with a CO-RE bit-field read", async () => {
    const src = `#include <linux/sched.h>
struct own { unsigned int a: 3, b: 5; };
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    ${TASK}
    u32 ie = t->in_execve;
    struct own *o = (struct own *)ctx->args[1];
    return ie + o->b;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.match(line(p.code, 6), /BPF_CORE_READ_BITFIELD_PROBED\(__tsbpf_v\d+p, in_execve\)/);
    assert.equal(line(p.code, 8), line(p.translated, 8), "a bit-field of the program's own struct");
    assert.ok(
      p.notes.some((n) => /^t\.c:8:.*bit-field b/.test(n)),
      JSON.stringify(p.notes),
    );
  });

  it("finds bit-fields inside anonymous members of kernel structs, from the kernel's BTF", async () => {
    // sk_buff's pkt_type sits in an anonymous struct inside an anonymous union (__struct_group, 5.19+).
    const src = `#include <linux/skbuff.h>
typedef struct { unsigned int lo: 4, hi: 4; } own_t;
int on_skb(struct bpf_raw_tracepoint_args *ctx)
{
    struct sk_buff *skb = (struct sk_buff *)ctx->args[0];
    u32 t = skb->pkt_type;
    u32 len = skb->len;
    own_t *o = (own_t *)ctx->args[1];
    return t + len + o->hi;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.match(line(p.code, 6), /BPF_CORE_READ_BITFIELD_PROBED\(__tsbpf_v\d+p, pkt_type\)/);
    assert.match(line(p.code, 7), /bpf_probe_read_kernel\(/);
    assert.doesNotMatch(line(p.code, 7), /BITFIELD/);
    assert.equal(line(p.code, 9), line(p.translated, 9), "a bit-field of the program's own typedef'd struct");
    assert.ok(
      p.notes.some((n) => /^t\.c:9:.*bit-field hi/.test(n)),
      JSON.stringify(p.notes),
    );
  });

  it("follows external pointers into static helpers and out of them", async () => {
    const src = `#include <linux/sched.h>
static __always_inline struct task_struct *parent_of(struct task_struct *x) { return x->real_parent; }
static __always_inline int pid_of(struct task_struct *x) { return x->pid; }
static __always_inline int plain(int *own) { return *own; }
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    ${TASK}
    int n = 1;
    return pid_of(t) + parent_of(t)->tgid + plain(&n);
}
int on_fork(struct bpf_raw_tracepoint_args *ctx) { return 0; }`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.equal(reads(line(p.code, 2)), 1);
    assert.equal(reads(line(p.code, 3)), 1);
    assert.equal(line(p.code, 4), line(p.translated, 4), "a helper given the program's own memory");
    assert.equal(reads(line(p.code, 9)), 1);
  });

  it("finds functions a macro defines (libbpf's BPF_PROG) and leaves their BTF arguments alone", async () => {
    const src = `#include <linux/sched.h>
SEC("fentry/do_exit")
int BPF_PROG(on_exit, struct task_struct *p, long code)
{
    ${TASK}
    return t->real_parent->tgid + p->pid;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.equal(
      reads(line(p.code, 6)),
      2,
      "t->real_parent->tgid only: p is a BTF pointer the verifier reads",
    );
  });

  it("treats pointers in a tracepoint record as external, except syscall arguments", async () => {
    const src = `#include <net/sock.h>
struct tracepoint__sock__inet_sock_set_state { u64 __pad; const void *skaddr; int oldstate; };
struct tracepoint__syscalls__sys_enter_openat { u64 __pad; long nr; long dfd; const char *filename; };
int on_state(struct tracepoint__sock__inet_sock_set_state *args)
{
    struct sock *sk = (struct sock *)args->skaddr;
    return sk->__sk_common.skc_num + args->oldstate;
}
int on_open(struct tracepoint__syscalls__sys_enter_openat *args)
{
    return *(const char *)args->filename;
}`;
    const p = await pass(src);
    assertCompiles(p);
    assertLinesKept(p);
    assert.equal(line(p.code, 6), line(p.translated, 6));
    assert.equal(reads(line(p.code, 7)), 1, "skc_num, not args->oldstate");
    assert.equal(line(p.code, 11), line(p.translated, 11));
  });
});

describe("needsImplicitReads", () => {
  const info = (src: string): [string, ReturnType<typeof rewriteBcc>["programs"]] => {
    const rw = rewriteBcc(src);
    return [rw.code, rw.programs];
  };

  it("skips programs where nothing can point to kernel memory", () => {
    const printkSample = `#include <linux/sched.h>
struct data_t { u32 pid; char comm[TASK_COMM_LEN]; u64 time; };
int syscall__execve(struct pt_regs *ctx)
{
    struct data_t data = {};
    data.time = bpf_ktime_get_ns();
    data.pid = bpf_get_current_pid_tgid();
    bpf_get_current_comm(&data.comm, sizeof(data.comm));
    bpf_trace_printk("start of execve time = %ld , pid = %u, comm = %s\\n", data.time, data.pid, data.comm);
    return 0;
}`;
    assert.equal(needsImplicitReads(...info(printkSample)), false);
    const tp = `TRACEPOINT_PROBE(sched, sched_switch) { bpf_trace_printk("%d", args->prev_pid); return 0; }`;
    assert.equal(needsImplicitReads(...info(tp)), false);
    const user = `int syscall__execve(struct pt_regs *ctx, const char __user *filename) { return 0; }`;
    assert.equal(needsImplicitReads(...info(user)), false);
  });

  it("takes the maps dialect's own casts for none of the program's", () => {
    // A map's address and a lookup's value pointer: what perf_submit, update and lookup become.
    const perf = `struct data_t { u32 pid; char arg[32]; };
BPF_PERF_OUTPUT(events);
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    struct data_t d = {};
    const char *arg = NULL;
    bpf_probe_read_user(&arg, sizeof(arg), &args->argv[1]);
    events.perf_submit(args, &d, sizeof(d));
    return 0;
}`;
    assert.equal(needsImplicitReads(...info(perf)), false);
    const counts = `BPF_HASH(counts, u32, struct val_t);
struct val_t { u64 n; };
TRACEPOINT_PROBE(sched, sched_switch)
{
    u32 k = args->prev_pid;
    struct val_t *v = counts.lookup(&k);
    if (v) v->n++;
    u64 *w = (u64 *)bpf_map_lookup_elem(&counts, &k);
    return 0;
}`;
    assert.equal(needsImplicitReads(...info(counts)), false);
    // The program's own cast next to them still counts.
    const cast = counts.replace("return 0;", "struct sock *sk = (struct sock *)args->prev_pid; return 0;");
    assert.equal(needsImplicitReads(...info(cast)), true);
  });

  it("runs when a tracepoint record's own pointer field is used", () => {
    const src = `TRACEPOINT_PROBE(capability, cap_capable) { bpf_trace_printk("%u", args->cred->uid.val); return 0; }`;
    assert.equal(needsImplicitReads(...info(src), ["cred", "target_ns"]), true);
    assert.equal(needsImplicitReads(...info(src), ["target_ns"]), false);
    assert.equal(needsImplicitReads(...info(src)), false);
  });

  it("runs for every source of external pointers", () => {
    for (const src of [
      "int f(void *ctx) { struct task_struct *t = (void *)bpf_get_current_task(); return 0; }",
      "int kprobe__x(struct pt_regs *ctx, struct sock *sk) { return 0; }",
      "RAW_TRACEPOINT_PROBE(sched_switch) { return 0; }",
      "int f(struct pt_regs *ctx) { struct sock *sk = (void *)PT_REGS_PARM1(ctx); return 0; }",
      "TRACEPOINT_PROBE(sock, inet_sock_set_state) { struct sock *sk = (struct sock *)args->skaddr; return 0; }",
    ])
      assert.equal(needsImplicitReads(...info(src)), true, src);
  });
});

describe("filtersFor", () => {
  it("covers every name with as few clang runs as it can", () => {
    assert.deepEqual(filtersFor(["kprobe__x", "____kprobe__x"]), ["kprobe__x"]);
    assert.deepEqual(filtersFor(["trace_connect_entry", "trace_connect_v4_return"]), ["trace_connect_"]);
    const f = filtersFor(["on_exec", "helper", "count"]);
    assert.equal(f.length, 3);
    for (const n of ["on_exec", "helper", "count"]) assert.ok(f.some((x) => n.includes(x)));
  });
});
