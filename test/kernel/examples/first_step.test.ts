/**
 * Chapter 1, the seed end to end, as a user runs it: a child process running
 * first_step/printk_sample, real execve calls, rows read back from its stdout.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  kernelObjects,
  leftSince,
  type Running,
  runChild,
  sameOnEveryKernel,
  skipUnlessRoot,
  startNode,
  waitFor,
} from "../../helpers.js";
import { runExampleSync } from "./run_example.js";

const HEADER = "PID    COMM         OUTPUT";

async function startSample(args: string[] = []): Promise<Running> {
  const r = startNode("examples/first_step/printk_sample.js", args);
  const ready = await waitFor(() => r.stdout().includes(HEADER) || r.child.exitCode !== null, 30_000);
  assert.ok(ready && r.stdout().includes(HEADER), `printk_sample did not start: ${r.stderr()}`);
  return r;
}

describe("first_step/printk_sample", { skip: skipUnlessRoot }, () => {
  it("prints a row for an execve of a process we spawned, with its PID and comm", async () => {
    const r = await startSample();
    try {
      // The comm in the message is the one the task has when it calls execve:
      // the shell renames itself "true", then execs /bin/true.
      const pid = runChild(["/bin/sh", "-c", "printf true > /proc/self/comm; exec /bin/true"]);
      const row = new RegExp(
        `^${pid}\\s+\\S+\\s+start of execve time = \\d+ , pid = ${pid}, comm = true$`,
        "m",
      );
      const seen = await waitFor(() => row.test(r.stdout()), 10_000);
      assert.ok(seen, `no row for pid ${pid} in:\n${r.stdout().slice(-2000)}`);
      // Header and row layout: %-6s %-12s %s / %-6d %-12.12s %s
      assert.equal(r.stdout().split("\n")[0], HEADER);
      const line = r
        .stdout()
        .split("\n")
        .find((l) => row.test(l)) as string;
      assert.equal(line.slice(0, 7), `${String(pid).padEnd(6)} `);
      assert.equal(line[20], "s", "the message starts after 6 + 1 + 12 + 1 columns");
      // On this kernel the fallback is announced in one line on stderr.
      if (!/kprobes are not available/.test(r.stderr())) assert.equal(r.stderr(), "");
      else
        assert.match(
          r.stderr(),
          /^printk_sample: kprobes are not available on this kernel \(.*\); using tracepoint syscalls:sys_enter_execve instead\n$/,
        );
    } finally {
      r.child.kill("SIGINT");
      await r.exited;
    }
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`exits with status 0 on ${signal} and leaves nothing in the kernel`, async () => {
      const before = kernelObjects();
      const r = await startSample();
      assert.ok(leftSince(before).progs.length > 0, "the sample loaded a program");
      r.child.kill(signal);
      const { code } = await r.exited;
      assert.equal(code, 0, r.stderr());
      // Freeing programs and maps is deferred in the kernel (RCU), so allow a moment.
      await waitFor(() => {
        const left = leftSince(before);
        return left.progs.length + left.links.length + left.maps.length === 0;
      }, 3000);
      assert.deepEqual(leftSince(before), { progs: [], links: [], maps: [] });
    });
  }

  it("leaves nothing in the kernel when killed with SIGKILL", async () => {
    const before = kernelObjects();
    const r = await startSample();
    r.child.kill("SIGKILL");
    const { signal } = await r.exited;
    assert.equal(signal, "SIGKILL");
    // The kernel releases fd-based links and programs as the process's files close.
    const clean = await waitFor(() => {
      const left = leftSince(before);
      return left.progs.length === 0 && left.links.length === 0 && left.maps.length === 0;
    }, 5000);
    assert.ok(clean, JSON.stringify(leftSince(before)));
  });

  it("ends quietly with status 0 when its reader goes away (printk_sample | head -1)", {
    skip: sameOnEveryKernel,
  }, async () => {
    const r = await startSample();
    r.child.stdout?.destroy(); // the reader has gone: the next row fails with EPIPE
    const end = Date.now() + 10_000;
    while (r.child.exitCode === null && Date.now() < end) {
      runChild();
      await new Promise((res) => setTimeout(res, 100));
    }
    const { code } = await r.exited;
    assert.equal(code, 0, r.stderr());
    assert.doesNotMatch(r.stderr(), /EPIPE|Error/);
  });

  it("stops by itself after --duration", { skip: sameOnEveryKernel }, async () => {
    const r = await startSample(["--duration", "1"]);
    const { code } = await r.exited;
    assert.equal(code, 0, r.stderr());
  });

  it("fails with the typed error under --strict when the kernel has no kprobes", async (t) => {
    const { kprobeSupport } = await import("../../../src/kernel/features.js");
    if (kprobeSupport() === "yes") {
      t.skip("this kernel has kprobes: --strict runs the kprobe (covered by the kernel matrix)");
      return;
    }
    const r = runExampleSync("first_step/printk_sample", ["--strict"]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /NotSupportedError: kprobes are not available on this kernel \(.*CONFIG_KPROBES is off\); attach to tracepoint syscalls:sys_enter_execve instead/,
    );
  });
});
