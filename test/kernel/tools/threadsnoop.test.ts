import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/**
 * A Node.js child: it starts its platform worker threads with pthread_create
 * at startup, and lives on a while (FUNC is looked up in the process's maps
 * when the event arrives, as bcc does: a process gone by then shows addresses).
 */
async function nodeChild(): Promise<number> {
  const c = spawn(process.execPath, ["-e", "setTimeout(() => {}, 1500)"], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 700));
  return c.pid as number;
}

describe("threadsnoop", { skip: skipUnlessRoot }, () => {
  it("prints bcc's columns with the function each new thread starts in", async () => {
    const r = await traceWhile("threadsnoop", [], nodeChild);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], `${"TIME(ms)".padEnd(10)} ${"PID".padEnd(7)} ${"COMM".padEnd(16)} FUNC`);
    const mine = r.lines.filter((l) => new RegExp(`^\\d+ +${r.result} `).test(l));
    assert.ok(mine.length >= 2, r.stdout);
    assert.ok(
      mine.some((l) => /^\d+ +\d+ +node +node::.*PlatformWorkerThread\(void\*\)$/.test(l)),
      mine.join("\n"),
    );
  });

  it("--json records; -p filters", async () => {
    const r = await traceWhile(
      "threadsnoop",
      ["--json"],
      () =>
        spawnSync(
          "/usr/bin/python3",
          ["-c", "import threading; t = threading.Thread(target=print); t.start(); t.join()"],
          {
            stdio: "ignore",
          },
        ).pid,
    );
    const mine = r.records.filter((e) => e.pid === r.result);
    assert.equal(mine.length, 1, JSON.stringify(r.records));
    assert.equal(mine[0]?.comm, "python3");
    assert.equal(mine[0]?.tid, r.result);
    assert.match(mine[0]?.start as string, /^0x[0-9a-f]+$/);
    assert.equal(typeof mine[0]?.func, "string");
    const p = await traceWhile("threadsnoop", ["--json", "-p", "1"], nodeChild);
    assert.ok(!p.records.some((e) => e.pid === p.result));
  });
});
