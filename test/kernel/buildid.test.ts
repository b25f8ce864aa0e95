/**
 * Build-id stacks (BPF_STACK_TRACE_BUILDID): user frames recorded as a
 * module's build-id and a file offset, resolved through a debug file the
 * test writes for a stripped binary (and through BPF.addModule).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { elfFile } from "../../src/elf/elf.js";
import { BPF, type StackTrace } from "../../src/index.js";
import { CTargets, ccPresent } from "../c_targets.js";
import { skipUnlessRoot, testTempDir, waitFor } from "../helpers.js";

const TARGET_C = `
#include <stdio.h>
#include <unistd.h>
static __attribute__((noinline)) int deep_work(int x) { return x * 3 + 1; }
static __attribute__((noinline)) int outer_work(int x) { return deep_work(x) + 1; }
int main(void) {
  printf("%d\\n", getpid());
  fflush(stdout);
  volatile int acc = 0;
  for (;;) { acc += outer_work(acc & 7); usleep(20000); }
}`;

describe("build-id stacks", { skip: skipUnlessRoot || (ccPresent ? false : "no C compiler") }, () => {
  const targets = new CTargets("tsbpf-buildid");
  let exe = "";
  let root = "";
  let buildId = "";
  before(() => {
    exe = targets.build("buildid_target", TARGET_C, [
      "-g",
      "-O1",
      "-fno-omit-frame-pointer",
      "-Wl,--build-id",
    ]);
    buildId = elfFile(exe).buildId ?? "";
    assert.match(buildId, /^[0-9a-f]{40}$/);
    // The symbols go to a debug file under a debug root of the test's, the binary is stripped of them.
    root = testTempDir("tsbpf-debugroot");
    const dir = join(root, ".build-id", buildId.slice(0, 2));
    mkdirSync(dir, { recursive: true });
    const debug = join(dir, `${buildId.slice(2)}.debug`);
    assert.equal(spawnSync("objcopy", ["--only-keep-debug", exe, debug]).status, 0);
    assert.equal(spawnSync("strip", ["--strip-all", exe]).status, 0);
    process.env.TSBPF_DEBUGINFO_ROOT = root;
    BPF.forgetSymbols();
  });
  after(() => {
    delete process.env.TSBPF_DEBUGINFO_ROOT;
    BPF.forgetSymbols();
    targets.cleanup();
  });

  it("records user frames as build-id and offset, resolved by sym() through the debug file", async () => {
    await using b = await BPF.load({
      text: `
BPF_STACK_TRACE_BUILDID(stacks, 16);
BPF_ARRAY(ids, int, 1);
int on_deep(struct pt_regs *ctx)
{
    int zero = 0;
    int id = stacks.get_stackid(ctx, BPF_F_USER_STACK);
    ids.update(&zero, &id);
    return 0;
}`,
    });
    b.getTable("ids").set(0, -1); // stack ids start at 0
    const pid = await targets.start(exe);
    assert.equal(BPF.addModule(exe), buildId, "addModule registers a binary by its build-id");
    // deep_work is a static function: only the debug file knows it.
    b.attachUprobe({ name: exe, sym: "deep_work", fnName: "on_deep", pid });
    const ids = b.getTable("ids");
    assert.ok(await waitFor(() => (ids.get(0) as number) >= 0, 5000), "a stack was recorded");
    const stacks = b.getTable<StackTrace>("stacks");
    assert.ok(stacks.buildId);
    assert.throws(() => stacks.walk(ids.get(0) as number), /use walkBuildId/);
    const frames = stacks.walkBuildId(ids.get(0) as number);
    assert.ok(frames.length >= 2, JSON.stringify(frames.map((f) => f.status)));
    assert.deepEqual(
      frames.slice(0, 2).map((f) => [f.status, f.buildId]),
      [
        ["valid", buildId],
        ["valid", buildId],
      ],
    );
    // At a function's entry its own frame is not set up yet, so the walk skips its caller (outer_work).
    assert.deepEqual(
      frames.slice(0, 2).map((f) => b.sym(f, -1)),
      ["deep_work", "main"],
    );
    assert.match(b.sym(frames[0] as never, -1, { showOffset: true, showModule: true }), /^deep_work\+0x0 \[/);
    // The process and its binary may be gone: the stack still resolves, from the build-id and the debug file.
    targets.cleanup();
    BPF.forgetSymbols();
    assert.equal(b.sym(frames[1] as never, -1), "main");
  });
});
