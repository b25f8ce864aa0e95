import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** A child that, once told (a line on stdin), sleeps 20 ms `n` times (each a switch out and in). */
function sleeper(n: number) {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `process.stdin.once("data", () => { const sab = new Int32Array(new SharedArrayBuffer(4)); for (let i = 0; i < ${n}; i++) Atomics.wait(sab, 0, 0, 20); process.exit(0); });`,
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

function buckets(stdout: string): Array<[number, number]> {
  return [...stdout.matchAll(/^ +(\d+) -> \d+ +: (\d+) +\|/gm)].map((m) => [Number(m[1]), Number(m[2])]);
}

describe("cpudist", { skip: skipUnlessRoot }, () => {
  it("-O -m -L: the child's 20 ms sleeps are off-CPU times of 16-31 ms, in its thread's section", async () => {
    const s = sleeper(20);
    const pid = s.child.pid as number;
    const r = await traceWhile("cpudist", ["-O", "-m", "-L", "-p", String(pid)], s.go);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing off-CPU time... Hit Ctrl-C to end.");
    // the main thread's section: "tid = PID node" (its comm read while it lives, else the number)
    const at = r.stdout.search(new RegExp(`\ntid = ${pid}( node)?\n {5}msecs {15}: count`));
    assert.ok(at >= 0, r.stdout);
    const section = r.stdout.slice(at + 1).split("\n\n")[0] as string;
    const rows = new Map(buckets(section));
    assert.ok((rows.get(16) ?? 0) >= 18, r.stdout);
  });

  it("on-CPU time (-P --json -e): a histogram per process and the summary record", async () => {
    const s = sleeper(10);
    const pid = s.child.pid as number;
    const r = await traceWhile("cpudist", ["--json", "-P", "-e", "-p", String(pid)], s.go);
    assert.equal(r.code, 0, r.stderr);
    const hist = r.records.find((x) => x.pid === pid) as { val_type: string; data: Array<{ count: number }> };
    assert.ok(hist, r.stdout);
    assert.equal(hist.val_type, "usecs");
    const n = hist.data.reduce((t, d) => t + d.count, 0);
    assert.ok(n >= 10, r.stdout);
    const ext = r.records.find((x) => "avg" in x) as { count: number; total: number; avg: number };
    assert.ok(ext, r.stdout);
    assert.ok(ext.count >= n && ext.avg === Math.trunc(ext.total / ext.count), r.stdout);
  });
});
