import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** A node child that looks up "localhost" (/etc/hosts) through libc's getaddrinfo. */
function lookup(): number {
  const r = spawnSync(
    process.execPath,
    ["-e", "require('dns').lookup('localhost', (err) => process.exit(err ? 1 : 0))"],
    { stdio: "ignore" },
  );
  assert.equal(r.status, 0);
  return r.pid as number;
}

describe("gethostlatency", { skip: skipUnlessRoot }, () => {
  it("prints bcc's columns for a child's getaddrinfo", async () => {
    const r = await traceWhile("gethostlatency", [], lookup);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "TIME      PID     COMM                  LATms HOST");
    const row = r.lines.find((l) => new RegExp(`^\\S+ +${r.result} `).test(l));
    assert.ok(row, r.stdout);
    assert.match(row, new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${r.result} +\\S+ +\\d+\\.\\d\\d localhost$`));
  });

  it("--json -p PID: only that process", async () => {
    const other = await traceWhile("gethostlatency", ["--json", "-p", String(process.pid)], lookup);
    assert.equal(other.code, 0, other.stderr);
    assert.equal(
      other.records.some((x) => x.pid === other.result),
      false,
    );
    const r = await traceWhile("gethostlatency", ["--json"], lookup);
    const rec = r.records.find((x) => x.pid === r.result);
    assert.ok(rec, r.stdout);
    assert.equal(rec.host, "localhost");
    assert.equal(typeof rec.lat_ms, "number");
    assert.equal(typeof rec.comm, "string");
  });
});
