/**
 * BTF tracepoints (tp_btf): typed arguments dereferenced directly, auto and
 * explicit attach, detach, and the errors for unknown events.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AttachError, BPF } from "../../src/index.js";
import { kernelObjects, leftSince, runChild, skipUnlessRoot, waitFor } from "../helpers.js";

const noTpBtf =
  skipUnlessRoot === false && !BPF.supportBtfTracepoint()
    ? "this kernel cannot attach tp_btf programs"
    : false;

const EXEC = `
struct exec_t {
    u32 pid;
    u32 old_pid;
    u32 ppid;
    char comm[16];
};
BPF_HASH(execs, u32, struct exec_t);
BTF_TRACEPOINT_PROBE(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
    struct exec_t e = {};
    e.pid = p->pid;
    e.old_pid = old_pid;
    e.ppid = p->real_parent->tgid;
    __builtin_memcpy(e.comm, p->comm, sizeof(e.comm));
    u32 key = e.pid;
    execs.update(&key, &e);
    return 0;
}`;

describe("BTF tracepoints", { skip: skipUnlessRoot || noTpBtf }, () => {
  it("auto-attaches BTF_TRACEPOINT_PROBE and reads task_struct fields directly", async () => {
    const before = kernelObjects();
    const b = await BPF.load({ text: EXEC });
    try {
      assert.equal(leftSince(before).links.length, 1);
      const pid = runChild(["/bin/true"]);
      const execs = b.getTable("execs");
      assert.ok(await waitFor(() => execs.get(pid) !== undefined, 3000), "the exec of the child was seen");
      assert.deepEqual(execs.get(pid), { pid, old_pid: pid, ppid: process.pid, comm: "true" });
      b.detachBtfTracepoint({ tp: "sched_process_exec" });
      assert.equal(leftSince(before).links.length, 0);
      const next = runChild(["/bin/true"]);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(execs.get(next), undefined, "detached: no more records");
    } finally {
      b.close();
    }
  });

  it("attaches explicitly, with the event from the name or given", async () => {
    const b = await BPF.load({
      text: `
BPF_ARRAY(switches, u64, 2);
BTF_TRACEPOINT_PROBE(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    if (next->pid != 0) switches.increment(0);
    return 0;
}
int any_name(unsigned long long *ctx) { switches.increment(1); return 0; }`,
      autoAttach: false,
    });
    try {
      b.attachBtfTracepoint({ fnName: "btf_tracepoint__sched_switch" });
      b.attachBtfTracepoint({ tp: "sched_switch", fnName: "any_name" });
      const switches = b.getTable("switches");
      runChild(["/bin/true"]);
      assert.ok(
        await waitFor(() => (switches.get(0) as bigint) > 0n && (switches.get(1) as bigint) > 0n, 3000),
      );
      b.detachBtfTracepoint({ tp: "sched_switch", fnName: "any_name" });
      b.detachBtfTracepoint({ tp: "sched_switch" });
      assert.throws(() => b.detachBtfTracepoint({ tp: "sched_switch" }), /not attached/);
    } finally {
      b.close();
    }
  });

  it("names the closest events for one the kernel's BTF lacks", async () => {
    await using b = await BPF.load({
      text: "BTF_TRACEPOINT_PROBE(sched_proces_exec, struct task_struct *p) { return 0; }",
      autoAttach: false,
    });
    assert.throws(
      () => b.attachBtfTracepoint({ fnName: "btf_tracepoint__sched_proces_exec" }),
      (err: unknown) => {
        assert.ok(err instanceof AttachError, String(err));
        assert.match(err.message, /no tracepoint sched_proces_exec .*btf_trace_sched_proces_exec/);
        assert.match(err.hint ?? "", /sched_process_exec/);
        return true;
      },
    );
    assert.equal(BPF.supports("tp_btf"), "yes");
  });
});
