import assert from "node:assert/strict";
import { closeSync, openSync } from "node:fs";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** Opens and closes a file n times: n allocations from the "filp" cache (struct file). */
function openFiles(n: number): void {
  for (let i = 0; i < n; i++) closeSync(openSync("/proc/self/stat", "r"));
}

describe("slabratetop", { skip: skipUnlessRoot }, () => {
  it("-C: counts the struct file allocations of files the test opens", async () => {
    const r = await traceWhile("slabratetop", ["-C", "-r", "100", "1", "1"], () => openFiles(5000), {
      untilExit: true,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing... Output every 1 secs. Hit Ctrl-C to end");
    assert.equal(r.lines[1], "");
    assert.match(r.lines[2] as string, /^\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+\/\d+ \d+$/);
    assert.equal(r.lines[3], "");
    assert.equal(r.lines[4], `${"CACHE".padEnd(32)} ${"ALLOCS".padStart(6)} ${"BYTES".padStart(10)}`);
    const row = r.lines.find((l) => l.startsWith("filp "));
    assert.ok(row, r.stdout);
    const [, allocs, bytes] = row.split(/ +/).map(Number);
    assert.ok((allocs as number) >= 5000, row);
    assert.equal((bytes as number) % (allocs as number), 0);
    assert.equal(r.lines.at(-1), "Detaching...");
    const sizes = r.lines.slice(5, -1).map((l) => Number(l.split(/ +/)[2]));
    assert.deepEqual(
      sizes,
      [...sizes].sort((x, y) => y - x),
      "sorted by bytes",
    );
  });

  it("--json -s count -r 3: the three caches with most allocations", async () => {
    const r = await traceWhile(
      "slabratetop",
      ["--json", "-s", "count", "-r", "3", "0.5", "1"],
      () => openFiles(20000),
      {
        untilExit: true,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.records.length, 3, r.stdout);
    // each open allocates once from several caches (filp, names_cache, lsm_file_cache, …),
    // so filp may tie with others for the top three: the top three all have 20000 or more
    const counts = r.records.map((x) => x.allocs as number);
    assert.deepEqual(
      counts,
      [...counts].sort((x, y) => y - x),
      r.stdout,
    );
    assert.ok((counts[2] as number) >= 20000, r.stdout);
    const all = await traceWhile(
      "slabratetop",
      ["--json", "-s", "count", "-r", "1000", "0.5", "1"],
      () => openFiles(20000),
      {
        untilExit: true,
      },
    );
    const filp = all.records.find((x) => x.cache === "filp");
    assert.ok(filp, all.stdout);
    assert.ok((filp.allocs as number) >= 20000);
    assert.equal(typeof filp.bytes, "number");
    const bad = await traceWhile("slabratetop", ["-s", "bytes"], () => 0);
    assert.equal(bad.code, 2);
  });
});
