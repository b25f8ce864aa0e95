/**
 * Chapter 4 end to end, as a user runs it: the C target started through its
 * example, uprobe_simple tracing its func() (the default target and one
 * given as an argument), strlen_snoop_simple on a program of ours that
 * calls libc's strlen on known strings.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { uprobeSupport } from "../../../src/kernel/features.js";
import { CTargets, ccPresent } from "../../c_targets.js";
import { type Running, repoRoot, skipUnlessRoot, startNode, waitFor } from "../../helpers.js";
import { runExample } from "./run_example.js";

const skip =
  skipUnlessRoot ||
  (ccPresent ? false : "needs a C compiler (cc) to build the traced programs") ||
  (uprobeSupport() === "yes" ? false : "this kernel has no uprobes (CONFIG_UPROBES)");

const HEADER = "TIME(s)            COMM             PID    MESSAGE";
const TARGET_PID = /^target_sample: pid (\d+), calling func\(\) once a second$/m;

/** A trace row: "%-18.9f %-16s %-6d %s". */
interface Row {
  line: string;
  ts: number;
  task: string;
  pid: number;
  msg: string;
}

function rows(stdout: string): Row[] {
  const out: Row[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^(\d+\.\d{9}) +(.{16}) (\d+) +(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      line,
      ts: Number(m[1]),
      task: (m[2] as string).trimEnd(),
      pid: Number(m[3]),
      msg: m[4] as string,
    });
  }
  return out;
}

/** Asserts the columns of a row: timestamp 18 wide, task 16, pid 6. */
function assertLayout(r: Row): void {
  assert.match(r.line.slice(0, 19), /^\d+\.\d{9} +$/, r.line);
  assert.equal(r.line.slice(19, 36), `${r.task.padEnd(16)} `, r.line);
  assert.equal(r.line.slice(36, 43), `${String(r.pid).padEnd(6)} `, r.line);
  assert.equal(r.line.slice(43), r.msg, r.line);
}

/** Starts uprobe/target_sample (it builds the C target) and resolves with the target's pid. */
async function startTarget(args: string[] = []): Promise<{ r: Running; pid: number }> {
  const r = startNode("examples/uprobe/target_sample.js", args);
  const ok = await waitFor(() => TARGET_PID.test(r.stdout()) || r.child.exitCode !== null, 60_000);
  assert.ok(ok && TARGET_PID.test(r.stdout()), `target_sample did not start: ${r.stdout()}${r.stderr()}`);
  return { r, pid: Number(TARGET_PID.exec(r.stdout())?.[1]) };
}

async function stop(r: Running): Promise<void> {
  if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGINT");
  await r.exited;
}

/** The args of "arg = N" rows and the values of "return value = N" rows of pid, in order. */
function funcCalls(stdout: string, pid: number): { args: number[]; rets: number[]; mine: Row[] } {
  const mine = rows(stdout).filter((r) => r.pid === pid);
  const args: number[] = [];
  const rets: number[] = [];
  for (const r of mine) {
    const a = /^arg = (\d+)$/.exec(r.msg);
    const v = /^return value = (\d+)$/.exec(r.msg);
    assert.ok(a || v, `unexpected message ${r.msg}`);
    if (a) args.push(Number(a[1]));
    else rets.push(Number(v?.[1]));
  }
  return { args, rets, mine };
}

/** uprobe_simple's output for the target with pid: header, rows, func(n) = 2n, n going up by one. */
function assertTraced(stdout: string, pid: number, task = "target_sample"): void {
  assert.equal(stdout.split("\n")[0], HEADER);
  const { args, rets, mine } = funcCalls(stdout, pid);
  assert.ok(args.length >= 3 && rets.length >= 3, `too few rows for ${pid}:\n${stdout.slice(-2000)}`);
  for (const r of mine) {
    assertLayout(r);
    assert.ok(r.task === task || r.task === "<...>", r.line); // <...>: trace_pipe's comm cache missed
  }
  for (let k = 1; k < args.length; k++) assert.equal(args[k], (args[k - 1] as number) + 1, `args ${args}`);
  // Each return follows its call: a return value is func(n) = 2n of the call before it. At the
  // start one side may have one row more: a return without its call (the uretprobe attached
  // first, mid-call) or a call without its return (the uprobe attached first: a uretprobe
  // catches only the returns of calls made after it was attached).
  const offset = [0, 1, -1].find((o) =>
    args.every((a, k) => rets[k + o] === undefined || rets[k + o] === 2 * a),
  );
  assert.ok(offset !== undefined, `returns ${rets} do not follow calls ${args}`);
  const pairs = args.filter((_, k) => rets[k + offset] !== undefined).length;
  assert.ok(pairs >= 2, `too few calls with their returns: calls ${args}, returns ${rets}`);
  assert.ok(
    mine.every((r, k) => k === 0 || r.ts >= (mine[k - 1] as Row).ts),
    "timestamps go up",
  );
}

/** Calls strlen on a short and a long string every 10 ms (through libc: no builtin); prints its pid first. */
const STRLEN_C = `
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  static char longer[301];
  memset(longer, 'x', 300);
  const char *volatile words[] = {"tsbpf-strlen-snoop", longer};
  printf("%d\\n", getpid());
  fflush(stdout);
  for (unsigned i = 0;; i++) {
    volatile size_t n = strlen(words[i % 2]);
    (void)n;
    usleep(10000);
  }
}
`;

