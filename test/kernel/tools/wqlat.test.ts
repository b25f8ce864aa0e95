import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** Writes and syncs files: block and writeback work on the kernel's workqueues. */
function diskWork(dir: string): void {
  for (let i = 0; i < 3; i++) {
    const r = spawnSync("dd", [
      "if=/dev/zero",
      `of=${join(dir, `f${i}`)}`,
      "bs=64k",
      "count=32",
      "conv=fsync",
    ]);
    assert.equal(r.status, 0, String(r.stderr));
  }
  spawnSync("sync");
}

describe("wqlat", { skip: skipUnlessRoot }, () => {
  const dir = testTempDir("tsbpf-wqlat");

  it("prints bcc's histogram of queueing latency", async () => {
    const r = await traceWhile("wqlat", [], () => diskWork(dir), { settleMs: 600 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing work queue request latency time... Hit Ctrl-C to end.");
    assert.match(r.stdout, /\n {5}usecs {15}: count {5}distribution\n/);
    const total = [...r.stdout.matchAll(/-> \d+ +: (\d+) +\|/g)].reduce((s, m) => s + Number(m[1]), 0);
    assert.ok(total > 0, r.stdout);
  });

  it("-W --json: one histogram per workqueue; -w keeps one workqueue", async () => {
    const r = await traceWhile("wqlat", ["-W", "--json"], () => diskWork(dir), { settleMs: 600 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.records.length > 0, r.stdout);
    const names = r.records.map((x) => x.wqname as string);
    for (const rec of r.records) {
      assert.equal(rec.val_type, "usecs");
      assert.match(rec.wqname as string, /^[\w-]+/);
    }
    assert.equal(new Set(names).size, names.length, "one record per workqueue");
    const busiest = r.records
      .map((x) => ({
        name: x.wqname as string,
        n: (x.data as Array<{ count: number }>).reduce((s, d) => s + d.count, 0),
      }))
      .sort((x, y) => y.n - x.n)[0]?.name as string;
    const one = await traceWhile("wqlat", ["-W", "-N", "-w", busiest], () => diskWork(dir), {
      settleMs: 600,
    });
    const sections = one.lines.filter((l) => l.startsWith("wqname = "));
    assert.deepEqual(sections, [`wqname = ${busiest}`], one.stdout);
    assert.match(one.stdout, /\n {5}nsecs {15}: count/);
  });

  it("rejects a workqueue name of 24 bytes or more", async () => {
    const r = await traceWhile("wqlat", ["-w", "x".repeat(24)], () => 0);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /less than 24/);
  });
});
