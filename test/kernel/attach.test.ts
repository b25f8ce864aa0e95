/**
 * Load and attach against the real kernel: events with the PIDs of processes
 * the test spawned, declared syscall arguments, tracepoint args structs, and
 * the kernel left as it was found.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { AttachError, BPF, type TraceLine } from "../../src/index.js";
import {
  assertNothingLeft,
  kernelObjects,
  leftSince,
  runChild,
  skipUnlessRoot,
  waitFor,
} from "../helpers.js";

/** Collects trace_pipe lines until `want` matches one of them or the time is up. */
async function collectUntil(
  b: BPF,
  want: (l: TraceLine) => boolean,
  trigger: () => void,
  ms = 5000,
): Promise<TraceLine[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const seen: TraceLine[] = [];
  const triggerTimer = setTimeout(trigger, 50);
  try {
    for await (const l of b.traceFields({ signal: ac.signal })) {
      seen.push(l);
      if (want(l)) break;
    }
  } finally {
    clearTimeout(timer);
    clearTimeout(triggerTimer);
  }
  return seen;
}

/** Drops what is already waiting in trace_pipe. */
function drain(b: BPF): void {
  while (b.traceFieldsNonBlocking() !== undefined);
}

describe("attach", { skip: skipUnlessRoot }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });

  it("reads declared syscall__ arguments on the sys_enter tracepoint", async () => {
    const b = await BPF.load({
      text: `
int syscall__execve(struct pt_regs *ctx, const char __user *filename,
                    const char __user *const __user *argv)
{
    char buf[64] = {};
    const char *argv1 = 0;
    bpf_probe_read_user_str(buf, sizeof(buf), filename);
    bpf_probe_read_user(&argv1, sizeof(argv1), &argv[1]);
    char arg[32] = {};
    bpf_probe_read_user_str(arg, sizeof(arg), argv1);
    bpf_trace_printk("exec %s", buf);
    bpf_trace_printk("argv1 %s", arg);
    return 0;
}`,
    });
    open.push(b);
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "syscall__execve" });
    drain(b);
    let pid = 0;
    const lines = await collectUntil(
      b,
      (l) => l.pid === pid && l.msg === "argv1 tsbpf-arg",
      () => {
        pid = runChild(["/bin/echo", "tsbpf-arg"]);
      },
    );
    const mine = lines.filter((l) => l.pid === pid).map((l) => l.msg);
    assert.deepEqual(mine, ["exec /bin/echo", "argv1 tsbpf-arg"]);
    b.close();
  });

  it("gives TRACEPOINT_PROBE an args struct that matches the kernel's record", async () => {
    const b = await BPF.load({
      text: `
TRACEPOINT_PROBE(sched, sched_process_exec)
{
    char name[64] = {};
    TP_DATA_LOC_READ_STR(name, filename, sizeof(name));
    bpf_trace_printk("pid=%d old=%d file=%s", args->pid, args->old_pid, name);
    return 0;
}`,
    });
    open.push(b);
    assert.equal(b.numOpenTracepoints(), 1, "auto-attached by TRACEPOINT_PROBE");
    drain(b);
    let pid = 0;
    const lines = await collectUntil(
      b,
      (l) => l.pid === pid,
      () => {
        pid = runChild(["/bin/true"]);
      },
    );
    const mine = lines.find((l) => l.pid === pid);
    assert.equal(mine?.msg, `pid=${pid} old=${pid} file=/bin/true`);
    b.close();
  });

  it("auto-attaches raw_tracepoint__ functions and reads ctx->args", async () => {
    const b = await BPF.load({
      text: `
#include <linux/sched.h>
RAW_TRACEPOINT_PROBE(sched_process_exec)
{
    struct task_struct *p = (struct task_struct *)ctx->args[0];
    int tgid = BPF_CORE_READ(p, tgid);
    bpf_trace_printk("raw exec tgid=%d", tgid);
    return 0;
}`,
    });
    open.push(b);
    drain(b);
    let pid = 0;
    const lines = await collectUntil(
      b,
      (l) => l.pid === pid,
      () => {
        pid = runChild();
      },
    );
    assert.equal(lines.find((l) => l.pid === pid)?.msg, `raw exec tgid=${pid}`);
    b.close();
  });

  it("auto-attaches libbpf-style functions by their section, as libbpf does", async () => {
    const before = kernelObjects();
    const b = await BPF.load({
      text: `
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, u32);
    __type(value, u64);
} execs SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_execve")
int on_execve(void *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 one = 1;
    bpf_map_update_elem(&execs, &pid, &one, BPF_ANY);
    return 0;
}
SEC("raw_tp/sched_process_exec")
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 *v = bpf_map_lookup_elem(&execs, &pid);
    if (v)
        *v += 1;
    return 0;
}`,
    });
    open.push(b);
    assert.equal(b.numOpenTracepoints(), 1);
    const pid = runChild();
    const execs = b.getTable("execs");
    assert.ok(await waitFor(() => execs.get(pid) === 2n), "both functions ran for our child's execve");
    b.close();
    await assertNothingLeft(before);
  });

  it("leaves the kernel as it found it after each attach/detach pair and after close", async () => {
    const before = kernelObjects();
    const b = await BPF.load({
      text: `
int on_exec(void *ctx) { bpf_trace_printk("x"); return 0; }
int on_switch(struct bpf_raw_tracepoint_args *ctx) { return 0; }`,
    });
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    b.attachTracepoint({ tp: "syscalls:sys_enter_execveat", fnName: "on_exec" });
    assert.equal(b.numOpenTracepoints(), 2);
    // libbpf loads and closes a tiny probe program on every object load; the
    // kernel frees it after an RCU grace period, so let that settle.
    await waitFor(() => leftSince(before).progs.length === 1, 2000);
    const attached = leftSince(before);
    assert.equal(attached.progs.length, 1, "one program, loaded once for both tracepoints");
    assert.equal(attached.links.length, 2);
    b.detachTracepoint({ tp: "syscalls:sys_enter_execve" });
    assert.equal(leftSince(before).links.length, 1);
    b.detachTracepoint({ tp: "syscalls:sys_enter_execveat", fnName: "on_exec" });
    assert.equal(leftSince(before).links.length, 0);
    assert.equal(b.numOpenTracepoints(), 0);

    b.attachRawTracepoint({ tp: "sched_switch", fnName: "on_switch" });
    assert.equal(leftSince(before).links.length, 1);
    b.detachRawTracepoint({ tp: "sched_switch" });
    assert.equal(leftSince(before).links.length, 0);
    assert.throws(() => b.detachRawTracepoint({ tp: "sched_switch" }), AttachError);

    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    b.close();
    b.close(); // idempotent
    await assertNothingLeft(before);
  });

  it("loads a function once per program type and returns its fd (loadFunc)", async () => {
    const b = await BPF.load({ text: "int f(void *ctx) { return 0; }" });
    open.push(b);
    const a = b.loadFunc("f", BPF.TRACEPOINT);
    assert.equal(b.loadFunc("f", BPF.TRACEPOINT).fd, a.fd);
    const r = b.loadFunc("f", BPF.RAW_TRACEPOINT);
    assert.notEqual(r.fd, a.fd);
    assert.deepEqual([a.name, a.type, r.type], ["f", BPF.TRACEPOINT, BPF.RAW_TRACEPOINT]);
    assert.ok(a.fd > 2);
    b.close();
  });

  it("caps the probes a pattern opens, as bcc's BCC_PROBE_LIMIT does, and says how many matched", async () => {
    await using b = await BPF.load({ text: "int f(void *ctx) { return 0; }" });
    const matching = BPF.getTracepoints(/^syscalls:sys_enter_/).length;
    assert.ok(matching > 100);
    process.env.TSBPF_PROBE_LIMIT = "100";
    try {
      const before = kernelObjects();
      assert.throws(
        () => b.attachTracepoint({ tpRe: /^syscalls:sys_enter_/, fnName: "f" }),
        (err: unknown) =>
          err instanceof AttachError &&
          err.message.includes(`${matching} match`) &&
          /more than the limit of 100 probes/.test(err.message) &&
          /TSBPF_PROBE_LIMIT=N \(or bcc's BCC_PROBE_LIMIT\)/.test(err.message),
      );
      assert.equal(leftSince(before).links.length, 0, "nothing was attached");
      // Under the cap, counting the probes already open.
      b.attachTracepoint({ tpRe: /^sched:sched_process_(exec|exit)$/, fnName: "f" });
      assert.equal(b.numOpenTracepoints(), 2);
      process.env.TSBPF_PROBE_LIMIT = "3";
      assert.throws(
        () => b.attachTracepoint({ tpRe: /^sched:sched_process_(fork|free)$/, fnName: "f" }),
        /2 match, and with the 2 probes already open that is more than the limit of 3 probes/,
      );
    } finally {
      delete process.env.TSBPF_PROBE_LIMIT;
    }
  });

  it("passes attachTracepoint's cookie to bpf_get_attach_cookie", async () => {
    await using b = await BPF.load({
      text: `
BPF_ARRAY(seen, u64, 1);
int on_exec(void *ctx) { u32 zero = 0; u64 c = bpf_get_attach_cookie(ctx); seen.update(&zero, &c); return 0; }`,
    });
    b.attachTracepoint({ tp: "sched:sched_process_exec", fnName: "on_exec", cookie: 0x1234_5678_9abc_def0n });
    runChild(["/bin/true"]);
    assert.ok(await waitFor(() => b.getTable("seen").get(0) === 0x1234_5678_9abc_def0n, 3000));
  });

  it("bcc's helpers: loadFuncs, fixSyscallFnname, addPrefix, getProbeLimit, supportRawTracepointInModule", async () => {
    await using b = await BPF.load({
      text: "int f(void *ctx) { return 0; }\nint g(void *ctx) { return 1; }",
    });
    const fns = b.loadFuncs(BPF.TRACEPOINT);
    assert.deepEqual(
      fns.map((f) => f.name),
      ["f", "g"],
    );
    assert.ok(fns.every((f) => f.fd > 0 && f.type === BPF.TRACEPOINT));
    // loaded together: one object; a later loadFunc of one of them is what loadFuncs loaded
    assert.equal(fns[0]?.object, fns[1]?.object);
    assert.equal(b.loadFunc("g", BPF.TRACEPOINT).fd, fns[1]?.fd);
    assert.deepEqual(
      b.loadFuncs(BPF.TRACEPOINT, ["g"]).map((f) => f.fd),
      [fns[1]?.fd],
    );
    const prefix = b.getSyscallPrefix();
    assert.equal(b.fixSyscallFnname("sys_execve"), `${prefix}execve`);
    assert.equal(b.fixSyscallFnname("__x64_sys_clone"), `${prefix}clone`);
    assert.equal(b.fixSyscallFnname("vfs_read"), "vfs_read");
    assert.equal(BPF.addPrefix("kprobe__", "vfs_read"), "kprobe__vfs_read");
    assert.equal(BPF.addPrefix("kprobe__", "kprobe__vfs_read"), "kprobe__vfs_read");
    assert.equal(BPF.getProbeLimit(), 1000);
    process.env.BCC_PROBE_LIMIT = "12";
    try {
      assert.equal(BPF.getProbeLimit(), 12);
    } finally {
      delete process.env.BCC_PROBE_LIMIT;
    }
    assert.equal(BPF.supportRawTracepointInModule(), b.ksymname("bpf_trace_modules") !== undefined);
    // kprobe_poll: perf_buffer_poll's old name, the same answer
    assert.throws(() => b.kprobePoll(0), /no perf buffer is open: call openPerfBuffer\(\) on a table first/);
  });

  it("lists and checks tracepoints", () => {
    assert.equal(BPF.tracepointExists("syscalls", "sys_enter_execve"), true);
    assert.equal(BPF.tracepointExists("syscalls", "sys_enter_nope"), false);
    const tps = BPF.getTracepoints(/^sched:sched_switch$/);
    assert.deepEqual(tps, ["sched:sched_switch"]);
    assert.equal(BPF.supportRawTracepoint(), true);
  });

  it("names syscall functions with the kernel's prefix", async () => {
    const b = await BPF.load({ text: "int f(void *ctx) { return 0; }" });
    open.push(b);
    assert.match(b.getSyscallPrefix(), /^(__x64_sys_|__arm64_sys_|__s390x_sys_|sys_)$/);
    assert.equal(b.getSyscallFnname("execve"), `${b.getSyscallPrefix()}execve`);
    b.close();
  });
});
