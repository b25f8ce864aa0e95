import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { kprobeSupport } from "../../../src/kernel/features.js";
import { CTargets, ccPresent } from "../../c_targets.js";
import { skipUnlessRoot } from "../../helpers.js";
import { CALLS, funcTarget } from "./func_target.js";
import { traceWhile } from "./run_tool.js";

/** The histogram rows of bcc's log2 layout with a count: [low, high, count]. */
function buckets(text: string): Array<[number, number, number]> {
  return [...text.matchAll(/^ +(\d+) -> (\d+) +: (\d+) +\|/gm)]
    .map((m) => [Number(m[1]), Number(m[2]), Number(m[3])] as [number, number, number])
    .filter(([, , n]) => n > 0);
}

/**
 * Sleeps of a known length: all n samples at or above the bucket `low`
 * (a sleep never ends early) and most of them in it (on a loaded machine
 * a sleep may overrun into the next one).
 */
function assertSleeps(text: string, low: number, n: number): void {
  const got = buckets(text);
  assert.equal(
    got.reduce((s, [, , c]) => s + c, 0),
    n,
    text,
  );
  assert.ok(
    got.every(([lo]) => lo >= low),
    text,
  );
  assert.ok((got.find(([lo]) => lo === low)?.[2] ?? 0) >= Math.ceil(n / 2), text);
}

