import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CacheTotals, cacheRatio } from "../../../tools/cachestat.js";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

const PAGES = 8192; // a 32 MB file

describe("cachestat", () => {
  it("bcc's arithmetic", () => {
    assert.deepEqual(cacheRatio(100, 30, 10), { hits: 80, misses: 20, ratio: 0.8 });
    assert.deepEqual(cacheRatio(10, 30, 0), { hits: 0, misses: 10, ratio: 0 });
    assert.deepEqual(cacheRatio(0, 0, 5), { hits: 0, misses: 0, ratio: 0 });
  });

  it("--prometheus: totals that only grow, hits and misses derived update by update", () => {
    const t = new CacheTotals(false);
    const totals = () => ({
      accesses: t.accesses,
      hits: t.hits,
      misses: t.misses,
      added: t.added,
      dirtied: t.dirtied,
      buffers: t.buffers,
    });
    t.update([100, 30, 10, 4]);
    assert.deepEqual(totals(), { accesses: 100, hits: 80, misses: 20, added: 30, dirtied: 10, buffers: 4 });
    // more pages added than accessed since: all 50 accesses are misses, the hits stay
    t.update([150, 130, 10, 4]);
    assert.deepEqual(totals(), { accesses: 150, hits: 80, misses: 70, added: 130, dirtied: 10, buffers: 4 });
    t.update([150, 130, 10, 4]);
    assert.equal(t.accesses, 150);
    // bcc's function hooks: mark_page_accessed() calls less mark_buffer_dirty() ones
    const f = new CacheTotals(true);
    f.update([100, 0, 0, 30]);
    assert.deepEqual([f.accesses, f.hits, f.misses, f.buffers], [70, 70, 0, 30]);
    f.update([110, 0, 0, 60]);
    assert.deepEqual([f.accesses, f.hits, f.misses, f.buffers], [70, 70, 0, 60]);
  });

  describe("kernel", { skip: skipUnlessRoot }, () => {
    const dir = testTempDir("tsbpf-cachestat");
    const file = join(dir, "data");
    // written back (fsync), so that its pages can be dropped later
    const fd = openSync(file, "w");
    writeSync(fd, Buffer.alloc(PAGES * 4096, 7));
    fsyncSync(fd);
    closeSync(fd);
    readFileSync(file);

    it("counts the hits of a cached file the test reads, bcc's columns", async () => {
      const r = await traceWhile(
        "cachestat",
        ["-T", "1", "1"],
        () => {
          readFileSync(file);
        },
        { untilExit: true },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.lines[0], "TIME         HITS   MISSES  DIRTIES HITRATIO   BUFFERS_MB  CACHED_MB");
      const row = r.lines[1] as string;
      assert.match(row, /^\d\d:\d\d:\d\d +\d+ +\d+ +\d+ +\d+\.\d\d% +\d+ +\d+$/);
      // every page read is a hit unless memory pressure evicted it since it was written: then a miss
      const [hits, misses] = row.split(/ +/).slice(1, 3).map(Number) as [number, number];
      assert.ok(hits + misses >= PAGES, row);
      assert.ok(hits >= PAGES / 2, row);
      assert.match(r.stderr, /approximate/);
    });

    it("--json: the misses of the file read after its pages were dropped", async () => {
      // drop this file's pages only (posix_fadvise DONTNEED)
      const drop = spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0"]);
      assert.equal(drop.status, 0, String(drop.stderr));
      const r = await traceWhile(
        "cachestat",
        ["--json", "1", "1"],
        () => {
          readFileSync(file);
        },
        { untilExit: true },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.records.length, 1);
      const rec = r.records[0] as Record<string, number>;
      assert.ok((rec.misses as number) >= PAGES / 2, JSON.stringify(rec));
      for (const k of ["hits", "dirties", "hitratio", "buffers_mb", "cached_mb"])
        assert.equal(typeof rec[k], "number");
    });
  });
});
