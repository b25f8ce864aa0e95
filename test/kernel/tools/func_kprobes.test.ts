/**
 * funccount's and funclatency's kernel-function forms, through kprobes and
 * kretprobes, one BPF cookie per function. This machine's kernel has no
 * kprobes (the error is tested in funccount.test.ts and
 * funclatency.test.ts); these run in the kernel matrix (Debian's 6.1).
 * @kernel-matrix kprobes and kretprobes attach there.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BPF } from "../../../src/index.js";
import { kprobeSupport } from "../../../src/kernel/features.js";
import { skipUnlessRoot } from "../../helpers.js";
import { getppidCaller, pythonChild } from "./activity.js";
import { traceWhile } from "./run_tool.js";

const skip =
  skipUnlessRoot || (kprobeSupport() !== "yes" && "this kernel has no kprobes: runs in the kernel matrix");

/**
 * A python3 child that reads one byte of /dev/zero 200 times when told,
 * through read(2) → vfs_read(); it then waits for stdin's end in select(2),
 * not in a read, which vfs_read* would count.
 */
function zeroReader() {
  return pythonChild("fd = os.open('/dev/zero', os.O_RDONLY)\nfor _ in range(200): os.read(fd, 1)", {
    tail: "select.select([sys.stdin], [], [])",
  });
}

/** The FUNC / COUNT rows of a funccount run. */
function rows(lines: string[]): Array<[string, number]> {
  const i = lines.findIndex((l) => l.startsWith("FUNC "));
  assert.ok(i >= 0, lines.join("\n"));
  return lines
    .slice(i + 1, lines.indexOf("Detaching..."))
    .map((l) => /^(\S+) +(\d+)$/.exec(l))
    .map((m) => [m?.[1] as string, Number(m?.[2])]);
}

describe("funccount and funclatency on kernel functions (kprobes)", { skip }, () => {
  it("funccount -p PID 'vfs_read*': vfs_read() exactly 200 times, each match its own probe", async () => {
    const c = zeroReader();
    const r = await traceWhile("funccount", ["-D", "-p", String(c.pid), "vfs_read*"], c.go);
    c.end();
    assert.equal(r.code, 0, r.stderr);
    const n = BPF.getKprobeFunctions(/^vfs_read.*$/).length;
    assert.ok(n >= 2, "vfs_read and vfs_readv at least");
    assert.equal(r.lines.filter((l) => /^cookie \d+: kprobe vfs_read/.test(l)).length, n);
    assert.ok(r.lines.includes(`Tracing ${n} functions for "vfs_read*"... Hit Ctrl-C to end.`), r.stdout);
    assert.deepEqual(rows(r.lines), [["vfs_read", 200]]);
  });

  it("funccount -p PID '*sys_getppid': the syscall's functions, each 1000 times", async () => {
    const c = getppidCaller();
    const r = await traceWhile("funccount", ["-p", String(c.pid), "*sys_getppid"], c.go);
    c.end();
    assert.equal(r.code, 0, r.stderr);
    const got = rows(r.lines);
    assert.ok(got.length > 0, r.stdout);
    for (const [name, count] of got) {
      assert.match(name, /sys_getppid$/);
      assert.equal(count, 1000, r.stdout);
    }
  });

  it("funclatency -p PID on the getppid syscall's function: 1000 timings; -F a histogram named after it", async () => {
    // 6.1 lists __do_sys_getppid, not __x64_sys_getppid, in available_filter_functions
    const fn = BPF.getKprobeFunctions(/^(__x64_sys_getppid|__do_sys_getppid)$/)[0];
    assert.ok(fn, "a getppid syscall function to probe");
    const c = getppidCaller();
    const r = await traceWhile("funclatency", ["--json", "-p", String(c.pid), fn], c.go);
    c.end();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.records.length, 2, r.stdout);
    const [rec, summary] = r.records as [Record<string, unknown>, Record<string, unknown>];
    assert.equal(summary.count, 1000);
    const data = rec.data as Array<Record<string, number>>;
    assert.equal(
      data.reduce((s, d) => s + (d.count ?? 0), 0),
      1000,
    );

    const c2 = getppidCaller();
    const f = await traceWhile("funclatency", ["-F", "-u", "-p", String(c2.pid), fn], c2.go);
    c2.end();
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, new RegExp(`\\nFunction = ${fn}\\n {5}usecs {15}: count`));
    assert.match(f.stdout, /\navg = \d+ usecs, total: \d+ usecs, count: 1000\n/);
  });
});