describe("funclatency", { skip: skipUnlessRoot || (!ccPresent && "no C compiler") }, () => {
  const targets = new CTargets("tsbpf-funclatency");
  const target = funcTarget(targets);
  after(() => targets.cleanup());

  it("-m -p PID lib:func: five 20 ms calls in the 16 -> 31 msecs bucket, bcc's summary line", async () => {
    const t = await target.start();
    const r = await traceWhile("funclatency", ["-m", "-p", String(t.pid), `${target.exe}:my_slow_fn`], t.go);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], `Tracing 1 functions for "${target.exe}:my_slow_fn"... Hit Ctrl-C to end.`);
    assert.match(r.stdout, /\n {5}msecs {15}: count {5}distribution\n/);
    assertSleeps(r.stdout, 16, CALLS.my_slow_fn);
    const m = /\navg = (\d+) msecs, total: (\d+) msecs, count: 5\n\nDetaching...\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) >= 20, r.stdout); // sleeps end late on a loaded machine, never early
    assert.ok(Number(m[2]) >= 100, r.stdout);
  });

  it("-u: microseconds; default nanoseconds", async () => {
    const t = await target.start();
    const r = await traceWhile("funclatency", ["-u", "-p", String(t.pid), `${target.exe}:my_slow_fn`], t.go);
    assert.equal(r.code, 0, r.stderr);
    assertSleeps(r.stdout, 16384, CALLS.my_slow_fn);
    assert.match(r.stdout, /avg = \d+ usecs, total: \d+ usecs, count: 5\n/);
    const t2 = await target.start();
    const n = await traceWhile("funclatency", ["-p", String(t2.pid), `${target.exe}:my_slow_fn`], t2.go);
    assertSleeps(n.stdout, 16777216, CALLS.my_slow_fn);
    assert.match(n.stdout, /\n {5}nsecs {15}: count/);
  });

  it("-i and -T: a histogram per interval under its time; bcc's summary covers the whole run", async () => {
    const t = await target.start();
    const r = await traceWhile(
      "funclatency",
      ["-T", "-m", "-i", "0.3", "-d", "1.2", "-p", String(t.pid), `${target.exe}:my_slow_fn`],
      t.go,
      { untilExit: true },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.lines.filter((l) => /^\d\d:\d\d:\d\d$/.test(l)).length >= 2, r.stdout);
    assertSleeps(r.stdout, 16, CALLS.my_slow_fn); // spread over the intervals' histograms
    assert.match(r.stdout, /count: 5\n\nDetaching...\n$/);
  });

  it("-F with two functions: a histogram each, named with the process as bcc does", async () => {
    const t = await target.start();
    const r = await traceWhile("funclatency", ["-F", "-m", `${target.exe}:my_slow*`], t.go);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0] as string, /^Tracing 2 functions for /);
    const sections = r.stdout.split("\nFunction = ").slice(1);
    const mine = sections.filter((s) => s.includes(` [${t.pid}]\n`));
    assert.equal(mine.length, 2, r.stdout);
    assert.match(mine[0] as string, /^my_slow_fn \[\d+\]\n/);
    assertSleeps(mine[0] as string, 16, CALLS.my_slow_fn);
    assert.match(mine[1] as string, /^my_slower_fn \[\d+\]\n/);
    assertSleeps(mine[1] as string, 32, CALLS.my_slower_fn);
  });

  it("--json: bcc's histogram records with the buckets, and the summary", async () => {
    const t = await target.start();
    const r = await traceWhile(
      "funclatency",
      ["--json", "-m", "-F", "-p", String(t.pid), `${target.exe}:my_slower_fn`],
      t.go,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.records.length, 2, r.stdout);
    const [rec, summary] = r.records as [Record<string, unknown>, Record<string, unknown>];
    assert.equal(rec.val_type, "msecs");
    assert.equal(rec.Function, `my_slower_fn [${t.pid}]`);
    const data = rec.data as Array<Record<string, number>>;
    const rows = data.filter((d) => d.count);
    assert.ok(
      rows.some((d) => d["interval-start"] === 32 && d["interval-end"] === 63 && (d.count ?? 0) >= 2),
      r.stdout,
    );
    assert.ok(
      rows.every((d) => (d["interval-start"] ?? 0) >= 32),
      r.stdout,
    );
    assert.equal(
      rows.reduce((n, d) => n + (d.count ?? 0), 0),
      CALLS.my_slower_fn,
    );
    assert.equal(summary.val_type, "msecs");
    assert.equal(summary.ts, rec.ts);
    assert.equal(summary.count, CALLS.my_slower_fn);
    // (sleeps end late on a loaded machine, never early)
    assert.ok((summary.avg as number) >= 40, r.stdout);
    assert.ok((summary.total as number) >= 120, r.stdout);
  });

  it("recursion: one entry time per thread as bcc (the innermost call only); -l LEVEL follows that many", async () => {
    const count = async (argv: string[]): Promise<unknown> => {
      const t = await target.start();
      const r = await traceWhile(
        "funclatency",
        ["--json", ...argv, "-p", String(t.pid), `${target.exe}:my_recurse`],
        t.go,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.records.length, 2, r.stdout);
      const [rec, summary] = r.records as [Record<string, unknown>, Record<string, unknown>];
      const data = rec.data as Array<Record<string, number>>;
      assert.equal(
        data.reduce((s, d) => s + (d.count ?? 0), 0),
        summary.count,
      );
      return summary.count;
    };
    // 10 calls of my_recurse(3): 4 nested frames each
    assert.equal(await count([]), 10);
    assert.equal(await count(["-l", "4"]), CALLS.my_recurse);
    assert.equal(await count(["-l", "2"]), 20); // the two outer frames; the deeper ones are skipped in pairs
  });

  it("usage errors: tracepoints, no match, bad -l", async () => {
    const tp = await traceWhile("funclatency", ["t:sched:sched_switch"], () => 0);
    assert.equal(tp.code, 2);
    assert.match(tp.stderr, /unrecognized pattern format 't:sched:sched_switch'/);
    const none = await traceWhile("funclatency", [`${target.exe}:nothing_here*`], () => 0);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /0 functions matched by/);
    const lvl = await traceWhile("funclatency", ["-l", "99", "c:read"], () => 0);
    assert.equal(lvl.code, 2);
  });

  it("kernel functions need kprobes: a NotSupportedError naming the syscall tracepoints", {
    skip: kprobeSupport() === "yes" && "this kernel has kprobes (tested in the matrix)",
  }, async () => {
    const r = await traceWhile("funclatency", ["vfs_read"], () => 0);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /NotSupportedError: funclatency on kernel functions \(vfs_read\).*no kprobes.*syscalls:sys_enter_read\/sys_exit_read/,
    );
    const ns = await traceWhile("funclatency", ["do_nanosleep"], () => 0);
    assert.equal(ns.code, 1);
    assert.match(ns.stderr, /: syscalls:sys_enter_nanosleep\/sys_exit_nanosleep/);
  });
});
