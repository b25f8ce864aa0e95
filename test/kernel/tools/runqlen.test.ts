import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** n processes spinning on the CPU until killed. */
function spinners(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
}

describe("runqlen", { skip: skipUnlessRoot }, () => {
  it("samples every CPU 99 times a second: bcc's linear histogram", async () => {
    const r = await traceWhile("runqlen", ["0.5", "1"], () => 0, { untilExit: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Sampling run queue length... Hit Ctrl-C to end.");
    assert.equal(r.lines[1], "");
    assert.equal(r.lines[2], "     runqlen       : count     distribution");
    const total = [...r.stdout.matchAll(/^ +\d+ +: (\d+) +\|/gm)].reduce((s, m) => s + Number(m[1]), 0);
    // 99 Hz × 0.5 s × each CPU (an idle CPU is sampled too)
    assert.ok(total >= 40, r.stdout);
  });

  it("-O -C with more spinning processes than CPUs: a queue on some CPU; --json", async () => {
    const kids = spinners(4);
    try {
      await new Promise((r) => setTimeout(r, 200));
      const r = await traceWhile("runqlen", ["-O", "-C", "-T", "0.6", "1"], () => 0, { untilExit: true });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.lines[2] as string, /^\d\d:\d\d:\d\d$/);
      const occ = r.lines.slice(3).map((l) => {
        const m = /^runqocc, CPU (\d+) +(\d+\.\d\d)%$/.exec(l);
        assert.ok(m, r.stdout);
        return Number(m[2]);
      });
      assert.ok(occ.length >= 1);
      assert.ok(
        occ.some((x) => x > 0),
        r.stdout,
      );
      const j = await traceWhile("runqlen", ["--json", "-C", "0.4", "1"], () => 0, { untilExit: true });
      assert.equal(j.code, 0, j.stderr);
      assert.ok(j.records.length >= 1, j.stdout);
      for (const rec of j.records) {
        assert.equal(rec.val_type, "runqlen");
        assert.equal(typeof rec.cpu, "number");
      }
      const rows = j.records.flatMap((rec) => rec.data as Array<{ runqlen: number; count: number }>);
      assert.ok(
        rows.some((d) => d.runqlen >= 1 && d.count > 0),
        j.stdout,
      );
    } finally {
      for (const k of kids) k.kill("SIGKILL");
    }
  });
});
