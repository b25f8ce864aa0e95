import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** A child that, once told (a line on stdin), fails to open a missing file n times and exits. */
function opener(n: number) {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const fs = require("fs"); process.stdin.once("data", () => { for (let i = 0; i < ${n}; i++) { try { fs.openSync("/nonexistent/tsbpf-syscount"); } catch {} } process.exit(0); });`,
    ],
    { stdio: ["pipe", "ignore", "ignore"] },
  );
  const exited = new Promise((r) => child.once("exit", r));
  const go = () => {
    child.stdin?.write("go\n");
    return exited;
  };
  return { child, go };
}

describe("syscount", { skip: skipUnlessRoot }, () => {
  it("counts a child's failed openat calls (-p -x -e ENOENT --syscall openat), bcc's layout", async () => {
    const c = opener(50);
    const r = await traceWhile(
      "syscount",
      ["-p", String(c.child.pid), "-x", "-e", "ENOENT", "--syscall", "openat"],
      c.go,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing failed syscall 'openat'... Ctrl+C to quit.");
    assert.match(r.lines[1] as string, /^\[\d\d:\d\d:\d\d\]$/);
    assert.equal(r.lines[2], "SYSCALL                   COUNT");
    assert.equal(r.lines[3], `openat${" ".repeat(16)}       50`);
    assert.deepEqual(r.lines.slice(4), ["", "Detaching..."]);
  });

  it("-L -P --json: per-process count and total time", async () => {
    const c = opener(20);
    const r = await traceWhile("syscount", ["--json", "-L", "-P", "-p", String(c.child.pid)], c.go);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.records.length, 1, r.stdout);
    const rec = r.records[0] as Record<string, unknown>;
    assert.equal(rec.pid, c.child.pid);
    assert.ok((rec.count as number) >= 20, r.stdout);
    assert.equal(typeof rec.total_us, "number");
    assert.equal(typeof rec.time, "string");
    const text = await traceWhile("syscount", ["-L", "-m", "-p", String(process.pid)], () => 0);
    assert.equal(text.lines[2], "SYSCALL                   COUNT        TIME (ms)");
  });

  it("prints every interval until -d; -l lists names; an unknown --syscall is an error", async () => {
    const r = await traceWhile("syscount", ["-i", "0.3", "-d", "1", "-T", "3"], () => 0, { untilExit: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing syscalls, printing top 3... Ctrl+C to quit.");
    const stamps = r.lines.filter((l) => /^\[\d\d:\d\d:\d\d\]$/.test(l)).length;
    assert.ok(stamps >= 3 && stamps <= 4, r.stdout);
    assert.equal(r.lines.at(-1), "Detaching...");
    const list = await traceWhile("syscount", ["-l"], () => 0);
    assert.ok(
      list.lines.some((l) => /^openat +/.test(l) || / {3}openat\b/.test(l)),
      list.stdout,
    );
    const bad = await traceWhile("syscount", ["--syscall", "tsbpf_nonesuch"], () => 0);
    assert.equal(bad.code, 2);
  });
});
