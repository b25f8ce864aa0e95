import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

function run(argv: string[]): number {
  return spawnSync(argv[0] as string, argv.slice(1), { stdio: "ignore" }).pid as number;
}

/** A pid no process has (pid_max is at least 32768 and pids are handed out upwards). */
const NO_PID = 4194303;

describe("killsnoop", { skip: skipUnlessRoot }, () => {
  it("prints bcc's columns for a signal a child sends, and a failed kill", async () => {
    const target = spawn("/bin/sleep", ["10"], { stdio: "ignore" });
    const gone = new Promise((r) => target.once("exit", r));
    const r = await traceWhile("killsnoop", [], async () => {
      const failed = run(["/bin/kill", "-0", String(NO_PID)]);
      const sender = run(["/bin/kill", "-USR1", String(target.pid)]);
      await gone;
      return { sender, failed };
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0] as string, /^TIME {6}PID +COMM {13}SIG {2}TPID +RESULT$/);
    const row = r.lines.find((l) => new RegExp(` ${r.result.sender} +kill `).test(l));
    assert.match(
      row ?? r.stdout,
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d +${r.result.sender} +kill +10 +${target.pid} +0$`),
    );
    const bad = r.lines.find((l) => new RegExp(` ${r.result.failed} +kill `).test(l));
    assert.match(bad ?? r.stdout, new RegExp(` +0 +${NO_PID} +-3$`));
  });

  it("-x, -s, -T and -p filter; tgkill is traced; --json records", async () => {
    const r = await traceWhile("killsnoop", ["-x", "--json"], () => ({
      ok: run(["/bin/kill", "-0", String(process.pid)]),
      failed: run(["/bin/kill", "-0", String(NO_PID)]),
    }));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.records.some((e) => e.pid === r.result.ok));
    const f = r.records.find((e) => e.pid === r.result.failed);
    assert.deepEqual(
      { comm: f?.comm, sig: f?.sig, tpid: f?.tpid, ret: f?.ret, syscall: f?.syscall },
      { comm: "kill", sig: 0, tpid: NO_PID, ret: -3, syscall: "kill" },
    );
    const s = await traceWhile("killsnoop", ["-s", "0", "-T", String(process.pid), "--json"], () => ({
      sig0: run(["/bin/kill", "-0", String(process.pid)]),
      other: run(["/bin/kill", "-0", "1"]),
    }));
    assert.ok(s.records.some((e) => e.pid === s.result.sig0));
    assert.ok(!s.records.some((e) => e.pid === s.result.other));
    const p = await traceWhile("killsnoop", ["-p", "1", "--json"], () => run(["/bin/kill", "-0", "1"]));
    assert.equal(p.records.length, 0);
    const tg = await traceWhile("killsnoop", ["--json", "-s", "0"], () =>
      run([
        "/usr/bin/python3",
        "-c",
        "import signal, threading; signal.pthread_kill(threading.get_ident(), 0)",
      ]),
    );
    const rec = tg.records.find((e) => e.pid === tg.result);
    assert.deepEqual(
      { syscall: rec?.syscall, tpid: rec?.tpid, ret: rec?.ret },
      { syscall: "tgkill", tpid: tg.result, ret: 0 },
    );
  });
});
