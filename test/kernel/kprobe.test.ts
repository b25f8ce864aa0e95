/**
 * kprobes and kretprobes. This machine's kernel has none (CONFIG_KPROBES
 * off): the success paths run in the kernel matrix (npm run test:kernels,
 * Debian's 6.1 under qemu), the errors in errors.test.ts. The kprobe
 * *programs* still load here, which checks what the verifier thinks of them.
 * @kernel-matrix kprobes and kretprobes attach there.
 */
import assert from "node:assert/strict";
import { closeSync, constants, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type ArrayTable, AttachError, BPF, type TraceLine } from "../../src/index.js";
import { kprobeSupport } from "../../src/kernel/features.js";
import { tracefsPath } from "../../src/kernel/tracefs.js";
import {
  assertNothingLeft,
  kernelObjects,
  runChild,
  skipUnlessRoot,
  testTempDir,
  waitFor,
} from "../helpers.js";

const noKprobes =
  kprobeSupport() !== "yes"
    ? "this kernel has no kprobes: runs in the kernel matrix (npm run test:kernels)"
    : false;

async function linesFor(
  b: BPF,
  pidOf: () => number,
  until: (l: TraceLine) => boolean,
  ms = 8000,
): Promise<TraceLine[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const out: TraceLine[] = [];
  try {
    for await (const l of b.traceFields({ signal: ac.signal })) {
      if (l.pid !== pidOf()) continue;
      out.push(l);
      if (until(l)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

const SYSCALL_ARGS = `
int syscall__execve(struct pt_regs *ctx, const char __user *filename,
                    const char __user *const __user *argv)
{
    char buf[64] = {};
    bpf_probe_read_user_str(buf, sizeof(buf), filename);
    bpf_trace_printk("kprobe exec %s", buf);
    return 0;
}
int ret_execve(struct pt_regs *ctx)
{
    bpf_trace_printk("kretprobe ret=%d", (int)PT_REGS_RC(ctx));
    return 0;
}`;

/** bcc's PT_REGS_SYSCALL_CTX and PT_REGS_PARMn_SYSCALL in a kprobe on the syscall function: openat's arguments. */
const SYSCALL_CTX = `
struct args { s32 dfd; u64 flags; u64 mode; char path[64]; };
BPF_ARRAY(out, struct args, 1);
int on_openat(struct pt_regs *ctx)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    struct pt_regs *regs = PT_REGS_SYSCALL_CTX(ctx);
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
}`;

describe("kprobe programs load on any kernel", { skip: skipUnlessRoot }, () => {
  it("loads syscall__ with declared arguments as a kprobe program (syscall wrapper path)", async () => {
    await using b = await BPF.load({ text: SYSCALL_ARGS });
    assert.ok(b.loadFunc("syscall__execve", BPF.KPROBE).fd > 0);
    assert.ok(b.loadFunc("ret_execve", BPF.KPROBE).fd > 0);
    assert.ok(b.loadFunc("syscall__execve", BPF.TRACEPOINT).fd > 0);
  });

  it("loads a kprobe reading a syscall's arguments with PT_REGS_SYSCALL_CTX and PT_REGS_PARMn_SYSCALL", async () => {
    await using b = await BPF.load({ text: SYSCALL_CTX, cflags: ["-DTARGET=1"] });
    assert.ok(b.loadFunc("on_openat", BPF.KPROBE).fd > 0);
  });
});

describe("kprobes", { skip: skipUnlessRoot || noKprobes }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });

  it("reads syscall__ arguments through the syscall wrapper, and the return value", async () => {
    const b = await BPF.load({ text: SYSCALL_ARGS });
    open.push(b);
    const fn = b.getSyscallFnname("execve");
    b.attachKprobe({ event: fn, fnName: "syscall__execve" });
    b.attachKretprobe({ event: fn, fnName: "ret_execve" });
    assert.equal(b.numOpenKprobes(), 2);
    while (b.traceFieldsNonBlocking() !== undefined);
    let pid = -1;
    setTimeout(() => {
      pid = runChild(["/bin/echo", "x"]);
    }, 50);
    const lines = await linesFor(
      b,
      () => pid,
      (l) => l.msg.startsWith("kretprobe"),
    );
    assert.deepEqual(
      lines.map((l) => l.msg),
      ["kprobe exec /bin/echo", "kretprobe ret=0"],
    );
    b.detachKretprobe({ event: fn });
    assert.equal(b.numOpenKprobes(), 1);
    b.close();
  });

  it("PT_REGS_SYSCALL_CTX gives the user registers in a kprobe on the syscall function: openat's four arguments", async () => {
    const b = await BPF.load({ text: SYSCALL_CTX, cflags: [`-DTARGET=${process.pid}`] });
    open.push(b);
    b.attachKprobe({ event: b.getSyscallFnname("openat"), fnName: "on_openat" });
    const file = join(testTempDir("tsbpf-kprobe"), "created");
    closeSync(openSync(file, constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL, 0o640));
    const a = b
      .getTable<ArrayTable<{ dfd: number; flags: bigint; mode: bigint; path: string }>>("out")
      .get(0);
    assert.ok(a !== undefined, "the kprobe ran");
    assert.deepEqual([a.path, a.dfd, a.mode], [file, -100, 0o640n]);
    assert.equal(Number(a.flags) & constants.O_CREAT, constants.O_CREAT);
    b.close();
  });

  it("auto-attaches kprobe__ functions and maps declared arguments onto registers", async () => {
    const b = await BPF.load({
      text: `
int kprobe__do_sys_openat2(struct pt_regs *ctx, int dfd, const char __user *filename)
{
    char buf[64] = {};
    bpf_probe_read_user_str(buf, sizeof(buf), filename);
    if (buf[0] == '/' && buf[1] == 'e' && buf[2] == 't' && buf[3] == 'c')
        bpf_trace_printk("open %s dfd=%d", buf, dfd);
    return 0;
}`,
    });
    open.push(b);
    assert.equal(b.numOpenKprobes(), 1);
    while (b.traceFieldsNonBlocking() !== undefined);
    let pid = -1;
    setTimeout(() => {
      pid = runChild(["/bin/cat", "/etc/hostname"]);
    }, 50);
    const lines = await linesFor(
      b,
      () => pid,
      (l) => l.msg.includes("/etc/hostname"),
    );
    assert.equal(lines.at(-1)?.msg, "open /etc/hostname dfd=-100");
    b.close();
  });

  it("kprobe attach and detach leave the kernel as they found it", async () => {
    const before = kernelObjects();
    const b = await BPF.load({ text: "int f(struct pt_regs *ctx) { return 0; }" });
    b.attachKprobe({ event: "vfs_read", fnName: "f" });
    b.attachKprobe({ event: "vfs_write", fnName: "f" });
    assert.equal(b.numOpenKprobes(), 2);
    b.detachKprobe({ event: "vfs_read" });
    b.detachKprobe({ event: "vfs_write", fnName: "f" });
    assert.equal(b.numOpenKprobes(), 0);
    assert.throws(() => b.detachKprobe({ event: "vfs_read" }), AttachError);
    b.attachKprobe({ eventRe: /^vfs_(read|write)$/, fnName: "f" });
    assert.equal(b.numOpenKprobes(), 2);
    b.close();
    await assertNothingLeft(before);
  });

  it("attachKretprobe with maxactive goes through kprobe_events, counts returns, and close() removes the event", async () => {
    const before = kernelObjects();
    const kprobeEvents = () => readFileSync(tracefsPath("kprobe_events"), "utf8");
    const b = await BPF.load({
      text: `
BPF_HASH(rets, u32, u64);
int on_ret(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    rets.increment(pid);
    return 0;
}`,
    });
    try {
      b.attachKretprobe({ event: "do_sys_openat2", fnName: "on_ret", maxactive: 32 });
      assert.equal(b.numOpenKprobes(), 1);
      assert.match(
        kprobeEvents(),
        new RegExp(`^r32:tsbpf/r_do_sys_openat2_${process.pid}_\\d+ do_sys_openat2$`, "m"),
      );
      const pid = runChild(["/bin/cat", "/dev/null"]);
      const rets = b.getTable("rets");
      assert.ok(
        await waitFor(() => ((rets.get(pid) as bigint | undefined) ?? 0n) > 0n, 5000),
        "returns counted",
      );
      assert.throws(
        () => b.attachKretprobe({ event: "do_sys_openat2", fnName: "on_ret", maxactive: -1 }),
        /maxactive must be a non-negative integer/,
      );
    } finally {
      b.close();
    }
    assert.doesNotMatch(kprobeEvents(), new RegExp(`tsbpf/r_do_sys_openat2_${process.pid}_`));
    await assertNothingLeft(before);
  });

  it("a kprobe on a function that is not there: AttachError; kprobe__execve names the syscall function", async () => {
    await using b = await BPF.load({ text: "int f(struct pt_regs *ctx) { return 0; }" });
    assert.throws(
      () => b.attachKprobe({ event: "no_such_function_tsbpf", fnName: "f" }),
      (err: unknown) => err instanceof AttachError && /no traceable kernel function/.test(err.message),
    );
    for (const prefix of ["kprobe__", "kretprobe__"]) {
      await assert.rejects(
        BPF.load({ text: `int ${prefix}execve(struct pt_regs *ctx) { return 0; }` }),
        (err: unknown) => {
          assert.ok(err instanceof AttachError, String(err));
          assert.equal(err.reason, 'no traceable kernel function "execve"');
          assert.equal(
            err.hint,
            `there is no kernel function "execve": the execve syscall is "${b.getSyscallPrefix()}execve" on this kernel ` +
              `(name the function ${prefix}sys_execve, or pass getSyscallFnname("execve") to ` +
              `${prefix === "kprobe__" ? "attachKprobe" : "attachKretprobe"})`,
          );
          return true;
        },
      );
    }
  });
});
