import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

function py(code: string): number {
  return spawnSync("/usr/bin/python3", ["-c", code], { stdio: "ignore" }).pid as number;
}

describe("syncsnoop", { skip: skipUnlessRoot }, () => {
  const dir = testTempDir("tsbpf-syncsnoop");
  const file = join(dir, "f");
  const code = [
    "import os, mmap",
    `fd = os.open(${JSON.stringify(file)}, os.O_RDWR | os.O_CREAT)`,
    "os.write(fd, b'x' * 4096)",
    "os.fsync(fd)",
    "os.fdatasync(fd)",
    "m = mmap.mmap(fd, 4096)",
    "m.flush()",
    "os.sync()",
  ].join("; ");

  it("prints bcc's columns, one row per call, and --json records with pid and fd", async () => {
    const r = await traceWhile("syncsnoop", [], () => py(code));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], `${"TIME(s)".padEnd(18)} CALL`);
    for (const call of ["fsync", "fdatasync", "msync", "sync"]) {
      assert.ok(
        r.lines.some((l) => new RegExp(`^\\d+\\.\\d{9} +${call}\\(\\)$`).test(l)),
        `${call}: ${r.stdout}`,
      );
    }
    const j = await traceWhile("syncsnoop", ["--json"], () => py(code));
    const mine = j.records.filter((e) => e.pid === j.result);
    assert.deepEqual(
      mine.map((e) => e.call),
      ["fsync", "fdatasync", "msync", "sync"],
    );
    const fsync = mine[0] as Record<string, unknown>;
    assert.equal(fsync.comm, "python3");
    assert.equal(fsync.fd, 3);
    assert.equal(mine[3]?.fd, null);
  });
});
