/**
 * The per-process symbol cache over a real stack: a short-lived child's
 * user stack (BPF_STACK_TRACE at its clock_nanosleep) is named through
 * StackTrace.stackCounts after the child has exited, from the mappings read
 * while it ran; once its entry has been swept, the same stack no longer
 * names its libc frames (the mappings went with the entry).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { BPF } from "../../src/bpf.js";
import {
  cachedProcessCount,
  forgetProcessSymbols,
  processSymbols,
  sweepProcessSymbols,
} from "../../src/elf/procmaps.js";
import type { ArrayTable, StackTrace } from "../../src/index.js";
import { skipUnlessRoot, waitFor } from "../helpers.js";

const PROGRAM = `
#include <linux/sched.h>
struct key_t { u32 pid; int user_stack_id; };
BPF_ARRAY(target, u32, 1);
BPF_HASH(counts, struct key_t, u64, 64);
BPF_STACK_TRACE(stacks, 64);
TRACEPOINT_PROBE(syscalls, sys_enter_clock_nanosleep)
{
    int zero = 0;
    u32 *parent = target.lookup(&zero);
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    if (!parent || t->real_parent->tgid != *parent)
        return 0;
    struct key_t key = { .pid = bpf_get_current_pid_tgid() >> 32 };
    key.user_stack_id = stacks.get_stackid(args, BPF_F_USER_STACK);
    counts.increment(key);
    return 0;
}`;

describe("per-process symbol cache and real stacks", { skip: skipUnlessRoot }, () => {
  let b: BPF | undefined;
  after(() => {
    b?.close();
    forgetProcessSymbols();
  });

  it("names an exited child's stack from mappings read while it ran, and forgets them once swept", async () => {
    b = await BPF.load({ text: PROGRAM });
    b.getTable<ArrayTable<number>>("target").set(0, process.pid);
    const counts = b.getTable("counts");
    const stacks = b.getTable<StackTrace>("stacks");
    forgetProcessSymbols();
    const child = spawn("/bin/sleep", ["2"], { stdio: "ignore" });
    const exited = once(child, "exit");
    const pid = child.pid as number;
    // asleep: its libraries are mapped; read its mappings now, as a tool does
    assert.ok(
      await waitFor(() => [...counts.keys()].some((k) => (k as { pid: number }).pid === pid), 10_000),
      "the child's clock_nanosleep was seen",
    );
    processSymbols(pid).mappings();
    await exited;

    const names = (): string[] => {
      const row = stacks.stackCounts(counts).rows.find((r) => r.pid === pid);
      assert.ok(row && row.userStackId >= 0, "a user stack of the child");
      return row.user;
    };
    const named = names();
    // innermost: libc's clock_nanosleep (or its nanosleep wrapper), named after the exit
    assert.match(named[0] as string, /nanosleep/, named.join(";"));
    assert.equal(cachedProcessCount(), 1);

    // unused for the idle time and exited: swept, and its mappings with it
    assert.equal(sweepProcessSymbols(0, Date.now() + 1), 1);
    assert.equal(cachedProcessCount(), 0);
    const again = names();
    assert.equal(again.length, named.length);
    assert.ok(
      again.every((f) => f === "[unknown]"),
      `a fresh entry of an exited process knows no mapping: ${again.join(";")}`,
    );
  });
});
