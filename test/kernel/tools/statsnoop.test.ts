import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

function run(argv: string[]): number {
  return spawnSync(argv[0] as string, argv.slice(1), { stdio: "ignore" }).pid as number;
}

describe("statsnoop", { skip: skipUnlessRoot }, () => {
  const dir = testTempDir("tsbpf-statsnoop");
  const file = join(dir, "known");
  writeFileSync(file, "x");

  it("prints bcc's columns for stat calls of a child, failed ones with their errno", async () => {
    const r = await traceWhile("statsnoop", ["-t"], () => ({
      stat: run(["/usr/bin/stat", file]),
      statfs: run(["/usr/bin/stat", "-f", file]),
      missing: run(["/usr/bin/stat", `${dir}/missing`]),
    }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0] as string, /^TIME\(s\) {7}PID {5}COMM {15}FD ERR PATH$/);
    const rows = (pid: number) => r.lines.filter((l) => new RegExp(`^\\d+\\.\\d{9} +${pid} `).test(l));
    assert.ok(
      rows(r.result.stat).some((l) => new RegExp(` stat +0 +0 ${file}$`).test(l)),
      r.stdout,
    );
    assert.ok(rows(r.result.statfs).some((l) => l.endsWith(` 0 ${file}`)));
    assert.ok(
      rows(r.result.missing).some((l) => new RegExp(` +-1 +2 ${dir}/missing$`).test(l)),
      r.stdout,
    );
  });

  it("-x and -p filter; --json records", async () => {
    const r = await traceWhile("statsnoop", ["-x", "--json"], () => ({
      ok: run(["/usr/bin/stat", file]),
      missing: run(["/usr/bin/stat", `${dir}/missing-json`]),
    }));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.records.some((e) => e.pid === r.result.ok && e.path === file));
    const m = r.records.find((e) => e.pid === r.result.missing && e.path === `${dir}/missing-json`);
    assert.ok(m, JSON.stringify(r.records));
    assert.equal(m.comm, "stat");
    assert.equal(m.ret, -2);
    assert.equal(m.err, 2);
    assert.match(m.syscall as string, /stat/);
    const p = await traceWhile("statsnoop", ["-p", "1", "--json"], () => run(["/usr/bin/stat", file]));
    assert.ok(!p.records.some((e) => e.path === file));
  });
});