describe("uprobe", { skip }, () => {
  const targets = new CTargets("tsbpf-ex-uprobe");
  after(() => targets.cleanup());

  /** Builds a C program, starts it and resolves with its pid (its first line). */
  async function startC(name: string, source: string): Promise<number> {
    return targets.start(targets.build(name, source));
  }

  it('"uprobe/target_sample" builds the target and prints what it prints, func(n) returning 2n', async () => {
    const res = await runExample("uprobe/target_sample", {
      ready: (out) => TARGET_PID.test(out),
      until: (out) => (out.match(/^func\(\d+\) returned \d+$/gm) ?? []).length >= 2,
      timeoutMs: 60_000,
    });
    assert.ok(res.matched, res.stdout + res.stderr);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trimEnd().split("\n");
    assert.match(lines[0] as string, TARGET_PID);
    const calls = lines.slice(1).map((l) => {
      const m = /^func\((\d+)\) returned (\d+)$/.exec(l);
      assert.ok(m, l);
      return [Number(m[1]), Number(m[2])];
    });
    calls.forEach(([n, ret], k) => {
      assert.equal(n, k + 1);
      assert.equal(ret, 2 * (n as number));
    });
    // The target ended with the example.
    const pid = Number(TARGET_PID.exec(res.stdout)?.[1]);
    assert.ok(await waitFor(() => !processExists(pid), 3000), `target ${pid} still runs`);
  });

  it('"uprobe/uprobe_simple" prints func\'s argument and return value in the default target', async () => {
    const { r, pid } = await startTarget();
    try {
      const res = await runExample("uprobe/uprobe_simple", {
        ready: (out) => out.startsWith(HEADER),
        until: (out) => {
          const { args, rets } = funcCalls(out, pid);
          return args.length >= 3 && rets.length >= 3;
        },
        timeoutMs: 30_000,
      });
      assert.ok(res.matched, `no rows for pid ${pid}:\n${res.stdout}${res.stderr}`);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stderr, "");
      assertTraced(res.stdout, pid);
    } finally {
      await stop(r);
    }
  });

  it('"uprobe/uprobe_simple" TARGET traces the executable given', async () => {
    // Our own copy of the target: the default one is not running, so every row is this one's.
    const exe = targets.build(
      "target-sample",
      readFileSync(join(repoRoot, "examples", "uprobe", "target_sample.c"), "utf8"),
    );
    const child = targets.run(exe);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    assert.ok(await waitFor(() => TARGET_PID.test(out), 10_000), out);
    const pid = Number(TARGET_PID.exec(out)?.[1]);
    const res = await runExample("uprobe/uprobe_simple", {
      args: [exe],
      ready: (o) => o.startsWith(HEADER),
      until: (o) => {
        const { args, rets } = funcCalls(o, pid);
        return args.length >= 3 && rets.length >= 3;
      },
    });
    child.kill("SIGKILL");
    assert.ok(res.matched, `no rows for pid ${pid}:\n${res.stdout}${res.stderr}`);
    assertTraced(res.stdout, pid, "target-sample");
  });

  it('"uprobe/strlen_snoop_simple" PID prints the length of each string that process passes to strlen', async () => {
    const pid = await startC("strlen_caller", STRLEN_C);
    const res = await runExample("uprobe/strlen_snoop_simple", {
      args: [String(pid)],
      ready: (out) => out.startsWith("TIME(s)"),
      until: (out) => rows(out).filter((r) => r.pid === pid).length >= 6,
    });
    assert.ok(res.matched, `no rows for pid ${pid}:\n${res.stdout}${res.stderr}`);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.split("\n");
    assert.equal(lines[0], "TIME(s)            COMM             PID    STRLEN");
    assert.equal(res.stderr, "");
    // Lengths ("N" or "255+"); trace_pipe is global, so another program's lines may pass by.
    const all = rows(res.stdout).filter((r) => /^\d+\+?$/.test(r.msg));
    assert.deepEqual(
      [...new Set(all.map((r) => r.pid))],
      [pid],
      "with a PID, only that process's calls are printed",
    );
    for (const r of all) assertLayout(r);
    // trace_pipe's COMM comes from the kernel's comm cache by pid: "<...>" on a miss, and a reused
    // pid's earlier name until the cache is refreshed; the pid above is what the filter decides.
    assert.ok(
      all.some((r) => r.task === "strlen_caller"),
      all.map((r) => r.line).join("\n"),
    );
    // The real lengths (not sizeof a pointer, the original's bug): 18, and 255+ for the 300-byte string.
    assert.deepEqual([...new Set(all.map((r) => r.msg))].sort(), ["18", "255+"]);
  });

  it('"uprobe/strlen_snoop_simple" without a PID traces every process but itself', async () => {
    const pid = await startC("strlen_caller2", STRLEN_C);
    const res = await runExample("uprobe/strlen_snoop_simple", {
      ready: (out) => out.startsWith("TIME(s)"),
      until: (out) => rows(out).filter((r) => r.pid === pid).length >= 4,
    });
    assert.ok(res.matched, `no rows for pid ${pid}:\n${res.stdout.slice(-2000)}${res.stderr}`);
    assert.equal(
      res.stderr,
      "strlen_snoop_simple: tracing strlen in every process (give a PID to watch one)\n",
    );
    const mine = rows(res.stdout).filter((r) => r.pid === pid);
    assert.ok(
      mine.every((r) => r.msg === "18" || r.msg === "255+"),
      mine.map((r) => r.msg).join(" "),
    );
  });
});

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
