/**
 * Chapter 8, System-call probes: execve_simple (the syscall's kernel function
 * from getSyscallFnname) and execve_kprobe_simple (kprobe__execve, which no
 * kernel function matches: the error must name the right one).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { syscallPrefix } from "../../../src/kernel/kernel_info.js";
import { kernelObjects, leftSince, runChild, skipUnlessRoot, waitFor } from "../../helpers.js";
import { assertMechanism, kernelHas, runExample, runExampleSync } from "./run_example.js";

const HEADER = "TIME(s)            COMM             PID    MESSAGE";

describe("syscall", { skip: skipUnlessRoot }, () => {
  it("syscall/execve_simple: start of execve for an execve of ours", async () => {
    let pid = -1;
    // "%-18.9f %-16s %-6d %s"; trace_pipe may show "<...>" for the comm.
    const row = (): RegExp =>
      new RegExp(`^\\d+\\.\\d{9} +(execsimple|<\\.\\.\\.>) +${pid} +start of execve$`, "m");
    const r = await runExample("syscall/execve_simple", {
      ready: (out) => out.includes(HEADER),
      activity: () => {
        pid = runChild(["/bin/sh", "-c", "printf execsimple > /proc/self/comm; exec /bin/true"]);
      },
      until: (out) => pid > 0 && row().test(out),
    });
    assert.ok(r.matched, `no row for pid ${pid} in:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n")[0], HEADER);
    const line = r.stdout.split("\n").find((l) => row().test(l)) as string;
    assert.match(line.slice(0, 19), /^\d+\.\d{9} +$/);
    assert.equal(line.slice(36, 43), `${String(pid).padEnd(6)} `);
    assert.equal(line.slice(43), "start of execve");
    assertMechanism("execve_simple", r.stderr, "kprobe", /using tracepoint syscalls:sys_enter_execve/);
  });

  it("syscall/execve_simple --strict: the typed error where the kernel has no kprobes", (t) => {
    if (kernelHas("kprobe")) {
      t.skip("this kernel has kprobes: --strict runs the original");
      return;
    }
    const r = runExampleSync("syscall/execve_simple", ["--strict"]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^execve_simple: NotSupportedError: kprobes are not available on this kernel \(.*\); attach to tracepoint syscalls:sys_enter_execve instead\n$/,
    );
  });

  it("syscall/execve_kprobe_simple: fails, naming the execve syscall's kernel function", async () => {
    const before = kernelObjects();
    const r = runExampleSync("syscall/execve_kprobe_simple");
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, "");
    const fn = `${syscallPrefix()}execve`;
    const hint =
      `there is no kernel function "execve": the execve syscall is "${fn}" on this kernel ` +
      `(name the function kprobe__sys_execve, or pass getSyscallFnname("execve") to attachKprobe)`;
    if (kernelHas("kprobe")) {
      assert.equal(
        r.stderr,
        `execve_kprobe_simple: AttachError: cannot attach to kprobe execve: no traceable kernel function "execve" (${hint})\n`,
      );
    } else {
      assert.match(
        r.stderr,
        /^execve_kprobe_simple: NotSupportedError: kprobes are not available on this kernel \(.*CONFIG_KPROBES is off\); /,
      );
      assert.ok(
        r.stderr.endsWith(
          `; ${hint}; without kprobes, attach to tracepoint syscalls:sys_enter_execve instead\n`,
        ),
        r.stderr,
      );
    }
    await waitFor(() => {
      const left = leftSince(before);
      return left.progs.length + left.links.length + left.maps.length === 0;
    }, 3000);
    assert.deepEqual(leftSince(before), { progs: [], links: [], maps: [] });
  });
});
