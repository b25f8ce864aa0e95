/**
 * uprobes and uretprobes against programs built here with cc: arguments and
 * return values of a function in a PIE and a non-PIE executable (bcc's
 * tutorial, lesson 4), libc's strlen through the library name "c" (an
 * IFUNC, followed to the implementation glibc picked), symRe, the errors,
 * and the kernel left as it was found.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AttachError, BPF, type TraceLine } from "../../src/index.js";
import { uprobeSupport } from "../../src/kernel/features.js";
import { CTargets, ccPresent } from "../c_targets.js";
import { assertNothingLeft, kernelObjects, skipUnlessRoot, waitFor } from "../helpers.js";

const targets = new CTargets("tsbpf-uprobe");

const skip =
  skipUnlessRoot ||
  (ccPresent ? false : "needs a C compiler to build the traced programs") ||
  (uprobeSupport() === "yes" ? false : "this kernel has no uprobes (CONFIG_UPROBES)");

/** Calls func(counter) and other_func(counter) every 10 ms; prints its pid first. */
const FUNC_C = `
#include <stdio.h>
#include <unistd.h>
__attribute__((noinline)) int func(int x) { __asm__ volatile(""); return x * 2; }
__attribute__((noinline)) int other_func(int x) { __asm__ volatile(""); return x + 1; }
int main(void) {
  printf("%d\\n", getpid());
  fflush(stdout);
  for (int counter = 1;; counter++) {
    func(counter);
    other_func(counter);
    usleep(10000);
  }
}
`;

/** Calls strlen on two known strings every 10 ms (through libc: no builtin). */
const STRLEN_C = `
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  const char *volatile words[] = {"tsbpf-hello", "uprobe-strlen-test"};
  printf("%d\\n", getpid());
  fflush(stdout);
  for (unsigned i = 0;; i++) {
    volatile size_t n = strlen(words[i % 2]);
    (void)n;
    usleep(10000);
  }
}
`;

const ARG_PROGRAM = `
int probe_func(struct pt_regs *ctx) {
    bpf_trace_printk("arg = %u", (u32)PT_REGS_PARM1(ctx));
    return 0;
}
int probe_ret(struct pt_regs *ctx) {
    bpf_trace_printk("return value = %u", (u32)PT_REGS_RC(ctx));
    return 0;
}`;

