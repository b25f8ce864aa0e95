/**
 * Every error a user can cause, by class and message, against the real kernel.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  AttachError,
  BPF,
  BpfError,
  ClosedError,
  CompileError,
  NotSupportedError,
  VerifierError,
} from "../../src/index.js";
import { kprobeSupport } from "../../src/kernel/features.js";
import { repoRoot, skipUnlessRoot, testTempDir } from "../helpers.js";

const noKprobes = kprobeSupport() === "no";

describe("errors", { skip: skipUnlessRoot }, () => {
  it("attachKprobe on a kernel without kprobes: NotSupportedError naming the syscall tracepoint", async (t) => {
    if (!noKprobes) {
      t.skip("this kernel has kprobes (the success path runs in the kernel matrix)");
      return;
    }
    await using b = await BPF.load({ text: "int syscall__execve(struct pt_regs *ctx) { return 0; }" });
    assert.throws(
      () => b.attachKprobe({ event: b.getSyscallFnname("execve"), fnName: "syscall__execve" }),
      (err: unknown) =>
        err instanceof NotSupportedError &&
        err.feature === "kprobes" &&
        /CONFIG_KPROBES is off/.test(err.message) &&
        err.alternative === "attach to tracepoint syscalls:sys_enter_execve instead",
    );
    assert.throws(
      () => b.attachKretprobe({ event: b.getSyscallFnname("openat"), fnName: "syscall__execve" }),
      (err: unknown) =>
        err instanceof NotSupportedError &&
        /syscalls:sys_exit_openat/.test(err.message) &&
        err.feature === "kretprobes",
    );
    assert.throws(
      () => b.attachKprobe({ event: "tcp_v4_connect", fnName: "syscall__execve" }),
      (err: unknown) => {
        assert.ok(err instanceof NotSupportedError);
        // Where fentry works (not here), a kfunc is the better stand-in for a kernel function.
        if (BPF.supports("kfunc") === "yes") assert.match(err.message, /KFUNC_PROBE\(tcp_v4_connect, /);
        else assert.match(err.message, /tsbpf tplist.*BTF_TRACEPOINT_PROBE/);
        return true;
      },
    );
    assert.equal(b.numOpenKprobes(), 0);
    assert.equal(BPF.supportKprobe(), false);
  });

  it("auto-attach of kprobe__ fails at load with the same typed error", async (t) => {
    if (!noKprobes) {
      t.skip("this kernel has kprobes");
      return;
    }
    await assert.rejects(
      BPF.load({ text: "int kprobe__sys_execve(struct pt_regs *ctx) { return 0; }" }),
      (err: unknown) => err instanceof NotSupportedError && /syscalls:sys_enter_execve/.test(err.message),
    );
  });

  it("kprobe__execve without kprobes: the error names the syscall's real function and tracepoint", async (t) => {
    if (!noKprobes) {
      t.skip("this kernel has kprobes (kprobe.test.ts checks the AttachError there)");
      return;
    }
    for (const [prefix, tp] of [
      ["kprobe__", "sys_enter_execve"],
      ["kretprobe__", "sys_exit_execve"],
    ] as const) {
      await assert.rejects(
        BPF.load({ text: `int ${prefix}execve(struct pt_regs *ctx) { return 0; }` }),
        (err: unknown) => {
          assert.ok(err instanceof NotSupportedError, String(err));
          assert.match(
            err.alternative ?? "",
            new RegExp(
              `^there is no kernel function "execve": the execve syscall is "__\\w+_sys_execve" on this kernel ` +
                `\\(name the function ${prefix}sys_execve, or pass getSyscallFnname\\("execve"\\) to attachK(ret)?probe\\); ` +
                `without kprobes, attach to tracepoint syscalls:${tp} instead$`,
            ),
          );
          return true;
        },
      );
    }
  });

  it("a kprobe calling bpf_override_return without kprobes: the error-injection error, not the kprobe one", async (t) => {
    if (!noKprobes || BPF.supports("override_return") === "yes") {
      t.skip("this kernel has kprobes");
      return;
    }
    await assert.rejects(
      BPF.load({
        text: "int kprobe__sys_execve(struct pt_regs *ctx) { bpf_override_return(ctx, -13); return 0; }",
      }),
      (err: unknown) =>
        err instanceof NotSupportedError &&
        err.feature === "error injection (bpf_override_return)" &&
        /CONFIG_BPF_KPROBE_OVERRIDE/.test(err.reason),
    );
  });

  it("an unknown tracepoint: AttachError naming the closest ones", async () => {
    await using b = await BPF.load({ text: "int f(void *ctx) { return 0; }" });
    assert.throws(
      () => b.attachTracepoint({ tp: "syscalls:sys_enter_execv", fnName: "f" }),
      (err: unknown) =>
        err instanceof AttachError &&
        /does not exist on this kernel; did you mean syscalls:sys_enter_execve/.test(err.message),
    );
    assert.throws(() => b.attachTracepoint({ tp: "execve", fnName: "f" }), /category:event/);
  });

  it("a misspelled raw tracepoint: AttachError naming the close names", async () => {
    await using b = await BPF.load({ text: "int f(struct bpf_raw_tracepoint_args *ctx) { return 0; }" });
    assert.throws(
      () => b.attachRawTracepoint({ tp: "sched_swich", fnName: "f" }),
      (err: unknown) => err instanceof AttachError && /did you mean .*sched_switch/.test(err.message),
    );
  });

  it("an unknown TRACEPOINT_PROBE: CompileError at the user's line with suggestions", async () => {
    await assert.rejects(
      BPF.load({ text: "\n\nTRACEPOINT_PROBE(sched, sched_swtch) { return 0; }" }),
      (err: unknown) =>
        err instanceof CompileError &&
        err.diagnostics[0]?.line === 3 &&
        /did you mean sched:sched_switch/.test(err.message),
    );
  });

  it("a GPL-only helper from a non-GPL program: VerifierError with the cause and the source line", async () => {
    const text = [
      "#define BPF_LICENSE Proprietary",
      "int syscall__execve(struct pt_regs *ctx)",
      "{",
      '    bpf_trace_printk("hello\\n");',
      "    return 0;",
      "}",
    ].join("\n");
    await using b = await BPF.load({ text });
    assert.throws(
      () => b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "syscall__execve" }),
      (err: unknown) => {
        assert.ok(err instanceof VerifierError, String(err));
        assert.match(err.message, /cannot call GPL-restricted function from non-GPL compatible program/);
        assert.equal(err.sourceLine, 4);
        assert.match(err.message, /<text>\.c:4/);
        assert.match(err.message, /"Proprietary"/);
        assert.ok(err.log.length > 0);
        return true;
      },
    );
    assert.equal(b.numOpenTracepoints(), 0);
  });

  it("an invalid memory access: VerifierError naming the reason and line", async () => {
    // A map value used without the NULL check the verifier demands.
    const text = [
      "BPF_HASH(counts, u32, u64);",
      "int f(void *ctx)",
      "{",
      "    u32 k = 0;",
      "    u64 *v = counts.lookup(&k);",
      "    return *v;",
      "}",
    ].join("\n");
    await using b = await BPF.load({ text });
    assert.throws(
      () => b.loadFunc("f", BPF.TRACEPOINT),
      (err: unknown) =>
        err instanceof VerifierError &&
        /invalid mem access 'map_value_or_null'/.test(err.reason) &&
        err.sourceLine === 6 &&
        /<text>\.c:6: return \*v;/.test(err.message) &&
        /check map lookups for NULL/.test(err.message),
    );
  });

  it("bad C: CompileError with clang's message at the user's line", async () => {
    await assert.rejects(
      BPF.load({ text: "int f(void *ctx)\n{\n    return undefined_thing;\n}\n" }),
      (err: unknown) => {
        assert.ok(err instanceof CompileError);
        assert.equal(err.diagnostics[0]?.line, 3);
        assert.match(err.message, /<text>\.c:3:12: error: use of undeclared identifier 'undefined_thing'/);
        assert.match(err.message, /return undefined_thing;/);
        return true;
      },
    );
  });

  it("a call to an undeclared function: CompileError at its line, not libbpf's bare ENOENT at open", async () => {
    await assert.rejects(
      BPF.load({ text: "int f(void *ctx)\n{\n    return htons_typo(1);\n}\n" }),
      (err: unknown) => {
        assert.ok(err instanceof CompileError, String(err));
        assert.equal(err.diagnostics[0]?.line, 3);
        assert.match(err.message, /implicit declaration of function 'htons_typo'/);
        return true;
      },
    );
  });

  it("a bpf_trace_printk the kernel cannot print: CompileError before clang runs", async () => {
    await assert.rejects(
      BPF.load({ text: 'int f(void *ctx) { bpf_trace_printk("%d %d %d %d\\n", 1, 2, 3, 4); return 0; }' }),
      (err: unknown) => err instanceof CompileError && /at most 3 arguments/.test(err.message),
    );
  });

  it("an unknown function: a BpfError listing the ones there are", async () => {
    await using b = await BPF.load({ text: "int on_exec(void *ctx) { return 0; }" });
    assert.throws(
      () => b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exe" }),
      (err: unknown) =>
        err instanceof BpfError && /no function on_exe .*did you mean on_exec/.test(err.message),
    );
  });

  it("a closed object: ClosedError", async () => {
    const b = await BPF.load({ text: "int f(void *ctx) { return 0; }" });
    b.close();
    assert.throws(() => b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "f" }), ClosedError);
    assert.throws(() => b.loadFunc("f", BPF.TRACEPOINT), /BPF object is closed/);
  });

  it("not root: PermissionError naming the capability", () => {
    // Run a small script as nobody, with a cache it can write.
    const dir = testTempDir("tsbpf-nobody");
    chmodSync(dir, 0o777);
    const script = join(dir, "load.mjs");
    writeFileSync(
      script,
      `import { BPF } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};
try {
  const b = await BPF.load({ text: "int f(void *ctx) { return 0; }" });
  b.loadFunc("f", BPF.TRACEPOINT);
  console.log("loaded");
} catch (err) { console.log(err.name + ": " + err.message + " [" + err.capability + "]"); }
`,
    );
    const r = spawnSync(process.execPath, [script], {
      uid: 65534,
      gid: 65534,
      env: { ...process.env, TSBPF_CACHE_DIR: join(dir, "cache"), HOME: dir },
      encoding: "utf8",
    });
    assert.match(
      r.stdout,
      /^PermissionError: .*needs privileges: run as root, or grant CAP_BPF.*\[CAP_BPF\]/m,
      r.stderr,
    );
  });
});
