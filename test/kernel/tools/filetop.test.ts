import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileName } from "../../../tools/filetop.js";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { fileIo } from "./activity.js";
import { traceWhile } from "./run_tool.js";

describe("filetop", { skip: skipUnlessRoot }, () => {
  const dir = testTempDir("tsbpf-filetop");
  const file = join(dir, "known-file");

  it("-C: bcc's header and the child's row: reads, writes, Kbytes, type, file", async () => {
    const r = await traceWhile("filetop", ["-C", "-r", "100000", "30"], () => fileIo(dir, file));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^filetop: approximate: .*syscall tracepoints/);
    assert.equal(r.lines[0], "Tracing... Output every 30 secs. Hit Ctrl-C to end");
    assert.equal(r.lines[1], "");
    assert.match(r.lines[2] as string, /^\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+\/\d+ \d+$/);
    assert.equal(r.lines[3], "");
    assert.equal(r.lines[4], "TID     COMM             READS  WRITES R_Kb    W_Kb    T FILE");
    const mine = r.lines.filter((l) => l.startsWith(`${String(r.result).padEnd(7)} `));
    const row = mine.find((l) => l.endsWith(" known-file"));
    assert.equal(
      row,
      `${String(r.result).padEnd(7)} node             4      3      24      24      R known-file`,
    );
    // a name longer than 32 bytes: its first 29 and "...", as bcc shows it
    const long = mine.find((l) => l.endsWith(" R a-file-name-longer-than-dname..."));
    assert.ok(long, r.stdout);
    assert.match(long, / 0 +1 +0 +0 +R /);
    assert.equal(r.lines.at(-1), "Detaching...");
  });

  it("--json: one record per thread and file; -p; -s checked", async () => {
    const r = await traceWhile("filetop", ["--json", "-r", "100000", "30"], () => fileIo(dir, file));
    assert.equal(r.code, 0, r.stderr);
    const rec = r.records.find((x) => x.tid === r.result && x.file === "known-file");
    assert.ok(rec, r.stdout);
    const st = statSync(file);
    assert.deepEqual(
      { ...rec, time: undefined },
      {
        time: undefined,
        tid: r.result,
        comm: "node",
        reads: 4,
        writes: 3,
        rbytes: 24576,
        wbytes: 24576,
        type: "R",
        file: "known-file",
        inode: st.ino,
        major: Math.floor(st.dev / 256) & 0xfff,
        minor: (st.dev & 0xff) | ((st.dev >> 12) & 0xfff00),
      },
    );
    assert.match(rec.time as string, /^\d{4}-\d\d-\d\dT/);
    // -p: another process's I/O is not counted
    const p = await traceWhile("filetop", ["--json", "-p", String(process.pid), "-s", "wbytes", "30"], () =>
      fileIo(dir, file),
    );
    assert.equal(p.code, 0, p.stderr);
    assert.ok(!p.records.some((x) => x.tid === p.result), p.stdout);
    const bad = await traceWhile("filetop", ["-s", "bogus"], () => 0);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid choice: 'bogus'/);
  });

  it("cuts a long name as bcc does", () => {
    assert.equal(fileName("short", 5), "short");
    assert.equal(fileName("x".repeat(32), 40), `${"x".repeat(29)}...`);
  });
});
