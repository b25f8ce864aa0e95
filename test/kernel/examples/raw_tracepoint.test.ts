/**
 * Chapter 7, raw tracepoints: whether the kernel has them, and sched_switch
 * read from the tracepoint's own arguments. The test runs /bin/sleep: it
 * leaves the CPU while it sleeps (a row "PID -> X", printed in its own
 * context) and takes it again when it wakes (a row "X -> PID").
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kernelObjects, leftSince, runChild, skipUnlessRoot, waitFor } from "../../helpers.js";
import { runExample, runExampleSync } from "./run_example.js";

const HEADER = "PID    COMM             OUTPUT";

/** Runs a sched_switch example while /bin/sleep children run, until one's switches out and in are seen. */
async function watchSwitches(id: string, args: string[] = []): Promise<void> {
  const pids: number[] = [];
  // %-6d %-16s "%d -> %d": the task leaving the CPU is the one running the probe.
  const out = (pid: number): RegExp => new RegExp(`^${pid} +sleep +${pid} -> \\d+$`, "m");
  const into = (pid: number): RegExp => new RegExp(`^\\d+ +.{1,16} +-?\\d+ -> ${pid}$`, "m");
  const r = await runExample(id, {
    args,
    ready: (stdout) => stdout.startsWith(HEADER),
    activity: () => pids.push(runChild(["/bin/sleep", "0.02"])),
    everyMs: 100,
    until: (stdout) => pids.some((pid) => out(pid).test(stdout) && into(pid).test(stdout)),
  });
  assert.ok(r.matched, `${id}: no switches of ${pids.slice(-3).join(", ")} in:\n${r.stdout.slice(-2000)}`);
  assert.equal(r.stderr, "");
  assert.equal(r.stdout.split("\n")[0], HEADER);
}

describe("raw_tracepoint", { skip: skipUnlessRoot }, () => {
  it("raw_tracepoint/check_raw_tracepoint: says yes (Linux 4.17+)", () => {
    const r = runExampleSync("raw_tracepoint/check_raw_tracepoint");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "raw tracepoints supported: yes\n");
    assert.equal(r.stderr, "");
  });

  it("raw_tracepoint/sched_switch_simple: prev and next tgid of sched_switch", async () => {
    await watchSwitches("raw_tracepoint/sched_switch_simple");
  });

  it("raw_tracepoint/sched_switch_attach_tracepoint: the same attached by name", async () => {
    await watchSwitches("raw_tracepoint/sched_switch_attach_tracepoint");
  });

  it("raw_tracepoint/sched_switch_attach_tracepoint: a misspelt name fails with the close names", async () => {
    const before = kernelObjects();
    const r = runExampleSync("raw_tracepoint/sched_switch_attach_tracepoint", ["sched_swich"]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /^sched_switch_attach_tracepoint: AttachError: cannot attach to raw tracepoint sched_swich: no such raw tracepoint on this kernel \(did you mean sched_switch(, [a-z_0-9]+)*\?\)\n$/,
    );
    await waitFor(() => {
      const left = leftSince(before);
      return left.progs.length + left.links.length + left.maps.length === 0;
    }, 3000);
    assert.deepEqual(leftSince(before), { progs: [], links: [], maps: [] });
  });
});
