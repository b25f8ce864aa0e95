/**
 * BPF iterators (Linux 5.8+): bcc's BPF_ITER and libbpf's SEC("iter/…"),
 * read from JS as records or lines; a map's elements through an iterator
 * (where the kernel's policy allows element iterators; the typed error where not).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import {
  AttachError,
  BPF,
  ClosedError,
  CompileError,
  kernelIterTargets,
  NotSupportedError,
} from "../../src/index.js";
import { assertNothingLeft, kernelObjects, skipUnlessRoot } from "../helpers.js";

const iterators = skipUnlessRoot === false && BPF.supports("iter") === "yes";

describe("BPF iterators", {
  skip: skipUnlessRoot || (iterators ? false : "this kernel has no BPF iterators"),
}, () => {
  it("BPF_ITER(task): the records bpf_seq_write wrote, decoded from BTF, fresh on every read", async () => {
    const before = kernelObjects();
    const b = await BPF.load({
      text: `
struct info_t { int tid; int tgid; char comm[16]; };
BPF_ITER(task)
{
    struct seq_file *seq = ctx->meta->seq;
    struct task_struct *task = ctx->task;
    if (task == (void *)0)
        return 0;
    struct info_t info = {};
    info.tid = task->pid;
    info.tgid = task->tgid;
    __builtin_memcpy(&info.comm, task->comm, sizeof(info.comm));
    bpf_seq_write(seq, &info, sizeof(info));
    return 0;
}`,
    });
    const child = spawn("/bin/sleep", ["30"]);
    try {
      const iter = b.attachIter({ fnName: "bpf_iter__task" });
      assert.equal(iter.target, "task");
      type Info = { tid: number; tgid: number; comm: string };
      const tasks = iter.records<Info>("struct info_t");
      assert.ok(tasks.length > 10, `${tasks.length} tasks`);
      assert.deepEqual(
        tasks.find((t) => t.tid === child.pid),
        { tid: child.pid, tgid: child.pid, comm: "sleep" },
      );
      assert.ok(tasks.some((t) => t.tid === process.pid && t.tgid === process.pid));
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      assert.equal(
        iter.records<Info>("struct info_t").find((t) => t.tid === child.pid),
        undefined,
        "a new read runs the program again",
      );
      assert.throws(() => iter.records("struct nope_t"), /has no type struct nope_t/);
    } finally {
      child.kill("SIGKILL");
      b.close();
    }
    await assertNothingLeft(before);
  });

  it('SEC("iter/task") with BPF_SEQ_PRINTF, read as lines; detachIter', async () => {
    await using b = await BPF.load({
      text: `
SEC("iter/task")
int list_tasks(struct bpf_iter__task *ctx)
{
    struct task_struct *task = ctx->task;
    if (task == (void *)0 || task->pid != task->tgid)
        return 0;
    BPF_SEQ_PRINTF(ctx->meta->seq, "%d %s\\n", task->tgid, task->comm);
    return 0;
}`,
    });
    const iter = b.attachIter({ fnName: "list_tasks" });
    const lines = iter.lines();
    assert.ok(lines.includes(`${process.pid} node`), lines.slice(0, 5).join(" | "));
    assert.ok(lines.every((l) => /^\d+ \S/.test(l)));
    b.detachIter({ fnName: "list_tasks" });
    assert.throws(
      () => iter.read(),
      (err: unknown) =>
        err instanceof ClosedError && /iterator list_tasks \(detached\) is closed/.test(err.message),
    );
  });

  it("BPF_ITER(bpf_map_elem) walks the elements of the map it is attached with", async () => {
    await using b = await BPF.load({
      text: `
BPF_HASH(h, u32, u64, 64);
BPF_ITER(bpf_map_elem)
{
    u32 *key = ctx->key;
    u64 *val = ctx->value;
    if (key == (void *)0 || val == (void *)0)
        return 0;
    BPF_SEQ_PRINTF(ctx->meta->seq, "%u=%llu\\n", *key, *val);
    return 0;
}`,
    });
    const h = b.getTable("h");
    for (const k of [1, 2, 3]) h.set(k, BigInt(k * 100));
    let iter: ReturnType<typeof b.attachIter>;
    try {
      iter = b.attachIter({ fnName: "bpf_iter__bpf_map_elem", map: "h" });
    } catch (err) {
      // Some kernels' policies refuse element iterators to all but their own processes (EPERM
      // before the verifier looks at the program): the typed error here, the success path in the matrix.
      assert.ok(err instanceof NotSupportedError && err.errno === 1, String(err));
      assert.match(
        err.reason,
        /refused to load an iterator over bpf_map_elem with EPERM .*before the verifier/,
      );
      return;
    }
    assert.deepEqual(iter.lines().sort(), ["1=100", "2=200", "3=300"]);
  });

  it("says which iterators this kernel has, and what is not an iterator", async () => {
    assert.ok(kernelIterTargets().includes("task"));
    assert.ok(!kernelIterTargets().some((t) => t.includes("__")));
    await assert.rejects(
      BPF.load({ text: "BPF_ITER(task) { return ctx->no_such_member; }" }),
      (err: unknown) => err instanceof CompileError && /no_such_member/.test(err.message),
    );
    await using b = await BPF.load({
      text: "BPF_ITER(no_such_thing) { return 0; }\nint plain(void *ctx) { return 0; }",
    });
    assert.throws(
      () => b.attachIter({ fnName: "bpf_iter__no_such_thing" }),
      (err: unknown) =>
        err instanceof AttachError &&
        /this kernel has no iterator over no_such_thing/.test(err.message) &&
        /the iterators this kernel has: .*\btask\b/.test(err.message),
    );
    assert.throws(
      () => b.attachIter({ fnName: "plain" }),
      /plain is not an iterator: define it with BPF_ITER\(target\)/,
    );
    assert.throws(() => b.attachIter({ fnName: "nope" }), /no function nope/);
  });
});
