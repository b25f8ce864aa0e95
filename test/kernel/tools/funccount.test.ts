import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { after, describe, it } from "node:test";
import { kprobeSupport } from "../../../src/kernel/features.js";
import { CTargets, ccPresent, sdtHeaderPresent } from "../../c_targets.js";
import { skipUnlessRoot } from "../../helpers.js";
import { getppidCaller } from "./activity.js";
import { CALLS, funcTarget } from "./func_target.js";
import { traceWhile } from "./run_tool.js";

/** getppidCaller's python3, pinned to one CPU (taskset). */
function pinnedCaller(cpu: number) {
  return getppidCaller({ prefix: ["taskset", "-c", String(cpu)] });
}

/** The FUNC / COUNT rows of a funccount run, as [name, count]. */
function rows(lines: string[]): Array<[string, number]> {
  const i = lines.indexOf(`${"FUNC".padEnd(36)}    COUNT`);
  assert.ok(i >= 0, lines.join("\n"));
  return lines
    .slice(i + 1, lines.indexOf("Detaching..."))
    .map((l) => /^(\S+) +(\d+)$/.exec(l))
    .map((m) => [m?.[1] as string, Number(m?.[2])]);
}

describe("funccount", { skip: skipUnlessRoot || (!ccPresent && "no C compiler") }, () => {
  const targets = new CTargets("tsbpf-funccount");
  const target = funcTarget(targets);
  after(() => targets.cleanup());

  it("lib:func: exactly the calls the target made", async () => {
    const t = await target.start();
    const r = await traceWhile("funccount", [`${target.exe}:my_count_a`], t.go);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], `Tracing 1 functions for "${target.exe}:my_count_a"... Hit Ctrl-C to end.`);
    assert.deepEqual(rows(r.lines), [["my_count_a", CALLS.my_count_a]]);
    assert.equal(r.lines.at(-1), "Detaching...");
  });

  it("one wildcard, two functions: each its own count (a BPF cookie each), sorted by count; -D lists the probes", async () => {
    const t = await target.start();
    const r = await traceWhile("funccount", ["-D", "-p", String(t.pid), `${target.exe}:my_count_*`], t.go);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0] as string, /^cookie 0: uprobe .*functarget:my_count_[ab] \(0x[0-9a-f]+\)$/);
    assert.match(r.lines[1] as string, /^cookie 1: uprobe .*functarget:my_count_[ab] \(0x[0-9a-f]+\)$/);
    assert.match(r.lines[2] as string, /^Tracing 2 functions for /);
    assert.deepEqual(rows(r.lines), [
      ["my_count_b", CALLS.my_count_b],
      ["my_count_a", CALLS.my_count_a],
    ]);
  });

  it("-r regular expressions; --json records", async () => {
    const t = await target.start();
    const r = await traceWhile("funccount", ["--json", "-r", `${target.exe}:^my_slow(er)?_fn$`], t.go);
    assert.equal(r.code, 0, r.stderr);
    const got = Object.fromEntries(r.records.map((x) => [x.func, x.count]));
    assert.deepEqual(got, { my_slow_fn: CALLS.my_slow_fn, my_slower_fn: CALLS.my_slower_fn });
    assert.ok(r.records.every((x) => typeof x.time === "string"));
  });

  it("u:lib:probe: USDT probes, each its own count", {
    skip: !sdtHeaderPresent && "no <sys/sdt.h>",
  }, async () => {
    const t = await target.start();
    const r = await traceWhile("funccount", ["-D", "-p", String(t.pid), `u:${target.exe}:t*ck`], t.go);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.lines.filter((l) => /^cookie [01]: usdt .*functarget:t[io]ck \(uprobes at 0x/.test(l)).length,
      2,
    );
    assert.deepEqual(rows(r.lines), [
      ["tock", CALLS.tock],
      ["tick", CALLS.tick],
    ]);
  });

  it("t:syscalls:sys_enter_getppid -p PID: exactly the child's 1000 calls; -T prints the time", async () => {
    const c = getppidCaller();
    const r = await traceWhile(
      "funccount",
      ["-T", "-p", String(c.pid), "t:syscalls:sys_enter_getppid"],
      c.go,
    );
    c.end();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\n\n\d\d:\d\d:\d\d\nFUNC {32}/);
    assert.deepEqual(rows(r.lines), [["syscalls:sys_enter_getppid", 1000]]);
  });

  it("-c CPU: only the calls made on that CPU", {
    skip: availableParallelism() < 2 && "one CPU",
  }, async () => {
    const on = pinnedCaller(1);
    const r = await traceWhile(
      "funccount",
      ["-c", "1", "-p", String(on.pid), "t:syscalls:sys_enter_getppid"],
      on.go,
    );
    on.end();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(rows(r.lines), [["syscalls:sys_enter_getppid", 1000]]);
    const off = pinnedCaller(1);
    const o = await traceWhile(
      "funccount",
      ["-c", "0", "-p", String(off.pid), "t:syscalls:sys_enter_getppid"],
      off.go,
    );
    off.end();
    assert.equal(o.code, 0, o.stderr);
    assert.deepEqual(rows(o.lines), []);
  });

  it("-i and -d: a table per interval, then Detaching", async () => {
    const r = await traceWhile(
      "funccount",
      ["-i", "0.3", "-d", "1", "t:syscalls:sys_enter_getppid"],
      () => 0,
      {
        untilExit: true,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const tables = r.lines.filter((l) => l.startsWith("FUNC ")).length;
    assert.ok(tables >= 2 && tables <= 4, r.stdout); // 3 ticks and the last table, fewer when timers run late
    assert.equal(r.lines.at(-1), "Detaching...");
  });

  it("bad patterns: typed usage errors", async () => {
    const none = await traceWhile("funccount", [`${target.exe}:no_such_fn*`], () => 0);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /No functions matched by pattern \^no_such_fn\.\*\$/);
    const lib = await traceWhile("funccount", ["nosuchlib_xyz:malloc"], () => 0);
    assert.equal(lib.code, 2);
    assert.match(lib.stderr, /unable to find library nosuchlib_xyz/);
    const usdt = await traceWhile("funccount", [`u:${target.exe}:no_such_probe`], () => 0);
    assert.equal(usdt.code, 2);
    assert.match(usdt.stderr, /No functions matched by pattern/);
    const many = await traceWhile("funccount", ["c:*"], () => 0);
    assert.equal(many.code, 2);
    assert.match(many.stderr, /maximum of 1000 probes allowed, attempted \d{4,}/);
    const kind = await traceWhile("funccount", ["x:c:malloc"], () => 0);
    assert.equal(kind.code, 2);
    assert.match(kind.stderr, /Type must be 'p', 't', or 'u', but got x/);
  });

  it("kernel functions need kprobes: a NotSupportedError naming the tracepoints that cover them", {
    skip: kprobeSupport() === "yes" && "this kernel has kprobes (tested in the matrix)",
  }, async () => {
    const vfs = await traceWhile("funccount", ["vfs_*"], () => 0);
    assert.equal(vfs.code, 1);
    assert.match(
      vfs.stderr,
      /NotSupportedError: funccount on kernel functions \(vfs_\*\).*no kprobes.*count tracepoints instead: t:syscalls:sys_enter_read, t:syscalls:sys_enter_write, /,
    );
    const sys = await traceWhile("funccount", ["*sys_getppid"], () => 0);
    assert.equal(sys.code, 1);
    assert.match(sys.stderr, /NotSupportedError: .*: t:syscalls:sys_enter_getppid\n$/);
  });
});
