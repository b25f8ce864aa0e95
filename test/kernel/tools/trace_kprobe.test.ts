/**
 * trace on kernel functions (kprobes and kretprobes): bcc's `p::func` and
 * `r::func` forms, a syscall wrapper's arguments (argN through the pt_regs
 * it is given), a signature on a kernel function, a user string read from a
 * kernel probe. This machine's kernel has no kprobes (trace.test.ts tests
 * the error there); these run in the kernel matrix.
 * @kernel-matrix kprobes attach there.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kprobeSupport } from "../../../src/kernel/features.js";
import { skipUnlessRoot } from "../../helpers.js";
import { getppidCaller, pythonChild } from "./activity.js";
import { traceWhile } from "./run_tool.js";

const skip =
  skipUnlessRoot ||
  (kprobeSupport() === "yes" ? false : "this kernel has no kprobes: runs in the kernel matrix");

/** A python3 child that, once told, opens a path that does not exist `times` times. */
function opener(path: string, times: number) {
  return pythonChild(
    `for _ in range(${times}):\n  try: os.open(${JSON.stringify(path)}, os.O_RDONLY)\n  except OSError: pass`,
  );
}

/** The message column of the rows of process pid at function func. */
const messages = (lines: string[], pid: number, func: string): string[] =>
  lines
    .filter((l) => l.startsWith(`${pid} `) && l.split(/ +/)[3] === func)
    .map((l) => l.slice(l.indexOf(func) + Math.max(16, func.length) + 1));

describe("trace on kernel functions", { skip }, () => {
  it("p:: and r:: on the getppid syscall: each of the child's 1000 calls, with its PID and result", async () => {
    const c = getppidCaller();
    const r = await traceWhile(
      "trace",
      ["-p", String(c.pid), "p::__x64_sys_getppid", 'r::__x64_sys_getppid (retval > 0) "ppid=%d", retval'],
      c.go,
    );
    c.end();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "PID     TID     COMM            FUNC             -");
    const rows = r.lines.filter((l) => l.startsWith(`${c.pid} `));
    const entries = rows.filter((l) => / __x64_sys_getppid +$/.test(l));
    const returns = messages(r.lines, c.pid, "__x64_sys_getppid").filter((m) => m !== "");
    assert.equal(entries.length, 1000, r.stdout.slice(0, 2000));
    assert.match(entries[0] as string, new RegExp(`^${c.pid} +${c.pid} +python3 +__x64_sys_getppid +$`));
    // the child's parent is this test process
    assert.deepEqual(new Set(returns), new Set([`ppid=${process.pid}`]));
    assert.equal(returns.length, 1000);
  });

  it("a syscall wrapper's argN, a signature on a kernel function, STRCMP on user and kernel strings", async () => {
    const path = `/tmp/tsbpf-trace-kprobe-${process.pid}-absent`;
    const o = opener(path, 3);
    const r = await traceWhile(
      "trace",
      [
        "-p",
        String(o.pid),
        `p::__x64_sys_openat (STRCMP(${JSON.stringify(path)}, arg2@user)) "%s %x", arg2@user, arg3`,
        // a kernel string, through a pointer the signature types (implicit kernel reads)
        `p::do_filp_open(int dfd, struct filename *pathname) (STRCMP(${JSON.stringify(path)}, pathname->name)) "dfd=%d %s", dfd, pathname->name`,
      ],
      o.go,
    );
    o.end();
    assert.equal(r.code, 0, r.stderr);
    // Python's os.open() adds O_CLOEXEC (0x80000 on x86)
    assert.deepEqual(messages(r.lines, o.pid, "__x64_sys_openat"), [
      `${path} 80000`,
      `${path} 80000`,
      `${path} 80000`,
    ]);
    assert.deepEqual(messages(r.lines, o.pid, "do_filp_open"), [
      `dfd=-100 ${path}`,
      `dfd=-100 ${path}`,
      `dfd=-100 ${path}`,
    ]);
  });
});