/** trace_pipe lines of process pid until `until` says stop or the time is up. */
async function linesOf(
  b: BPF,
  pid: number,
  until: (mine: TraceLine[]) => boolean,
  ms = 5000,
): Promise<TraceLine[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const out: TraceLine[] = [];
  try {
    for await (const l of b.traceFields({ signal: ac.signal })) {
      if (l.pid !== pid) continue;
      out.push(l);
      if (until(out)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

function drain(b: BPF): void {
  while (b.traceFieldsNonBlocking() !== undefined);
}

describe("uprobes", { skip }, () => {
  const open: BPF[] = [];
  let funcPie = "";
  let funcNoPie = "";
  before(() => {
    funcPie = targets.build("func_pie", FUNC_C, ["-fPIE", "-pie"]);
    funcNoPie = targets.build("func_nopie", FUNC_C, ["-fno-pie", "-no-pie"]);
  });
  after(() => {
    for (const b of open) b.close();
    targets.cleanup();
  });

  for (const kind of ["PIE", "non-PIE"] as const) {
    it(`reads func's argument (PT_REGS_PARM1) and return value (PT_REGS_RC) in a ${kind} executable`, async () => {
      const exe = kind === "PIE" ? funcPie : funcNoPie;
      const pid = await targets.start(exe);
      const b = await BPF.load({ text: ARG_PROGRAM });
      open.push(b);
      b.attachUprobe({ name: exe, sym: "func", fnName: "probe_func" });
      b.attachUretprobe({ name: exe, sym: "func", fnName: "probe_ret" });
      assert.equal(b.numOpenUprobes(), 2);
      drain(b);
      const lines = await linesOf(b, pid, (m) => m.length >= 12);
      assert.ok(lines.length >= 12, `got ${lines.length} lines: ${lines.map((l) => l.msg).join(" | ")}`);
      // Pairs "arg = N" / "return value = 2N", N going up by one.
      const args: number[] = [];
      let last: number | undefined;
      for (const l of lines) {
        const a = /^arg = (\d+)$/.exec(l.msg);
        const r = /^return value = (\d+)$/.exec(l.msg);
        assert.ok(a || r, `unexpected line ${l.msg}`);
        if (a) {
          last = Number(a[1]);
          args.push(last);
        } else if (last !== undefined) {
          assert.equal(Number(r?.[1]), last * 2, `return value of func(${last})`);
        }
        assert.equal(l.task.length > 0, true);
      }
      for (let k = 1; k < args.length; k++) assert.equal(args[k], (args[k - 1] as number) + 1);
      assert.ok((args[0] as number) >= 1);
      b.close();
    });
  }

  it('traces libc\'s strlen through name "c" (an IFUNC: the implementation glibc picked)', async () => {
    const exe = targets.build("strlen_target", STRLEN_C);
    const pid = await targets.start(exe);
    assert.match(BPF.findLibrary("c") ?? "", /\/libc\.so\.6$/);
    const b = await BPF.load({
      text: `
int count_strlen(struct pt_regs *ctx) {
    if ((bpf_get_current_pid_tgid() >> 32) != ${pid})
        return 0;
    char buf[32] = {};
    long n = bpf_probe_read_user_str(buf, sizeof(buf), (void *)PT_REGS_PARM1(ctx));
    bpf_trace_printk("strlen(%s) = %ld", buf, n - 1);
    return 0;
}`,
    });
    open.push(b);
    b.attachUprobe({ name: "c", sym: "strlen", fnName: "count_strlen" });
    drain(b);
    const lines = await linesOf(b, pid, (m) => m.length >= 4);
    const msgs = new Set(lines.map((l) => l.msg));
    assert.deepEqual([...msgs].sort(), ["strlen(tsbpf-hello) = 11", "strlen(uprobe-strlen-test) = 18"]);
    b.close();
  });

  it("symRe attaches to every matching function", async () => {
    const pid = await targets.start(funcPie);
    assert.deepEqual(BPF.getUserFunctions(funcPie, /func$/).sort(), ["func", "other_func"]);
    const b = await BPF.load({
      text: `
int hit(struct pt_regs *ctx) {
    bpf_trace_printk("hit %llx %u", PT_REGS_IP(ctx), (u32)PT_REGS_PARM1(ctx));
    return 0;
}`,
    });
    open.push(b);
    b.attachUprobe({ name: funcPie, symRe: /^(other_)?func$/, fnName: "hit", pid });
    assert.equal(b.numOpenUprobes(), 2);
    drain(b);
    const lines = await linesOf(b, pid, (m) => m.length >= 8);
    const fns = new Set(
      lines.map((l) => {
        const m = /^hit ([0-9a-f]+) \d+$/.exec(l.msg);
        assert.ok(m, l.msg);
        return b.sym(BigInt(`0x${m[1]}`), pid);
      }),
    );
    assert.deepEqual([...fns].sort(), ["func", "other_func"]);
    b.close();
  });

  it("gives each attachment its cookie (bpf_get_attach_cookie): one function on two symbols", async () => {
    const pid = await targets.start(funcPie);
    const b = await BPF.load({
      text: `
BPF_HASH(by_cookie, u64, u64);
int hit(struct pt_regs *ctx) {
    u64 cookie = bpf_get_attach_cookie(ctx);
    by_cookie.increment(cookie);
    return 0;
}`,
    });
    open.push(b);
    b.attachUprobe({ name: funcPie, sym: "func", fnName: "hit", pid, cookie: 0xf00dn });
    b.attachUprobe({ name: funcPie, sym: "other_func", fnName: "hit", pid, cookie: 0xffff_ffff_ffff_fff0n });
    const t = b.getTable("by_cookie");
    assert.ok(await waitFor(() => t.size === 2 && (t.get(0xf00dn) as bigint) > 2n, 5000), `${[...t.keys()]}`);
    assert.deepEqual(new Set(t.keys()), new Set([0xf00dn, 0xffff_ffff_ffff_fff0n]));
    b.close();
  });

  it("traces only the given pid", async () => {
    const pidA = await targets.start(funcPie);
    const pidB = await targets.start(funcPie);
    const b = await BPF.load({ text: ARG_PROGRAM });
    open.push(b);
    b.attachUprobe({ name: funcPie, sym: "func", fnName: "probe_func", pid: pidB });
    drain(b);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 5000);
    const pids = new Set<number>();
    let n = 0;
    for await (const l of b.traceFields({ signal: ac.signal })) {
      if (l.pid !== pidA && l.pid !== pidB) continue;
      pids.add(l.pid);
      if (++n >= 10) break;
    }
    clearTimeout(timer);
    assert.deepEqual([...pids], [pidB]);
    b.close();
  });

  it("errors: an unknown symbol names the closest ones; an unknown library says what was searched", async () => {
    await using b = await BPF.load({ text: ARG_PROGRAM });
    assert.throws(
      () => b.attachUprobe({ name: funcPie, sym: "fnuc", fnName: "probe_func" }),
      (err: unknown) =>
        err instanceof AttachError &&
        /no function fnuc in/.test(err.message) &&
        /did you mean func/.test(err.message),
    );
    assert.throws(
      () => b.attachUprobe({ name: "tsbpf_no_such_lib", sym: "f", fnName: "probe_func" }),
      (err: unknown) =>
        err instanceof AttachError &&
        /libtsbpf_no_such_lib\.so/.test(err.message) &&
        /ldconfig/.test(err.message) &&
        /\$PATH/.test(err.message),
    );
    assert.throws(
      () => b.attachUprobe({ name: join(targets.path, "missing"), sym: "f", fnName: "probe_func" }),
      (err: unknown) => err instanceof AttachError && /no such file/.test(err.message),
    );
    assert.throws(
      () => b.attachUprobe({ name: funcPie, addr: 0x7fffffff0n, fnName: "probe_func" }),
      (err: unknown) => err instanceof AttachError && /no PT_LOAD segment/.test(err.message),
    );
    assert.equal(b.numOpenUprobes(), 0);
  });

  it("attach and detach leave the kernel as they found it", async () => {
    const before = kernelObjects();
    const b = await BPF.load({ text: ARG_PROGRAM });
    b.attachUprobe({ name: funcPie, sym: "func", fnName: "probe_func" });
    b.attachUretprobe({ name: funcPie, sym: "func", fnName: "probe_ret" });
    b.attachUprobe({ name: funcNoPie, sym: "other_func", fnName: "probe_func", pid: process.pid });
    assert.equal(b.numOpenUprobes(), 3);
    b.detachUprobe({ name: funcPie, sym: "func" });
    assert.equal(b.numOpenUprobes(), 2);
    assert.throws(() => b.detachUprobe({ name: funcPie, sym: "func" }), AttachError);
    b.detachUretprobe({ name: funcPie, sym: "func", fnName: "probe_ret" });
    b.detachUprobe({ name: funcNoPie, sym: "other_func", pid: process.pid });
    assert.equal(b.numOpenUprobes(), 0);
    // Links gone with detach; programs and maps with close.
    b.attachUprobe({ name: funcPie, symRe: "func$", fnName: "probe_func" });
    assert.equal(b.numOpenUprobes(), 2);
    b.close();
    await assertNothingLeft(before);
  });
});
