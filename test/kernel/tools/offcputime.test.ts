import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** A shell that, once told (a line on stdin), becomes `sleep 0.3` (same pid) and exits. */
function sleeper() {
  const child = spawn("/bin/sh", ["-c", "read x; exec /bin/sleep 0.3"], {
    stdio: ["pipe", "ignore", "ignore"],
  });
  const exited = new Promise((r) => child.once("exit", r));
  const go = () => {
    child.stdin?.write("go\n");
    return exited;
  };
  return { child, go };
}

describe("offcputime", { skip: skipUnlessRoot }, () => {
  it("-K -p: the child's 300 ms nanosleep under its kernel stack, bcc's layout", async () => {
    const s = sleeper();
    const pid = s.child.pid as number;
    const r = await traceWhile("offcputime", ["-K", "-p", String(pid)], s.go);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], `Tracing off-CPU time (us) of PID ${pid} by kernel stack... Hit Ctrl-C to end.`);
    assert.equal(r.lines[1], "");
    const text = r.stdout;
    const blocks = text.split("\n\n").filter((b) => b.includes(`    -                sleep (${pid})\n`));
    const nano = blocks.find((b) => b.includes("\n    do_nanosleep\n"));
    assert.ok(nano, text);
    // the probe's own frames are dropped: the stack starts in the scheduler
    assert.match(nano, /(^|\n) {4}__schedule\n {4}schedule\n/);
    const us = Number(/\n {8}(\d+)$/.exec(nano)?.[1]);
    assert.ok(us >= 250000 && us < 2000000, nano);
  });

  it("-f: folded lines, outermost frame first; --json records", async () => {
    const s = sleeper();
    const pid = s.child.pid as number;
    const r = await traceWhile("offcputime", ["-f", "-p", String(pid)], s.go);
    assert.equal(r.code, 0, r.stderr);
    const line = r.lines.find((l) => l.startsWith("sleep;") && l.includes(";do_nanosleep;"));
    assert.ok(line, r.stdout);
    assert.match(line, /;do_nanosleep;.*schedule;__schedule \d+$/);
    const s2 = sleeper();
    const j = await traceWhile("offcputime", ["--json", "-t", String(s2.child.pid)], s2.go);
    assert.equal(j.code, 0, j.stderr);
    const rec = j.records.find((x) => (x.kernel_stack as string[] | null)?.includes("do_nanosleep"));
    assert.ok(rec, j.stdout);
    assert.deepEqual(
      { pid: rec.pid, tgid: rec.tgid, comm: rec.comm },
      { pid: s2.child.pid, tgid: s2.child.pid, comm: "sleep" },
    );
    assert.ok(Array.isArray(rec.user_stack));
    assert.ok((rec.total_us as number) >= 250000);
    // the same stacks as a flame graph and a pprof profile of microseconds
    const dir = testTempDir("tsbpf-offcputime");
    const s3 = sleeper();
    const files = ["--svg", join(dir, "off.svg"), "--pprof", join(dir, "off.pb.gz")];
    const f = await traceWhile("offcputime", ["-K", "-p", String(s3.child.pid), ...files], s3.go);
    assert.equal(f.code, 0, f.stderr);
    assert.match(readFileSync(join(dir, "off.svg"), "utf8"), /do_nanosleep/);
    const p = Profile.decode(gunzipSync(readFileSync(join(dir, "off.pb.gz"))));
    const str = (i: unknown) => p.stringTable.strings[Number(i)];
    assert.deepEqual([str(p.sampleType[0]?.type), str(p.sampleType[0]?.unit)], ["off-cpu", "microseconds"]);
    const nano = p.function.find((fn) => str(fn.name) === "do_nanosleep");
    assert.ok(nano, p.function.map((fn) => str(fn.name)).join(", "));
    const slept = p.sample
      .filter((smp) => smp.locationId.some((id) => Number(id) === Number(nano.id)))
      .reduce((n, smp) => n + Number(smp.value[0]), 0);
    assert.ok(slept >= 250000, String(slept));
    const bad = await traceWhile("offcputime", ["-U", "-K"], () => 0);
    assert.equal(bad.code, 2);
  });
});
