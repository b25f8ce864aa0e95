import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import {
  cachedProcessCount,
  forgetProcessSymbols,
  processSymbols,
  sweepProcessSymbols,
} from "../../src/elf/procmaps.js";
import { foldedFrames, type StackRow, stripV8Markers } from "../../src/profile/stack_counts.js";
import { parseToolArgs } from "../../tools/lib/args.js";
import {
  commandLine,
  isNodeCommand,
  NODE_PERF_MAP_FLAGS,
  NODE_QUIET_LOG_FLAGS,
} from "../../tools/lib/launch.js";

const row = (over: Partial<StackRow>): StackRow => ({
  key: {},
  value: 3n,
  userStackId: 1,
  kernelStackId: 2,
  pid: 10,
  comm: "node",
  user: ["inner", "outer"],
  kernel: ["kinner", "kouter"],
  ...over,
});

describe("stack counts", () => {
  it("strips V8's type prefixes and tier markers from JavaScript frames only", () => {
    assert.equal(stripV8Markers("JS:~fib /app.js:3:13"), "fib /app.js:3:13");
    assert.equal(stripV8Markers("JS:*fib /app.js:3:13"), "fib /app.js:3:13");
    assert.equal(stripV8Markers("JS:^fib /app.js:3:13"), "fib /app.js:3:13");
    assert.equal(stripV8Markers("JS:+fib /app.js:3:13"), "fib /app.js:3:13");
    assert.equal(stripV8Markers("LazyCompile:~fib /app.js:3"), "fib /app.js:3");
    assert.equal(stripV8Markers("JS: /app.js:1:1"), " /app.js:1:1");
    assert.equal(stripV8Markers("Builtin:ArrayPrototypePush"), "Builtin:ArrayPrototypePush");
    assert.equal(stripV8Markers("std::vector<int>::push_back(int)"), "std::vector<int>::push_back(int)");
  });

  it("folds frames root first: comm, user, '-', kernel; lost stacks named as bcc names them", () => {
    assert.deepEqual(foldedFrames(row({}), {}), ["node", "outer", "inner", "kouter", "kinner"]);
    assert.deepEqual(foldedFrames(row({}), { delimited: true }), [
      "node",
      "outer",
      "inner",
      "-",
      "kouter",
      "kinner",
    ]);
    assert.deepEqual(foldedFrames(row({}), { userOnly: true }), ["node", "outer", "inner"]);
    assert.deepEqual(foldedFrames(row({ userStackId: -12, user: [] }), {}), [
      "node",
      "[Missed User Stack]",
      "kouter",
      "kinner",
    ]);
    // -EFAULT: a kernel thread has no user stack, which is not a loss
    assert.deepEqual(foldedFrames(row({ userStackId: -14, user: [] }), { delimited: true }), [
      "node",
      "kouter",
      "kinner",
    ]);
  });
});

describe("a command after --", () => {
  const spec = {
    name: "t",
    summary: "",
    options: [{ short: "f", long: "folded", type: "flag" as const, help: "" }],
    positionals: [{ name: "duration", type: "float" as const, help: "" }],
    command: { name: "command", help: "run it" },
  };

  it("is everything after the first --, its own options untouched", () => {
    const a = parseToolArgs(spec, ["-f", "5", "--", "node", "-e", "1", "--", "-f"]);
    assert.equal(a.flag("folded"), true);
    assert.equal(a.num("duration"), 5);
    assert.deepEqual(a.command, ["node", "-e", "1", "--", "-f"]);
    assert.deepEqual(parseToolArgs(spec, ["-f"]).command, []);
    assert.throws(() => parseToolArgs(spec, ["--"]), /expected a command to run/);
  });

  it("gives Node.js V8's perf-map flags once, after its binary, and its log to no file in its directory; other commands unchanged", () => {
    assert.deepEqual(commandLine(["node", "app.js"]), [
      "node",
      ...NODE_PERF_MAP_FLAGS,
      ...NODE_QUIET_LOG_FLAGS,
      "app.js",
    ]);
    assert.deepEqual(commandLine(["/usr/bin/nodejs", "--perf-basic-prof", "a.js"]), [
      "/usr/bin/nodejs",
      "--interpreted-frames-native-stack",
      ...NODE_QUIET_LOG_FLAGS,
      "--perf-basic-prof",
      "a.js",
    ]);
    // a log file of the command's own is left to it
    assert.deepEqual(commandLine(["node", "--logfile=v8.log", "a.js"]), [
      "node",
      ...NODE_PERF_MAP_FLAGS,
      "--logfile=v8.log",
      "a.js",
    ]);
    assert.deepEqual(commandLine(["python3", "node"]), ["python3", "node"]);
    assert.ok(isNodeCommand(process.execPath) && isNodeCommand("node20") && !isNodeCommand("nodemon"));
  });
});

describe("per-process symbol caches", () => {
  it("drop a process that has exited once unused for the idle time, keep a live one", () => {
    forgetProcessSymbols();
    const gone = spawnSync("/bin/true").pid as number;
    processSymbols(gone).mappings();
    processSymbols(process.pid).mappings();
    assert.equal(cachedProcessCount(), 2);
    // used just now: kept (a tool reading its maps at the end still names an exited process)
    assert.equal(sweepProcessSymbols(10_000), 0);
    assert.equal(sweepProcessSymbols(0, Date.now() + 1), 1);
    assert.equal(cachedProcessCount(), 1);
    forgetProcessSymbols();
  });

  it("stay bounded over many processes", () => {
    forgetProcessSymbols();
    for (let pid = 4_000_000; pid < 4_000_000 + 1500; pid++) processSymbols(pid);
    assert.equal(cachedProcessCount(), 1024);
    forgetProcessSymbols();
  });
});
