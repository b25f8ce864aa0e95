import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

function run(argv: string[]): number {
  return spawnSync(argv[0] as string, argv.slice(1), { stdio: "ignore" }).pid as number;
}

/** A child killed by `sig` after it has started; resolves with its pid once it is gone. */
async function killed(sig: NodeJS.Signals): Promise<number> {
  const c = spawn("/bin/sleep", ["10"], { stdio: "ignore" });
  const gone = new Promise((r) => c.once("exit", r));
  await new Promise((r) => setTimeout(r, 50));
  c.kill(sig);
  await gone;
  return c.pid as number;
}

describe("exitsnoop", { skip: skipUnlessRoot }, () => {
  it("prints bcc's columns: exit codes, signals, age", async () => {
    const r = await traceWhile("exitsnoop", [], async () => ({
      ok: run(["/bin/true"]),
      code: run(["/bin/sh", "-c", "sleep 0.3; exit 3"]),
      term: await killed("SIGTERM"),
      usr1: await killed("SIGUSR1"),
    }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0] as string, /^PCOMM {12}PID {5}PPID {4}TID {5}AGE\(s\) {2}EXIT_CODE {1}$/);
    const row = (pid: number) => r.lines.find((l) => new RegExp(`^\\S+ +${pid} `).test(l)) ?? "";
    const me = process.pid;
    assert.match(
      row(r.result.ok),
      new RegExp(`^true +${r.result.ok} +${me} +${r.result.ok} +0\\.\\d\\d +0$`),
    );
    assert.match(
      row(r.result.code),
      new RegExp(`^sh +${r.result.code} +${me} +${r.result.code} +0\\.[3-9]\\d +code 3$`),
    );
    assert.match(row(r.result.term), / signal 15 \(TERM\)$/);
    assert.match(row(r.result.usr1), / signal 10 \(USR1\)$/);
  });

  it("-x leaves out exit(0); --json records; -t --label columns", async () => {
    const r = await traceWhile("exitsnoop", ["-x", "--json"], async () => ({
      ok: run(["/bin/true"]),
      fail: run(["/bin/false"]),
      kill: await killed("SIGKILL"),
    }));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.records.some((e) => e.pid === r.result.ok));
    const f = r.records.find((e) => e.pid === r.result.fail);
    assert.deepEqual(
      {
        comm: f?.comm,
        ppid: f?.ppid,
        tid: f?.tid,
        exit_code: f?.exit_code,
        signal: f?.signal,
        core: f?.core_dumped,
      },
      { comm: "false", ppid: process.pid, tid: r.result.fail, exit_code: 1, signal: null, core: false },
    );
    assert.equal(typeof f?.age, "number");
    const k = r.records.find((e) => e.pid === r.result.kill);
    assert.equal(k?.signal, 9);
    assert.equal(k?.signal_name, "KILL");
    const t = await traceWhile("exitsnoop", ["--utc", "--label=done"], () => run(["/bin/true"]));
    assert.match(t.lines[0] as string, /^TIME-UTC {5}LABEL PCOMM/);
    assert.ok(
      t.lines.some((l) => new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} +done +true +${t.result} `).test(l)),
      t.stdout,
    );
  });

  it("-p: ends by itself once that process has exited", async () => {
    const c = spawn("/bin/sleep", ["10"], { stdio: "ignore" });
    const r = await traceWhile(
      "exitsnoop",
      ["-p", String(c.pid)],
      async () => {
        run(["/bin/true"]);
        c.kill("SIGTERM");
      },
      { untilExit: true },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.length, 2, r.stdout);
    assert.match(r.lines[1] as string, new RegExp(`^sleep +${c.pid} .* signal 15 \\(TERM\\)$`));
  });
});
