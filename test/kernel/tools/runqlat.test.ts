import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** A child that wakes from a timer `n` times, every 2 ms, once told to start (a line on stdin). */
function waker(n: number) {
  return spawn(
    process.execPath,
    [
      "-e",
      `process.stdin.once("data", () => { let i = 0; const t = setInterval(() => { if (++i >= ${n}) { clearInterval(t); process.exit(0); } }, 2); });`,
    ],
    { stdio: ["pipe", "ignore", "ignore"] },
  );
}

describe("runqlat", { skip: skipUnlessRoot }, () => {
  it("counts the wake-ups of a process the test runs (-p), bcc's histogram layout", async () => {
    const child = waker(100);
    const exited = new Promise((r) => child.once("exit", r));
    const r = await traceWhile("runqlat", ["-p", String(child.pid)], async () => {
      child.stdin?.write("go\n");
      await exited;
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing run queue latency... Hit Ctrl-C to end.");
    assert.match(r.stdout, /\n {5}usecs {15}: count {5}distribution\n/);
    const counts = [...r.stdout.matchAll(/-> \d+ +: (\d+) +\|/g)].map((m) => Number(m[1]));
    const total = counts.reduce((x, y) => x + y, 0);
    // every timer wake-up of the child is a wake-up then a switch-in
    assert.ok(total >= 90, `${total} run queue waits counted:\n${r.stdout}`);
  });

  it("--json -P: one bcc JSON histogram per process, keyed by pid", async () => {
    const child = waker(40);
    const exited = new Promise((r) => child.once("exit", r));
    const r = await traceWhile("runqlat", ["--json", "-P", "-p", String(child.pid)], async () => {
      child.stdin?.write("go\n");
      await exited;
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.records.length, 1, JSON.stringify(r.records.map((x) => x.pid)));
    const rec = r.records[0] as { pid: number; val_type: string; data: Array<{ count: number }> };
    assert.equal(rec.pid, child.pid);
    assert.equal(rec.val_type, "usecs");
    assert.ok(rec.data.reduce((s, d) => s + d.count, 0) >= 35);
  });

  it("prints interval summaries and stops after count", async () => {
    const r = await traceWhile("runqlat", ["-T", "0.3", "2"], () => 0, { untilExit: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.filter((l) => /^\d\d:\d\d:\d\d$/.test(l)).length, 2, r.stdout);
  });
});
