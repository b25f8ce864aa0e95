/**
 * The BPF_PROG-style probe macros of the bcc dialect (KFUNC_PROBE,
 * KRETFUNC_PROBE, KMOD_RET, LSM_PROBE, BTF_TRACEPOINT_PROBE) and the auto-attach
 * rules of the functions they define.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { autoAttachFor, rewriteBcc } from "../../src/compile/rewriter.js";
import { CompileError } from "../../src/kernel/errors.js";

describe("BPF_PROG-style probe macros", () => {
  it("expand to BPF_PROG functions named after the macro and target, in sections of their own", () => {
    const src = [
      "KFUNC_PROBE(vfs_read, struct file *file) { return 0; }",
      "KRETFUNC_PROBE(vfs_read, struct file *file, char *buf, size_t n, loff_t *pos, ssize_t ret) { return 0; }",
      "LSM_PROBE(file_open, struct file *file) { return 0; }",
      "BTF_TRACEPOINT_PROBE(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next) { return 0; }",
      "KFUNC_PROBE(do_nanosleep) { return 0; }",
    ].join("\n");
    const r = rewriteBcc(src);
    const out = r.code.split("\n");
    assert.equal(
      out[0],
      '__attribute__((section("tsbpf/kfunc__vfs_read"), used)) int BPF_PROG(kfunc__vfs_read, struct file *file) { return 0; }',
    );
    assert.match(
      out[1] ?? "",
      /^__attribute__\(\(section\("tsbpf\/kretfunc__vfs_read"\), used\)\) int BPF_PROG\(kretfunc__vfs_read, struct file \*file, .* ssize_t ret\)/,
    );
    assert.match(out[2] ?? "", /int BPF_PROG\(lsm__file_open, struct file \*file\)/);
    assert.match(out[3] ?? "", /int BPF_PROG\(btf_tracepoint__sched_switch, bool preempt,/);
    assert.match(out[4] ?? "", /int BPF_PROG\(kfunc__do_nanosleep\) \{ return 0; \}/);
    assert.deepEqual(
      r.programs.map((p) => [
        p.name,
        p.section,
        p.autoAttach?.kind,
        p.autoAttach?.target,
        p.declaredArgs.length,
      ]),
      [
        ["kfunc__vfs_read", "tsbpf/kfunc__vfs_read", "kfunc", "vfs_read", 0],
        ["kretfunc__vfs_read", "tsbpf/kretfunc__vfs_read", "kretfunc", "vfs_read", 0],
        ["lsm__file_open", "tsbpf/lsm__file_open", "lsm", "file_open", 0],
        [
          "btf_tracepoint__sched_switch",
          "tsbpf/btf_tracepoint__sched_switch",
          "btf_tracepoint",
          "sched_switch",
          0,
        ],
        ["kfunc__do_nanosleep", "tsbpf/kfunc__do_nanosleep", "kfunc", "do_nanosleep", 0],
      ],
    );
  });

  it("expands KMOD_RET (fmod_ret) to a kmod_ret__ function auto-attached to its target", () => {
    const r = rewriteBcc("KMOD_RET(security_file_open, struct file *file, int ret) { return ret; }");
    assert.equal(
      r.code,
      '__attribute__((section("tsbpf/kmod_ret__security_file_open"), used)) int BPF_PROG(kmod_ret__security_file_open, struct file *file, int ret) { return ret; }',
    );
    assert.deepEqual(r.programs[0]?.autoAttach, { kind: "kmod_ret", target: "security_file_open" });
    assert.deepEqual(autoAttachFor("kmod_ret__vmlinux__security_bprm_check"), {
      kind: "kmod_ret",
      target: "security_bprm_check",
    });
  });

  it("keeps line numbers when the macro's arguments span lines", () => {
    const src = "KFUNC_PROBE(\n  vfs_read,\n  struct file *file)\n{\n  return 0;\n}\n";
    const r = rewriteBcc(src);
    assert.equal(r.code.split("\n").length, src.split("\n").length);
    assert.equal(r.code.split("\n").indexOf("  return 0;"), 4);
  });

  it("rejects a macro whose first argument is not a name", () => {
    assert.throws(
      () => rewriteBcc("KFUNC_PROBE(struct file *f) { return 0; }"),
      (err: unknown) => {
        assert.ok(err instanceof CompileError);
        assert.match(err.message, /KFUNC_PROBE takes \(function, typed arguments…\)/);
        return true;
      },
    );
    assert.throws(
      () => rewriteBcc("LSM_PROBE() { return 0; }"),
      /LSM_PROBE takes \(hook, typed arguments…\)/,
    );
  });

  it("names libbpf-style BPF_PROG / BPF_KPROBE programs after the macro's first argument", () => {
    const r = rewriteBcc(
      'SEC("fentry/vfs_read") int BPF_PROG(on_read, struct file *f) { return 0; }\n' +
        'SEC("kprobe/vfs_write") int BPF_KPROBE(on_write) { return 0; }\n',
    );
    assert.deepEqual(
      r.programs.map((p) => [p.name, p.section]),
      [
        ["on_read", "fentry/vfs_read"],
        ["on_write", "kprobe/vfs_write"],
      ],
    );
  });

  it("auto-attaches kfunc__, kretfunc__, lsm__ and btf_tracepoint__ functions (bcc's kfunc__vmlinux__ too)", () => {
    assert.deepEqual(autoAttachFor("kfunc__vfs_read"), { kind: "kfunc", target: "vfs_read" });
    assert.deepEqual(autoAttachFor("kfunc__vmlinux__vfs_read"), { kind: "kfunc", target: "vfs_read" });
    assert.deepEqual(autoAttachFor("kretfunc__do_sys_openat2"), {
      kind: "kretfunc",
      target: "do_sys_openat2",
    });
    assert.deepEqual(autoAttachFor("lsm__bprm_check_security"), {
      kind: "lsm",
      target: "bprm_check_security",
    });
    assert.deepEqual(autoAttachFor("btf_tracepoint__sched_switch"), {
      kind: "btf_tracepoint",
      target: "sched_switch",
    });
    assert.equal(autoAttachFor("kfunc_vfs_read"), undefined);
  });
});
