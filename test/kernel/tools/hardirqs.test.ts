import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** Interrupt counts by handler name from /proc/interrupts (summed over CPUs). */
function interrupts(): Map<string, number> {
  const m = new Map<string, number>();
  const lines = readFileSync("/proc/interrupts", "utf8").split("\n");
  const cpus = (lines[0] ?? "").trim().split(/\s+/).length;
  for (const l of lines.slice(1)) {
    const f = l.trim().split(/\s+/);
    if (!/^\d+:$/.test(f[0] ?? "")) continue;
    const n = f.slice(1, 1 + cpus).reduce((s, x) => s + Number(x), 0);
    const name = f.slice(1 + cpus + 2).join(" ") || (f[f.length - 1] as string);
    m.set(name, (m.get(name) ?? 0) + n);
  }
  return m;
}

/** Writes and syncs a file with direct I/O: block device interrupts. Returns the handler that fired most. */
function diskIo(dir: string): string {
  const before = interrupts();
  for (let i = 0; i < 3; i++) {
    const r = spawnSync("dd", [
      "if=/dev/zero",
      `of=${join(dir, "f")}`,
      "bs=64k",
      "count=64",
      "oflag=direct",
      "conv=fsync",
    ]);
    assert.equal(r.status, 0, String(r.stderr));
  }
  const after = interrupts();
  let best = "";
  let most = 0;
  for (const [name, n] of after) {
    const d = n - (before.get(name) ?? 0);
    if (d > most && /virtio|nvme|ahci|ata|sd|req/.test(name)) {
      most = d;
      best = name;
    }
  }
  return best;
}

describe("hardirqs", { skip: skipUnlessRoot }, () => {
  const dir = testTempDir("tsbpf-hardirqs");

  it("-C counts the disk's interrupts while the test writes with direct I/O", async () => {
    const r = await traceWhile("hardirqs", ["-C"], () => diskIo(dir));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing hard irq events... Hit Ctrl-C to end.");
    assert.equal(r.lines[1], "");
    assert.equal(r.lines[2], `${"HARDIRQ".padEnd(26)} ${"TOTAL_count".padStart(11)}`);
    assert.ok(r.result, "no disk interrupt seen in /proc/interrupts");
    const row = r.lines.find((l) => l.startsWith(`${r.result} `));
    assert.ok(row, `${r.result} not in:\n${r.stdout}`);
    assert.match(row, /^\S+ +\d+$/);
    assert.ok(Number(row.split(/ +/).pop()) >= 3, row);
  });

  it("-d: a histogram per handler; --json totals in usecs", async () => {
    const d = await traceWhile("hardirqs", ["-d"], () => diskIo(dir));
    assert.equal(d.code, 0, d.stderr);
    assert.ok(d.lines.includes(`hardirq = ${d.result}`), d.stdout);
    assert.match(d.stdout, /\n {5}usecs {15}: count {5}distribution\n/);
    const j = await traceWhile("hardirqs", ["--json"], () => diskIo(dir));
    const rec = j.records.find((x) => x.hardirq === j.result);
    assert.ok(rec, j.stdout);
    assert.equal(rec.unit, "usecs");
    assert.equal(typeof rec.total, "number");
    assert.equal(typeof rec.irq, "number");
  });

  it("prints interval summaries and stops after count; rejects -C with -d", async () => {
    const r = await traceWhile("hardirqs", ["-T", "0.3", "2"], () => 0, { untilExit: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.filter((l) => /^\d\d:\d\d:\d\d$/.test(l)).length, 2, r.stdout);
    const bad = await traceWhile("hardirqs", ["-C", "-d"], () => 0);
    assert.equal(bad.code, 2);
  });
});
