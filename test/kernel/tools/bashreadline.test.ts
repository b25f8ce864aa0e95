import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** An interactive bash (it reads its input with readline, even from a pipe) given two commands. */
function bash(word: string): number {
  const r = spawnSync("/bin/bash", ["--norc", "--noprofile", "-i"], {
    input: `echo ${word}\nexit\n`,
    stdio: ["pipe", "ignore", "ignore"],
  });
  assert.equal(r.status, 0);
  return r.pid as number;
}

describe("bashreadline", { skip: skipUnlessRoot }, () => {
  it("prints the commands an interactive bash reads, bcc's columns", async () => {
    const r = await traceWhile("bashreadline", [], () => bash("tsbpf-readline"));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "TIME      PID     COMMAND");
    const rows = r.lines.filter((l) => new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${r.result} +`).test(l));
    assert.deepEqual(
      rows.map((l) => l.slice(18)),
      ["echo tsbpf-readline", "exit"],
      r.stdout,
    );
    assert.equal(rows[0]?.slice(10, 18), `${String(r.result).padEnd(7)} `);
  });

  it("--json: one object per line read", async () => {
    const r = await traceWhile("bashreadline", ["--json"], () => bash("tsbpf-json"));
    assert.equal(r.code, 0, r.stderr);
    const mine = r.records.filter((x) => x.pid === r.result);
    assert.deepEqual(
      mine.map((x) => x.command),
      ["echo tsbpf-json", "exit"],
    );
    assert.match(mine[0]?.time as string, /^\d{4}-/);
  });
});
