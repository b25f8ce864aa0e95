/**
 * Faults a long-running tool meets, injected: a map that fills, a traced
 * process that exits before the attach, a uprobe target deleted while
 * attached, an exception thrown in the user's event callback. Each ends in a
 * typed error or a counted loss, nothing delivered is lost, nothing stays in
 * the kernel.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  AttachError,
  BPF,
  BpfError,
  MapFullError,
  PerfSWConfig,
  PerfType,
  type QueueStack,
} from "../../src/index.js";
import { CTargets, ccPresent } from "../c_targets.js";
import {
  assertNothingLeft,
  collected,
  kernelObjects,
  leftSince,
  repoRoot,
  skipUnlessRoot,
  testTempDir,
  waitFor,
} from "../helpers.js";

/** A pid that existed and no longer does. */
function exitedPid(): number {
  const r = spawnSync("/bin/true");
  assert.equal(r.status, 0);
  return r.pid as number;
}

describe("injected faults", { skip: skipUnlessRoot }, () => {
  const targets = new CTargets("tsbpf-faults");
  after(() => targets.cleanup());

  it("a full hash map or queue: MapFullError naming the map and its size; what it holds is kept", async () => {
    await using b = await BPF.load({
      text: "BPF_HASH(small, u32, u64, 4);\nBPF_QUEUE(q, u32, 2);\nint f(void *ctx) { return 0; }",
      autoAttach: false,
    });
    const small = b.getTable<import("../../src/index.js").HashTable<number, bigint>>("small");
    for (let i = 0; i < 4; i++) small.set(i, BigInt(i * 10));
    assert.throws(
      () => small.set(99, 1n),
      (err: unknown) => {
        assert.ok(err instanceof MapFullError, String(err));
        assert.equal(err.map, "small");
        assert.equal(err.maxEntries, 4);
        assert.equal(err.errno, 7, "E2BIG");
        assert.match(err.message, /map small is full: all 4 entries are taken/);
        assert.match(err.message, /BPF_HASH\(small, …, SIZE\)/);
        return true;
      },
    );
    // An existing key can still change; nothing was lost.
    small.set(3, 33n);
    assert.deepEqual(
      [...small.items()].sort((x, y) => x[0] - y[0]),
      [
        [0, 0n],
        [1, 10n],
        [2, 20n],
        [3, 33n],
      ],
    );
    const q = b.getTable<QueueStack<number>>("q");
    q.push(1);
    q.push(2);
    assert.throws(() => q.push(3), MapFullError);
    assert.equal(q.pop(), 1);
    // the typed errors for the other refusals of an update
    assert.throws(
      () => small.insert(0, 1n),
      (err: unknown) => err instanceof BpfError && /already there/.test(err.message),
    );
  });

  it("a process that exits before the attach: AttachError naming the pid, and nothing attached", async () => {
    await using b = await BPF.load({ text: "int f(void *ctx) { return 0; }", autoAttach: false });
    const before = kernelObjects();
    const pid = exitedPid();
    assert.throws(
      () => b.attachUprobe({ name: "c", sym: "malloc", fnName: "f", pid }),
      (err: unknown) => {
        assert.ok(err instanceof AttachError, String(err));
        assert.equal(err.errno, 3, "ESRCH");
        assert.match(err.message, new RegExp(`process ${pid} does not exist \\(it may have exited`));
        return true;
      },
    );
    assert.throws(
      () =>
        b.attachPerfEvent({
          evType: PerfType.SOFTWARE,
          evConfig: PerfSWConfig.CPU_CLOCK,
          fnName: "f",
          sampleFreq: 99,
          pid,
        }),
      (err: unknown) => {
        assert.ok(err instanceof AttachError, String(err));
        assert.match(err.message, new RegExp(`perf event PERF_COUNT_SW_CPU_CLOCK of process ${pid}`));
        return true;
      },
    );
    assert.deepEqual(leftSince(before).links, [], "no link left");
  });

  it("a uprobe target deleted while attached: counting goes on (the kernel holds the inode), close detaches", {
    skip: ccPresent ? false : "needs a C compiler",
  }, async () => {
    const exe = targets.build(
      "deleted_target",
      `#include <stdio.h>
#include <unistd.h>
volatile int sink;
__attribute__((noinline)) void tsbpf_tick(int x) { sink = x; }
int main(void) {
    printf("%d\\n", getpid());
    fflush(stdout);
    for (int i = 0;; i++) {
        tsbpf_tick(i);
        usleep(20000);
    }
}`,
    );
    const pid = await targets.start(exe);
    const before = kernelObjects();
    const b = await BPF.load({
      text: "BPF_HASH(ticks, u32, u64);\nint on_tick(void *ctx) { ticks.increment(bpf_get_current_pid_tgid() >> 32); return 0; }",
      autoAttach: false,
    });
    try {
      b.attachUprobe({ name: exe, sym: "tsbpf_tick", fnName: "on_tick" });
      const ticks = (): bigint => (b.getTable("ticks").get(pid) as bigint | undefined) ?? 0n;
      assert.ok(await waitFor(() => ticks() > 0n, 10_000), "the uprobe fired");
      rmSync(exe);
      const n = ticks();
      assert.ok(await waitFor(() => ticks() > n + 2n, 10_000), "still firing after the file was deleted");
      // A new attach to the deleted path: a typed error naming it.
      assert.throws(
        () => b.attachUprobe({ name: exe, sym: "tsbpf_tick", fnName: "on_tick" }),
        (err: unknown) => err instanceof BpfError && err.message.includes(exe),
      );
    } finally {
      b.close();
    }
    await assertNothingLeft(before);
  });

  for (const kind of ["ring", "perf"] as const) {
    it(`a ${kind} buffer callback that throws: with an uncaughtException handler the stream goes on and no record is lost; without, the process exits and leaves nothing`, async () => {
      const dir = testTempDir("tsbpf-throw");
      const script = join(dir, "throw.mjs");
      writeFileSync(
        script,
        `import { BPF } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};
const b = await BPF.load({ text: \`
struct event { u32 seq; };
BPF_RINGBUF_OUTPUT(rb, 8);
BPF_PERF_OUTPUT(pb);
BPF_ARRAY(target, u32, 1);
BPF_ARRAY(seq, u32, 1);
int on_getppid(void *ctx)
{
    int zero = 0;
    u32 *t = target.lookup(&zero);
    if (!t || *t != bpf_get_current_pid_tgid() >> 32) return 0;
    u32 *s = seq.lookup(&zero);
    if (!s) return 0;
    struct event e = { .seq = (*s)++ };
    ${kind === "ring" ? "rb.ringbuf_output(&e, sizeof(e), 0);" : "pb.perf_submit(ctx, &e, sizeof(e));"}
    return 0;
}\` });
b.getTable("target").set(0, process.pid);
b.attachTracepoint({ tp: "syscalls:sys_enter_getppid", fnName: "on_getppid" });
const seen = [];
if (process.argv[2] === "handle") process.on("uncaughtException", (e) => console.log("caught:", e.message));
const t = b.getTable(${JSON.stringify(kind === "ring" ? "rb" : "pb")});
const cb = (_c, data) => {
  const { seq } = t.event(data);
  seen.push(seq);
  if (seq === 3) throw new Error("callback failed at 3");
};
${kind === "ring" ? "t.openRingBuffer(cb);" : "t.openPerfBuffer(cb);"}
await new Promise((r) => setTimeout(r, 50));
let x = 0;
for (let i = 0; i < 10; i++) x += process.ppid; // records 0..9 in one batch
await new Promise((r) => setTimeout(r, 300));
for (let i = 0; i < 5; i++) x += process.ppid; // 10..14
await new Promise((r) => setTimeout(r, 300));
console.log("seen", seen.join(","));
b.close();
`,
      );
      const run = (arg: string) =>
        spawnSync(process.execPath, [script, arg], { encoding: "utf8", timeout: 60_000 });
      const handled = run("handle");
      assert.equal(handled.status, 0, handled.stderr);
      assert.match(handled.stdout, /^caught: callback failed at 3$/m);
      assert.match(
        handled.stdout,
        /^seen 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14$/m,
        "every record once, in order, the ones after the throw included",
      );

      const before = kernelObjects();
      const child = spawn(process.execPath, [script, "no"], { stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
      assert.equal(code, 1, err);
      assert.match(err, /Error: callback failed at 3/);
      // (the kernel frees a map some time after its last fd closes: assertNothingLeft waits for it)
      await assertNothingLeft(before);
    });
  }

  it("signals arriving while the verifier runs do not fail the load", { timeout: 60_000 }, async () => {
    // The kernel's verifier gives up with EAGAIN when the loading thread has a
    // signal pending (libbpf tries 5 times): `node --cpu-prof`'s SIGPROF, or
    // any handled signal sent often enough, made execsnoop's programs fail as
    // a "verifier rejection". Here a shell sends SIGUSR2 as fast as it can.
    const dir = testTempDir("tsbpf-signals");
    const script = join(dir, "load.mjs");
    writeFileSync(
      script,
      `import { BPF } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};
process.on("SIGUSR2", () => {});
process.stdout.write("ready\\n");
await new Promise((r) => process.stdin.once("data", r));
for (let i = 0; i < 3; i++) {
  const b = await BPF.open({ object: ${JSON.stringify(join(repoRoot, "dist/tools/execsnoop.bpf.o"))} });
  b.close();
}
process.stdout.write("loaded\\n");
process.exit(0);
`,
    );
    const before = kernelObjects();
    const child = spawn(process.execPath, [script], { stdio: ["pipe", "pipe", "pipe"] });
    const run = collected(child);
    assert.ok(
      await waitFor(() => run.stdout().includes("ready") || child.exitCode !== null, 20_000),
      run.stderr(),
    );
    const sender = spawn("/bin/sh", ["-c", `while kill -USR2 ${child.pid} 2>/dev/null; do :; done`], {
      stdio: "ignore",
    });
    try {
      await new Promise((r) => setTimeout(r, 100));
      child.stdin.end("go\n");
      const { code } = await run.exited;
      assert.equal(code, 0, run.stderr());
      assert.match(run.stdout(), /loaded/);
      assert.doesNotMatch(run.stderr(), /VerifierError/);
    } finally {
      sender.kill("SIGKILL");
    }
    await assertNothingLeft(before);
  });
});
