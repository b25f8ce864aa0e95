import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cgroup2Root } from "../../cgroup.js";
import { assertNothingLeft, kernelObjects, skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

function run(argv: string[]): number {
  const r = spawnSync(argv[0] as string, argv.slice(1), { stdio: "ignore" });
  return r.pid as number;
}

describe("execsnoop", { skip: skipUnlessRoot }, () => {
  it("prints bcc's columns for a process the test execs, with its arguments", async () => {
    const before = kernelObjects();
    const r = await traceWhile("execsnoop", ["-U"], () => run(["/bin/echo", "tsbpf-execsnoop", "two words"]));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0] as string, /^UID {3}PCOMM +PID +PPID +RET ARGS$/);
    const row = r.lines.find((l) => l.includes("tsbpf-execsnoop"));
    assert.ok(row, r.stdout);
    assert.match(
      row,
      new RegExp(`^0 +echo +${r.result} +${process.pid} +0 /bin/echo tsbpf-execsnoop two words$`),
    );
    await assertNothingLeft(before);
  });

  it("--json: one object per exec; failed execs only with -x", async () => {
    const r = await traceWhile("execsnoop", ["--json", "-x"], () => {
      const ok = run(["/bin/true", "tsbpf-json"]);
      // exec of a missing file fails with ENOENT: spawn reports it, the kernel saw the attempt
      spawnSync("/nonexistent/tsbpf-missing", ["x"]);
      return ok;
    });
    assert.equal(r.code, 0, r.stderr);
    const mine = r.records.find((e) => e.pid === r.result);
    assert.deepEqual(
      { comm: mine?.comm, ppid: mine?.ppid, ret: mine?.ret, args: mine?.args },
      { comm: "true", ppid: process.pid, ret: 0, args: ["/bin/true", "tsbpf-json"] },
    );
    const failed = r.records.find((e) => (e.args as string[])[0] === "/nonexistent/tsbpf-missing");
    assert.equal(failed?.ret, -2);
    const plain = await traceWhile("execsnoop", ["--json"], () => spawnSync("/nonexistent/tsbpf-missing2"));
    assert.equal(
      plain.records.some((e) => (e.args as string[])[0] === "/nonexistent/tsbpf-missing2"),
      false,
    );
  });

  it("filters by name (-n), parent pid (-P) and cgroup (--cgroup)", async () => {
    const r = await traceWhile("execsnoop", ["-n", "^echo$", "-P", String(process.pid)], () => {
      run(["/bin/true", "tsbpf-not-echo"]);
      spawnSync("/bin/sh", ["-c", "/bin/echo tsbpf-grandchild"], { stdio: "ignore" });
      return run(["/bin/echo", "tsbpf-child"]);
    });
    const rows = r.lines.slice(1);
    assert.ok(
      rows.some((l) => l.includes("tsbpf-child")),
      r.stdout,
    );
    assert.ok(!rows.some((l) => l.includes("tsbpf-not-echo") || l.includes("tsbpf-grandchild")), r.stdout);
    const dir = join(cgroup2Root(), `tsbpf-execsnoop-${process.pid}`);
    mkdirSync(join(dir, "child"), { recursive: true });
    try {
      const inCg = await traceWhile("execsnoop", ["--cgroup", dir], () => {
        run(["/bin/echo", "tsbpf-outside"]);
        // a process in a child cgroup of the one asked for counts too
        spawnSync("/bin/sh", ["-c", `echo $$ > ${dir}/child/cgroup.procs && exec /bin/echo tsbpf-inside`]);
      });
      assert.ok(
        inCg.lines.some((l) => l.endsWith("/bin/echo tsbpf-inside")),
        inCg.stdout,
      );
      assert.ok(!inCg.lines.some((l) => l.includes("tsbpf-outside")), inCg.stdout);
    } finally {
      rmdirSync(join(dir, "child"));
      rmdirSync(dir);
    }
    const cg = await traceWhile("execsnoop", ["--cgroup", "/sys/fs/cgroup/tsbpf-no-such"], () => 0);
    assert.equal(cg.code, 1);
    assert.match(cg.stderr, /cannot open cgroup \/sys\/fs\/cgroup\/tsbpf-no-such/);
  });

  it("rejects a bad option with bcc's usage status 2", async () => {
    const r = await traceWhile("execsnoop", ["-P", "abc"], () => 0);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /-P\/--ppid: expected an integer/);
  });
});
