/**
 * Chapter 2, Output: perf_output_sample run as a user runs it, with execve
 * calls of our own, its rows read back from stdout.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runChild, skipUnlessRoot } from "../../helpers.js";
import { assertMechanism, kernelHas, runExample, runExampleSync } from "./run_example.js";

const HEADER = "TIME(s)            COMM             PID    MESSAGE";

describe("output", { skip: skipUnlessRoot }, () => {
  it("output/perf_output_sample: one decoded record per execve, in bcc's columns", async () => {
    let pid = -1;
    // The comm a record carries is the task's when it calls execve: the shell
    // renames itself "perfsample", then execs /bin/true.
    const row = (): RegExp => new RegExp(`^(\\d+) +perfsample +${pid} +Hello, perf_output!$`, "m");
    const r = await runExample("output/perf_output_sample", {
      ready: (out) => out.includes(HEADER),
      activity: () => {
        pid = runChild(["/bin/sh", "-c", "printf perfsample > /proc/self/comm; exec /bin/true"]);
      },
      until: (out) => pid > 0 && row().test(out),
    });
    assert.ok(r.matched, `no record for pid ${pid} in:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.equal(lines[0], HEADER);
    // %-18ld %-16s %-6d %s
    const line = lines.find((l) => row().test(l)) as string;
    const time = BigInt((row().exec(line) as RegExpExecArray)[1] as string);
    assert.ok(time > 0n, "the time is bpf_ktime_get_ns(), in nanoseconds");
    assert.equal(line.slice(0, 19), `${String(time).padEnd(18)} `);
    assert.equal(line.slice(19, 36), `${"perfsample".padEnd(16)} `);
    assert.equal(line.slice(36, 43), `${String(pid).padEnd(6)} `);
    assert.equal(line.slice(43), "Hello, perf_output!");
    assertMechanism("perf_output_sample", r.stderr, "kprobe", /using tracepoint syscalls:sys_enter_execve/);
  });

  it("output/perf_output_sample --strict: the typed error where the kernel has no kprobes", (t) => {
    if (kernelHas("kprobe")) {
      t.skip("this kernel has kprobes: --strict runs the original");
      return;
    }
    const r = runExampleSync("output/perf_output_sample", ["--strict"]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /^perf_output_sample: NotSupportedError: kprobes are not available on this kernel \(.*CONFIG_KPROBES is off\); attach to tracepoint syscalls:sys_enter_execve instead\n$/,
    );
  });
});
