/**
 * Chapter 9, kfunc / kretfunc: check_kfunc answers like bcc's
 * support_kfunc(), opensnoop_simple prints a row for each open of a
 * process we spawn (through its kretfunc where the kernel runs fexit
 * programs, the openat tracepoints here).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { BPF } from "../../../src/index.js";
import { runChild, sameOnEveryKernel, skipUnlessRoot } from "../../helpers.js";
import { assertMechanism, kernelHas, runExample, runExampleSync } from "./run_example.js";

const HEADER = "PID    COMM               FD ERR PATH";

describe("kfunc", { skip: skipUnlessRoot }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-opensnoop-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("kfunc/check_kfunc prints what support_kfunc() says, in Python's spelling", () => {
    const r = runExampleSync("kfunc/check_kfunc");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, BPF.supportKfunc() ? "True\n" : "False\n");
    assert.equal(r.stderr, "");
  });

  it("kfunc/opensnoop_simple prints PID COMM FD ERR PATH for opens that succeed and fail", async () => {
    const present = join(dir, "present");
    const missing = join(dir, "missing");
    writeFileSync(present, "x");
    const pids = new Set<number>();
    const rowFor = (out: string, path: string): string | undefined =>
      out.split("\n").find((l) => l.endsWith(` ${path}`) && pids.has(Number(l.slice(0, 6))));
    const r = await runExample("kfunc/opensnoop_simple", {
      ready: (out) => out.includes(HEADER),
      activity: () => {
        // cat opens the file it is given (openat, through do_sys_openat2).
        pids.add(runChild(["/bin/cat", present]));
        pids.add(runChild(["/bin/cat", missing]));
      },
      until: (out) => rowFor(out, present) !== undefined && rowFor(out, missing) !== undefined,
    });
    assert.ok(r.matched, `no rows for ${[...pids].join(", ")}:\n${r.stdout.slice(-3000)}\n${r.stderr}`);
    assert.equal(r.stdout.split("\n")[0], HEADER);
    // "%-6d %-16s %4d %3d %s"
    const ok = rowFor(r.stdout, present) as string;
    assert.match(ok.slice(0, 7), /^\d+ +$/);
    assert.equal(ok.slice(7, 24), `${"cat".padEnd(16)} `);
    assert.match(ok.slice(24, 28), /^ *\d+$/, "a file descriptor");
    assert.ok(Number(ok.slice(24, 28)) >= 3);
    assert.equal(ok.slice(28, 33), "   0 ");
    assert.equal(ok.slice(33), present);
    const failed = rowFor(r.stdout, missing) as string;
    assert.equal(failed.slice(7, 33), `${"cat".padEnd(16)}   -1   2 `, "FD -1, ERR ENOENT");
    assert.equal(failed.slice(33), missing);
    assertMechanism(
      "opensnoop_simple",
      r.stderr,
      "fexit",
      /^opensnoop_simple: kretfunc \(fexit\) programs are not available .*; using tracepoints syscalls:sys_enter_openat\/sys_exit_openat instead$/,
    );
  });

  it("kfunc/opensnoop_simple polls for 10 seconds and ends by itself (and sooner with --duration)", {
    skip: sameOnEveryKernel,
  }, () => {
    // Without --duration it stops after its 10 seconds: status 0, not killed by the time limit.
    const r = runExampleSync("kfunc/opensnoop_simple", [], 60_000);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.split("\n")[0], HEADER);
    const d = runExampleSync("kfunc/opensnoop_simple", ["--duration", "1"], 60_000);
    assert.equal(d.status, 0, d.stderr);
    assert.equal(d.stdout.split("\n")[0], HEADER);
  });

  it("kfunc/opensnoop_simple --strict fails with the typed error where fexit is refused", (t) => {
    if (kernelHas("fexit")) {
      t.skip("this kernel runs fexit programs: --strict runs the original");
      return;
    }
    const r = runExampleSync("kfunc/opensnoop_simple", ["--strict"]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^opensnoop_simple: NotSupportedError: kretfunc \(fexit\) programs are not available on this kernel \(.+\); .*tracepoint/,
    );
    assert.equal(r.stdout, "");
  });
});
