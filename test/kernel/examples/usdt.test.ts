/**
 * Chapter 5 end to end, as a user runs it: the C target with the USDT probe
 * target-sample:test-probe (a provider with a dash) started through its
 * example, then probe_sample PID reading the probe's counter and string.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { USDT } from "../../../src/index.js";
import { uprobeSupport } from "../../../src/kernel/features.js";
import { ccPresent, sdtHeaderPresent } from "../../c_targets.js";
import { type Running, skipUnlessRoot, startNode, waitFor } from "../../helpers.js";
import { runExample, runExampleSync } from "./run_example.js";

const skip =
  skipUnlessRoot ||
  (ccPresent && sdtHeaderPresent
    ? false
    : "needs cc and <sys/sdt.h> (systemtap-sdt-dev) to build the target") ||
  (uprobeSupport() === "yes" ? false : "this kernel has no uprobes (CONFIG_UPROBES)");

const TARGET_PID = /^target_sample: pid (\d+), firing target-sample:test-probe once a second$/m;
const FIRED = /^test-probe fired: counter (\d+), text "hello (\d+)"$/;
const HEADER = "TIME(s)            COMM             PID    MESSAGE";

async function startTarget(): Promise<{ r: Running; pid: number }> {
  const r = startNode("examples/usdt/target_sample.js");
  const ok = await waitFor(() => TARGET_PID.test(r.stdout()) || r.child.exitCode !== null, 60_000);
  assert.ok(ok && TARGET_PID.test(r.stdout()), `target_sample did not start: ${r.stdout()}${r.stderr()}`);
  return { r, pid: Number(TARGET_PID.exec(r.stdout())?.[1]) };
}

/** probe_sample's rows of pid: "%-18.9f %-16s %-6d %s" with the message "counter:N  text:hello N". */
function probeRows(stdout: string, pid: number): Array<{ line: string; task: string; counter: number }> {
  const out: Array<{ line: string; task: string; counter: number }> = [];
  for (const line of stdout.split("\n")) {
    const m = /^(\d+\.\d{9}) +(.{16}) (\d+) +(counter:.*)$/.exec(line);
    if (!m || Number(m[3]) !== pid) continue;
    const msg = /^counter:(\d+) {2}text:hello (\d+)$/.exec(m[4] as string);
    assert.ok(msg, `unexpected message in ${line}`);
    assert.equal(msg[2], msg[1], `the string belongs to the same firing: ${line}`);
    out.push({ line, task: (m[2] as string).trimEnd(), counter: Number(msg[1]) });
  }
  return out;
}

describe("usdt", { skip }, () => {
  it('"usdt/target_sample" builds the target and prints each firing of its probe', async () => {
    const res = await runExample("usdt/target_sample", {
      ready: (out) => TARGET_PID.test(out),
      until: (out) => out.split("\n").filter((l) => FIRED.test(l)).length >= 2,
      timeoutMs: 60_000,
    });
    assert.ok(res.matched, res.stdout + res.stderr);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trimEnd().split("\n");
    assert.match(lines[0] as string, TARGET_PID);
    lines.slice(1).forEach((l, k) => {
      const m = FIRED.exec(l);
      assert.ok(m, l);
      assert.equal(Number(m[1]), k + 1);
      assert.equal(m[2], m[1]);
    });
  });

  it('"usdt/probe_sample" PID reads the counter and the string of target-sample:test-probe', async () => {
    const { r, pid } = await startTarget();
    try {
      // The probe as the library sees it: a provider with a dash, two arguments.
      const probe = new USDT({ pid }).enumerateProbes().find((p) => p.name === "test-probe");
      assert.equal(probe?.provider, "target-sample");
      assert.equal(probe?.numArguments, 2);

      const res = await runExample("usdt/probe_sample", {
        args: [String(pid)],
        ready: (out) => out.startsWith(HEADER),
        until: (out) => probeRows(out, pid).length >= 3,
      });
      assert.ok(res.matched, `no rows for pid ${pid}:\n${res.stdout}${res.stderr}`);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stderr, "");
      assert.equal(res.stdout.split("\n")[0], HEADER);
      const mine = probeRows(res.stdout, pid);
      for (const row of mine) {
        assert.ok(row.task === "target_sample" || row.task === "<...>", row.line); // <...>: comm cache miss
        assert.equal(row.line.slice(19, 36), `${"target_sample".padEnd(16)} `, row.line);
        assert.equal(row.line.slice(36, 43), `${String(pid).padEnd(6)} `, row.line);
      }
      for (let k = 0; k < mine.length; k++) {
        const c = (mine[k] as { counter: number }).counter;
        if (k > 0) assert.equal(c, (mine[k - 1] as { counter: number }).counter + 1);
        assert.ok(c >= 1);
      }
      assert.ok(
        await waitFor(() =>
          mine.every((m) => r.stdout().includes(`test-probe fired: counter ${m.counter},`)),
        ),
        "the target printed every counter that was read",
      );
    } finally {
      r.child.kill("SIGINT");
      await r.exited;
    }
  });

  it('"usdt/probe_sample" needs a PID, and says so', () => {
    const none = runExampleSync("usdt/probe_sample", []);
    assert.equal(none.status, 1);
    assert.match(
      none.stderr,
      /^probe_sample: give the PID of the traced process; usage: usdt\/probe_sample PID\n$/,
    );
    const gone = runExampleSync("usdt/probe_sample", ["1073741808"]);
    assert.equal(gone.status, 1);
    assert.match(
      gone.stderr,
      /^probe_sample: BpfError: USDT: cannot read the mappings of process 1073741808/,
    );
  });
});
