/**
 * kfunc / kretfunc / kmod_ret (fentry / fexit / fmod_ret) and LSM programs. Where the kernel
 * refuses them (the 6.18 kernel tsbpf is developed on refuses them with EPERM
 * at load, by a local policy), the typed error is asserted; the success paths run where
 * they are available (the kernel matrix: Debian's 6.1 under qemu,
 * `bash scripts/kernel-matrix.sh -- 'node --test dist/test/kernel/kfunc.test.js'`).
 * @kernel-matrix fentry, fexit, fmod_ret and LSM programs load there.
 */
import assert from "node:assert/strict";
import { closeSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { AttachError, BPF, NotSupportedError } from "../../src/index.js";
import { syscallPrefix } from "../../src/kernel/kernel_info.js";
import {
  kernelObjects,
  leftSince,
  runChild,
  sameOnEveryKernel,
  skipUnlessRoot,
  waitFor,
} from "../helpers.js";

const kfuncs = skipUnlessRoot === false && BPF.supportKfunc();
const lsm = skipUnlessRoot === false && BPF.supportLsm();

/**
 * Per process: openat2-path calls, and of the opens of a path under /tmp/tsbpf-kf (the test's own)
 * the dfd and path (typed arguments) and the return value.
 */
const OPEN_COUNTER = `
struct open_t { s32 dfd; char path[64]; };
BPF_HASH(calls, u32, u64);
BPF_HASH(last, u32, struct open_t);
BPF_HASH(rets, u32, s64);
static __always_inline int ours(const char *p)
{
    const char want[] = "/tmp/tsbpf-kf";
    for (int i = 0; i < sizeof(want) - 1; i++)
        if (p[i] != want[i])
            return 0;
    return 1;
}
KFUNC_PROBE(do_sys_openat2, int dfd, const char *filename)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct open_t o = { .dfd = dfd };
    calls.increment(pid);
    bpf_probe_read_user_str(o.path, sizeof(o.path), filename);
    if (ours(o.path))
        last.update(&pid, &o);
    return 0;
}
KRETFUNC_PROBE(do_sys_openat2, int dfd, const char *filename, struct open_how *how, long ret)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    char path[64] = {};
    s64 r = ret;
    bpf_probe_read_user_str(path, sizeof(path), filename);
    if (ours(path))
        rets.update(&pid, &r);
    return 0;
}`;

describe("kfunc / kretfunc / LSM: refused", {
  skip: skipUnlessRoot || (kfuncs ? "this kernel has fentry" : false),
}, () => {
  it("turns the kernel's refusal of fentry into a NotSupportedError naming what it refused and the alternative", async () => {
    const before = kernelObjects();
    await assert.rejects(BPF.load({ text: OPEN_COUNTER }), (err: unknown) => {
      assert.ok(err instanceof NotSupportedError, String(err));
      assert.equal(err.feature, "kfunc (fentry) programs");
      if (err.errno === 1) {
        assert.match(
          err.reason,
          /refused to load BPF_PROG_TYPE_TRACING programs with expected attach type BPF_TRACE_FENTRY with EPERM/,
        );
        assert.match(err.reason, /before the verifier ran/);
        assert.match(err.reason, /root with every capability/);
      }
      assert.match(err.alternative ?? "", /tracepoint/);
      assert.match(err.alternative ?? "", /tp_btf/);
      return true;
    });
    assert.equal(leftSince(before).links.length, 0);
    assert.equal(BPF.supports("fentry"), "no");
    assert.equal(BPF.supports("kfunc"), "no");
  });

  it("names the syscall tracepoint for a kretfunc on a syscall function", async () => {
    await using b = await BPF.load({
      text: `KRETFUNC_PROBE(${syscallPrefix()}openat, struct pt_regs *regs, long ret) { return 0; }`,
      autoAttach: false,
    });
    assert.throws(
      () => b.attachKretfunc({ fnName: `kretfunc__${syscallPrefix()}openat` }),
      (err: unknown) => {
        assert.ok(err instanceof NotSupportedError, String(err));
        assert.equal(err.feature, "kretfunc (fexit) programs");
        assert.match(err.alternative ?? "", /tracepoint syscalls:sys_exit_openat/);
        assert.match(err.alternative ?? "", /tp_btf raw tracepoint sys_exit/);
        return true;
      },
    );
  });

  it("loadFunc(kfunc__X, BPF.TRACING) asks for fentry on X, and gets the same typed refusal", async () => {
    await using b = await BPF.load({ text: OPEN_COUNTER, autoAttach: false });
    assert.throws(
      () => b.loadFunc("kfunc__do_sys_openat2", BPF.TRACING),
      (err: unknown) => err instanceof NotSupportedError && err.feature === "kfunc (fentry) programs",
    );
  });

  it("refuses KMOD_RET (fmod_ret) programs with a NotSupportedError", async () => {
    const before = kernelObjects();
    await assert.rejects(
      BPF.load({ text: "KMOD_RET(security_file_open, struct file *file, int ret) { return 0; }" }),
      (err: unknown) => {
        assert.ok(err instanceof NotSupportedError, String(err));
        assert.equal(err.feature, "kmod_ret (fmod_ret) programs");
        if (err.errno === 1) assert.match(err.reason, /BPF_MODIFY_RETURN with EPERM/);
        assert.match(err.alternative ?? "", /bpf_override_return/);
        return true;
      },
    );
    assert.equal(leftSince(before).links.length, 0);
    assert.equal(BPF.supports("fmod_ret"), "no");
  });

  it("refuses LSM programs with a NotSupportedError", async () => {
    await assert.rejects(
      BPF.load({ text: "LSM_PROBE(file_open, struct file *file) { return 0; }" }),
      (err: unknown) => {
        assert.ok(err instanceof NotSupportedError, String(err));
        assert.equal(err.feature, "BPF LSM programs");
        assert.match(err.alternative ?? "", /tracepoint/);
        return true;
      },
    );
    assert.equal(BPF.supportLsm(), false);
    assert.equal(BPF.supports("lsm"), "no");
    // attachLsm on a function loaded without auto-attach: the same typed refusal.
    await using b = await BPF.load({
      text: "int check_open(struct file *file) { return 0; }\nLSM_PROBE(file_open, struct file *file) { return 0; }",
      autoAttach: false,
    });
    assert.throws(
      () => b.attachLsm({ fnName: "lsm__file_open" }),
      (err: unknown) => err instanceof NotSupportedError && err.feature === "BPF LSM programs",
    );
    assert.throws(() => b.attachLsm({ fnName: "check_open", target: "file_open" }), NotSupportedError);
  });
});

// (Checked before anything loads: the same on every kernel with BTF. In the
// matrix its first compile, which falls back to the whole vmlinux.h for the
// missing function, took a minute of the guest's time.)
describe("kfunc / kretfunc: targets", { skip: skipUnlessRoot || sameOnEveryKernel }, () => {
  it("says when the kernel's BTF has no such function (before loading anything)", async () => {
    await using b = await BPF.load({
      text: "KFUNC_PROBE(tsbpf_no_such_function) { return 0; }",
      autoAttach: false,
    });
    assert.throws(
      () => b.attachKfunc({ fnName: "kfunc__tsbpf_no_such_function" }),
      (err: unknown) =>
        err instanceof AttachError &&
        /this kernel has no function tsbpf_no_such_function in its BTF/.test(err.message),
    );
  });

  it("MODULE_KFUNC_PROBE(module, fn, …) names kfunc__<module>__<fn>, and says to load a module that is not", async () => {
    await using b = await BPF.load({
      text: "MODULE_KFUNC_PROBE(tsbpf_no_module, some_function, int x) { return 0; }\nMODULE_KRETFUNC_PROBE(tsbpf_no_module, some_function, int x, int ret) { return 0; }",
      autoAttach: false,
    });
    for (const [fnName, attach] of [
      ["kfunc__tsbpf_no_module__some_function", (o: { fnName: string }) => b.attachKfunc(o)],
      ["kretfunc__tsbpf_no_module__some_function", (o: { fnName: string }) => b.attachKretfunc(o)],
    ] as const)
      assert.throws(
        () => attach({ fnName }),
        (err: unknown) =>
          err instanceof AttachError &&
          /no loaded module tsbpf_no_module has BTF for some_function/.test(err.message) &&
          /modprobe tsbpf_no_module/.test(err.message),
      );
  });

  it("says what a function that does not name its target should do", async () => {
    await using b = await BPF.load({ text: "int plain(void *ctx) { return 0; }", autoAttach: false });
    assert.throws(() => b.attachKfunc({ fnName: "plain" }), /name it kfunc__TARGET .*or pass target/);
    assert.throws(() => b.attachKfunc({ fnName: "nope" }), /no function nope/);
  });
});

describe("kfunc / kretfunc", {
  skip: skipUnlessRoot || (kfuncs ? false : "this kernel refuses fentry: runs in the kernel matrix"),
}, () => {
  it("auto-attaches KFUNC_PROBE and KRETFUNC_PROBE, with typed arguments and the return value", async () => {
    const before = kernelObjects();
    const b = await BPF.load({ text: OPEN_COUNTER });
    try {
      assert.equal(b.numOpenKfuncs(), 2);
      assert.equal(leftSince(before).links.length, 2);
      // cat opens its argument, which does not exist: -ENOENT, relative to AT_FDCWD.
      const missing = `/tmp/tsbpf-kfunc-missing-${process.pid}`;
      const pid = runChild(["/bin/cat", missing]);
      const calls = b.getTable("calls");
      assert.ok(
        await waitFor(() => ((calls.get(pid) as bigint | undefined) ?? 0n) > 0n, 10_000),
        "kfunc ran for the child",
      );
      assert.deepEqual(
        b.getTable("last").get(pid),
        { dfd: -100, path: missing },
        "typed arguments dfd, filename",
      );
      assert.equal(b.getTable("rets").get(pid), -2n, "the return value: -ENOENT");
      b.detachKfunc({ fnName: "kfunc__do_sys_openat2" });
      b.detachKretfunc({ target: "do_sys_openat2" });
      assert.equal(b.numOpenKfuncs(), 0);
      assert.equal(leftSince(before).links.length, 0);
    } finally {
      b.close();
    }
  });

  it('attaches a KFUNC_PROBE explicitly, and a libbpf-style SEC("fentry/…") function', async () => {
    const before = kernelObjects();
    const b = await BPF.load({
      text: `
BPF_HASH(by_macro, u32, u64);
BPF_HASH(by_sec, u32, u64);
KFUNC_PROBE(do_sys_openat2) { by_macro.increment(bpf_get_current_pid_tgid() >> 32); return 0; }
SEC("fentry/do_sys_openat2") int BPF_PROG(by_section) { by_sec.increment(bpf_get_current_pid_tgid() >> 32); return 0; }`,
      autoAttach: false,
    });
    try {
      b.attachKfunc({ fnName: "kfunc__do_sys_openat2" });
      b.attachKfunc({ fnName: "by_section" });
      const pid = runChild(["/bin/cat", "/dev/null"]);
      const opens = (t: string): bigint => (b.getTable(t).get(pid) as bigint | undefined) ?? 0n;
      assert.ok(
        await waitFor(() => opens("by_macro") > 0n && opens("by_sec") > 0n, 10_000),
        "both ran for the child",
      );
      assert.equal(opens("by_macro"), opens("by_sec"), "each of the child's opens once by each");
      b.close();
      assert.equal(leftSince(before).links.length, 0, "close() detaches them");
    } finally {
      b.close();
    }
    assert.equal(BPF.supports("fentry"), "yes");
  });

  it('loadFunc loads a kfunc__X or SEC("fexit/X") function as BPF.TRACING for X, as bcc\'s load_func does', async () => {
    await using b = await BPF.load({
      text: `${OPEN_COUNTER}
SEC("fexit/do_sys_openat2") int BPF_PROG(on_exit) { return 0; }`,
      autoAttach: false,
    });
    for (const name of ["kfunc__do_sys_openat2", "on_exit"]) {
      const fn = b.loadFunc(name, BPF.TRACING);
      assert.ok(fn.fd > 0, name);
      assert.equal(fn.type, BPF.TRACING);
    }
  });
});

describe("kmod_ret (fmod_ret)", {
  skip:
    skipUnlessRoot ||
    (BPF.supports("fmod_ret") === "yes" ? false : "this kernel refuses fmod_ret: runs in the kernel matrix"),
}, () => {
  it("makes security_file_open fail with -EACCES for one file, until detached", async () => {
    const denied = join(tmpdir(), "tsbpf-fmodret-deny");
    writeFileSync(denied, "x");
    const before = kernelObjects();
    const b = await BPF.load({
      text: `
BPF_ARRAY(refused, u64, 1);
KMOD_RET(security_file_open, struct file *file, int ret)
{
    char name[24] = {};
    const char want[] = "tsbpf-fmodret-deny";
    if (ret)
        return ret; /* already refused by someone else: keep that */
    bpf_probe_read_kernel_str(name, sizeof(name), file->f_path.dentry->d_name.name);
    for (int i = 0; i < sizeof(want); i++)
        if (name[i] != want[i])
            return 0;
    refused.increment(0);
    return -13; /* -EACCES: security_file_open is skipped and returns this */
}`,
    });
    try {
      assert.equal(b.numOpenKfuncs(), 1);
      assert.throws(() => openSync(denied, "r"), { code: "EACCES" });
      assert.equal(b.getTable("refused").get(0), 1n);
      closeSync(openSync("/dev/null", "r"));
      b.detachKmodRet({ target: "security_file_open" });
      assert.equal(leftSince(before).links.length, 0);
      closeSync(openSync(denied, "r"));
    } finally {
      b.close();
      rmSync(denied, { force: true });
    }
  });

  it("says which functions may have their return value changed", async () => {
    await using b = await BPF.load({
      text: "KMOD_RET(do_sys_openat2, int dfd, const char *filename, void *how, long ret) { return 0; }",
      autoAttach: false,
    });
    assert.throws(
      () => b.attachKmodRet({ fnName: "kmod_ret__do_sys_openat2" }),
      (err: unknown) => {
        assert.ok(err instanceof AttachError, String(err));
        assert.match(err.message, /does not allow changing the return value of do_sys_openat2/);
        assert.match(err.message, /security_\* functions.*ALLOW_ERROR_INJECTION/);
        return true;
      },
    );
  });
});

describe("LSM", { skip: skipUnlessRoot || (lsm ? false : "this kernel cannot run BPF LSM programs") }, () => {
  it("refuses an open from an LSM_PROBE program, until detached", async () => {
    const dir = tmpdir();
    const denied = join(dir, "tsbpf-lsm-deny");
    const allowed = join(dir, "tsbpf-lsm-allow");
    writeFileSync(denied, "x");
    writeFileSync(allowed, "x");
    const b = await BPF.load({
      text: `
LSM_PROBE(file_open, struct file *file)
{
    char name[16] = {};
    const char want[] = "tsbpf-lsm-deny";
    bpf_probe_read_kernel_str(name, sizeof(name), file->f_path.dentry->d_name.name);
    for (int i = 0; i < sizeof(want); i++)
        if (name[i] != want[i])
            return 0;
    return -1; /* -EPERM */
}`,
    });
    try {
      assert.equal(b.numOpenKfuncs(), 1);
      assert.throws(() => openSync(denied, "r"), { code: "EPERM" });
      closeSync(openSync(allowed, "r"));
      b.detachLsm({ fnName: "lsm__file_open" });
      closeSync(openSync(denied, "r"));
    } finally {
      b.close();
      rmSync(denied, { force: true });
      rmSync(allowed, { force: true });
    }
  });
});
