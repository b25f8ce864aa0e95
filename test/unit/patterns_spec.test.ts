/**
 * bcc's event patterns (tools/lib/patterns.ts), as stackcount, funccount
 * and funclatency take them: the man pages' forms, written here afresh.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../tools/lib/args.js";
import { isKernelFunction, parsePattern } from "../../tools/lib/patterns.js";
import { parsePattern as stackcountParse } from "../../tools/stackcount.js";

describe("bcc's event patterns", () => {
  it("func and p::func: kernel functions, * a wildcard", () => {
    assert.deepEqual(parsePattern("do_nanosleep", false), {
      type: "p",
      library: "",
      regex: /^do_nanosleep$/,
    });
    assert.deepEqual(parsePattern("p::do_nanosleep", false), parsePattern("do_nanosleep", false));
    const vfs = parsePattern("vfs_*", false);
    assert.ok(isKernelFunction(vfs));
    assert.ok(vfs.regex.test("vfs_read") && vfs.regex.test("vfs_") && !vfs.regex.test("xvfs_read"));
    const both = parsePattern("*sys_getppid", false);
    assert.ok(both.regex.test("__x64_sys_getppid") && both.regex.test("__do_sys_getppid"));
    assert.ok(!both.regex.test("__x64_sys_getppid2"));
  });

  it("lib:func, p:lib:func and /path:func: user functions (c is libc)", () => {
    assert.deepEqual(parsePattern("c:malloc", false), { type: "p", library: "c", regex: /^malloc$/ });
    assert.deepEqual(parsePattern("p:c:malloc", false), parsePattern("c:malloc", false));
    const go = parsePattern("go:os.*", false);
    assert.equal(go.library, "go");
    // the dot is literal, only * is a wildcard
    assert.ok(go.regex.test("os.Open") && !go.regex.test("osXOpen"));
    assert.deepEqual(parsePattern("./test:read*", false), {
      type: "p",
      library: "./test",
      regex: /^read.*$/,
    });
    assert.ok(!isKernelFunction(parsePattern("c:*printf", false)));
  });

  it("t:category:event tracepoints and u:lib:probe USDT probes", () => {
    const t = parsePattern("t:sched:sched_fork", false);
    assert.deepEqual(t, { type: "t", library: "", regex: /^sched:sched_fork$/ });
    assert.ok(!isKernelFunction(t));
    const many = parsePattern("t:syscalls:sys_enter_*", false);
    assert.ok(many.regex.test("syscalls:sys_enter_read") && !many.regex.test("syscalls:sys_exit_read"));
    assert.deepEqual(parsePattern("u:node:gc*", false), { type: "u", library: "node", regex: /^gc.*$/ });
  });

  it("-r: the name is a regular expression as written", () => {
    const r = parsePattern("^vfs.*", true);
    assert.deepEqual(r, { type: "p", library: "", regex: /^vfs.*/ });
    assert.ok(r.regex.test("vfs_readv"));
    assert.deepEqual(parsePattern("c:str(cmp|len)$", true).regex, /str(cmp|len)$/);
    assert.throws(
      () => parsePattern("c:str(", true),
      (e: Error) => e instanceof UsageError && /pattern c:str\(/.test(e.message),
    );
  });

  it("malformed patterns: typed usage errors with bcc's words", () => {
    assert.throws(() => parsePattern("k:c:malloc", false), /Type must be 'p', 't', or 'u', but got k/);
    assert.throws(
      () => parsePattern("p:a:b:c", false),
      /Too many ':'-separated components in pattern p:a:b:c/,
    );
    assert.throws(
      () => parsePattern("c:", false),
      (e: Error) => e instanceof UsageError && /no function/.test(e.message),
    );
  });

  it("stackcount still exports the same parser", () => {
    assert.equal(stackcountParse, parsePattern);
  });
});
