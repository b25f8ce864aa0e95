import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** A child that wakes from a timer `n` times, every 2 ms, once told to start (a line on stdin). */
function waker(n: number) {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `process.stdin.once("data", () => { let i = 0; const t = setInterval(() => { if (++i >= ${n}) { clearInterval(t); process.exit(0); } }, 2); });`,
    ],
    { stdio: ["pipe", "ignore", "ignore"] },
  );
  const exited = new Promise((r) => child.once("exit", r));
  const go = () => {
    child.stdin?.write("go\n");
    return exited;
  };
  return { child, go };
}

describe("runqslower", { skip: skipUnlessRoot }, () => {
  it("threshold 0 (-p): a row per wait of the child's main thread, bcc's columns", async () => {
    const w = waker(50);
    const pid = w.child.pid as number;
    const r = await traceWhile("runqslower", ["-p", String(pid), "0"], w.go);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing run queue latency higher than 0 us");
    assert.equal(r.lines[1], "TIME     COMM             TID           LAT(us)");
    const mine = r.lines
      .slice(2)
      .filter((l) => new RegExp(`^\\d\\d:\\d\\d:\\d\\d node +${pid} +\\d+$`).test(l));
    assert.ok(mine.length >= 40, r.stdout);
  });

  it("--json -P -t: records with the previous task; a high threshold prints none", async () => {
    const w = waker(30);
    const pid = w.child.pid as number;
    const r = await traceWhile("runqslower", ["--json", "-P", "-t", String(pid), "0"], w.go);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.records.length >= 25, r.stdout);
    for (const rec of r.records) {
      assert.equal(rec.tid, pid);
      assert.equal(rec.comm, "node");
      assert.equal(typeof rec.lat_us, "number");
      assert.equal(typeof rec.prev_comm, "string");
      assert.equal(typeof rec.prev_tid, "number");
    }
    const w2 = waker(20);
    const none = await traceWhile("runqslower", ["-t", String(w2.child.pid), "10000000"], w2.go);
    assert.equal(none.lines.length, 2, none.stdout);
    const bad = await traceWhile("runqslower", ["-p", "1", "-t", "1"], () => 0);
    assert.equal(bad.code, 2);
  });
});
