import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CTargets, ccPresent } from "../../c_targets.js";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/* Leaks 10 blocks of 12345 bytes from leak_once() on each round (one round
 * every 100 ms, 40 rounds); frees a 777-byte block it allocates each round. */
const LEAKER = `
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) void *leak_once(size_t n) { return malloc(n); }
int main(void) {
  printf("%d\\n", getpid());
  fflush(stdout);
  static void *keep[400];
  for (int r = 0; r < 40; r++) {
    for (int i = 0; i < 10; i++) keep[r * 10 + i] = leak_once(12345);
    void *p = calloc(1, 777);
    free(p);
    usleep(100000);
  }
  return keep[0] == 0;
}
`;

const skip = skipUnlessRoot || (ccPresent ? false : "no C compiler");

describe("memleak", { skip }, () => {
  const targets = new CTargets("tsbpf-memleak");
  after(() => targets.cleanup());

  it("-p PID: the leaked blocks, grouped by their stack, bcc's report", async () => {
    const exe = targets.build("leaker", LEAKER, ["-g"]);
    const pid = await targets.start(exe);
    const r = await traceWhile("memleak", ["-p", String(pid), "-o", "0", "1", "1"], () => 0, {
      untilExit: true,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], `Attaching to pid ${pid}, Ctrl+C to quit.`);
    assert.match(r.lines[1] as string, /^\[\d\d:\d\d:\d\d\] Top 10 stacks with outstanding allocations:$/);
    const m = /\t(\d+) bytes in (\d+) allocations from stack\n((?:\t\t.*\n?)+)/.exec(
      r.stdout.split("\n").slice(2).join("\n"),
    );
    assert.ok(m, r.stdout);
    const [, bytes, count, stack] = m;
    assert.ok(Number(count) >= 10, r.stdout);
    assert.equal(Number(bytes), Number(count) * 12345);
    assert.match(stack as string, /\t\t0x[0-9a-f]{16}\tleak_once\+0x[0-9a-f]+ \[leaker\]/);
    assert.ok(!r.stdout.includes(" 777 "), "the freed blocks are not outstanding");
  });

  it("-c CMD --json -a: runs the command, one record per stack with its blocks", async () => {
    const exe = targets.build("leaker2", LEAKER, ["-g"]);
    const r = await traceWhile("memleak", ["--json", "-a", "-o", "0", "-c", exe, "1", "1"], () => 0, {
      untilExit: true,
    });
    assert.equal(r.code, 0, r.stderr);
    const rec = r.records.find((x) => (x.stack as string[]).some((f) => f.startsWith("leak_once")));
    assert.ok(rec, r.stdout);
    const blocks = rec.allocs as Array<{ addr: number; size: number }>;
    assert.equal(rec.count, blocks.length);
    assert.ok(blocks.every((b) => b.size === 12345));
    assert.equal(rec.size, 12345 * blocks.length);
  });

  it("--combined-only and -z/-Z size filters", async () => {
    const exe = targets.build("leaker3", LEAKER, ["-g"]);
    const pid = await targets.start(exe);
    const r = await traceWhile(
      "memleak",
      ["--combined-only", "-z", "10000", "-p", String(pid), "1", "1"],
      () => 0,
      {
        untilExit: true,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /\t\d+ bytes in \d+ allocations from stack\n\t\tleak_once\+0x[0-9a-f]+ \[leaker3\]/,
    );
    const bad = await traceWhile("memleak", ["-z", "10", "-Z", "5"], () => 0);
    assert.equal(bad.code, 2);
  });

  it("kernel mode: attaches to the kmem tracepoints and reports", async () => {
    const r = await traceWhile("memleak", ["-T", "3", "1", "1"], () => 0, { untilExit: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Attaching to kernel allocators, Ctrl+C to quit.");
    assert.match(r.lines[1] as string, /Top 3 stacks with outstanding allocations:$/);
    assert.ok(r.lines.filter((l) => / bytes in \d+ allocations from stack$/.test(l)).length <= 3);
  });
});
