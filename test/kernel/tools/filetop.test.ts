import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileName } from "../../../tools/filetop.js";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

const LONG = "a-file-name-longer-than-dname-inline-len.txt";

/**
 * A child (node, its main thread: TID = PID) that writes 24 KiB to `file`
 * (write, write, writev of 8 KiB each), reads them back with pread64 (three
 * reads of 8 KiB and one at the end that returns 0), and writes one byte to
 * a file with a long name. Returns its pid.
 */
function fileIo(dir: string, file: string): number {
  const script = `
    const fs = require("node:fs");
    const fd = fs.openSync(${JSON.stringify(file)}, "w+");
    const b = Buffer.alloc(8192, 120);
    fs.writeSync(fd, b);
    fs.writeSync(fd, b);
    fs.writevSync(fd, [b.subarray(0, 4096), b.subarray(4096)]);
    let pos = 0, n;
    while ((n = fs.readSync(fd, b, 0, 8192, pos)) > 0) pos += n;
    fs.closeSync(fd);
    fs.writeFileSync(${JSON.stringify(join(dir, LONG))}, "x");
  `;
  const r = spawnSync(process.execPath, ["-e", script], { stdio: ["ignore", "ignore", "inherit"] });
  assert.equal(r.status, 0);
  return r.pid as number;
}

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
