/** The attach-kind table: bcc's name prefixes and libbpf's sections to a kind and target. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  ATTACH_KINDS,
  attachKind,
  bccMacroPrefix,
  kindOfBccName,
  kindOfSection,
} from "../../src/attach/kinds.js";
import { attachKindsTable } from "../../src/attach/kinds_doc.js";
import { autoAttachFor, rewriteBcc } from "../../src/compile/rewriter.js";
import { AttachType, ProgType } from "../../src/kernel/constants.js";
import { repoRoot } from "../helpers.js";

describe("attach kinds", () => {
  it("one row per kind, each with its program type, attach type, sections and minimum kernel", () => {
    const names = ATTACH_KINDS.map((k) => k.name);
    assert.equal(new Set(names).size, names.length);
    for (const k of ATTACH_KINDS) {
      assert.ok(k.sections.length > 0, k.name);
      assert.match(k.minKernel, /^\d+\.\d+$/, k.name);
    }
    assert.deepEqual(
      [attachKind("kfunc").progType, attachKind("kfunc").expectedAttachType],
      [ProgType.TRACING, AttachType.TRACE_FENTRY],
    );
    assert.equal(attachKind("lsm").expectedAttachType, AttachType.LSM_MAC);
  });

  it("bcc's name prefixes", () => {
    assert.deepEqual(kindOfBccName("kprobe__tcp_v4_connect"), { kind: "kprobe", target: "tcp_v4_connect" });
    assert.deepEqual(kindOfBccName("kretprobe__tcp_v4_connect"), {
      kind: "kretprobe",
      target: "tcp_v4_connect",
    });
    assert.deepEqual(kindOfBccName("tracepoint__raw_syscalls__sys_enter"), {
      kind: "tracepoint",
      target: "raw_syscalls:sys_enter",
    });
    assert.deepEqual(kindOfBccName("raw_tracepoint__sched_switch"), {
      kind: "raw_tracepoint",
      target: "sched_switch",
    });
    assert.deepEqual(kindOfBccName("kfunc__vmlinux__vfs_read"), { kind: "kfunc", target: "vfs_read" });
    assert.deepEqual(kindOfBccName("lsm__file_open"), { kind: "lsm", target: "file_open" });
    assert.equal(kindOfBccName("syscall__execve"), undefined);
    assert.equal(kindOfBccName("kprobe__"), undefined);
    assert.deepEqual(autoAttachFor("kmod_ret__security_file_open"), {
      kind: "kmod_ret",
      target: "security_file_open",
    });
    assert.equal(bccMacroPrefix("KRETFUNC_PROBE"), "kretfunc__");
    assert.equal(bccMacroPrefix("TRACEPOINT_PROBE"), undefined, "not a BTF-typed function macro");
  });

  it("libbpf's sections, as libbpf's auto-attach reads them", () => {
    assert.deepEqual(kindOfSection("kprobe/do_nanosleep"), { kind: "kprobe", target: "do_nanosleep" });
    assert.deepEqual(kindOfSection("tracepoint/syscalls/sys_enter_execve"), {
      kind: "tracepoint",
      target: "syscalls:sys_enter_execve",
    });
    assert.deepEqual(kindOfSection("tp/sched/sched_switch"), {
      kind: "tracepoint",
      target: "sched:sched_switch",
    });
    assert.deepEqual(kindOfSection("raw_tp/sched_switch"), {
      kind: "raw_tracepoint",
      target: "sched_switch",
    });
    assert.deepEqual(kindOfSection("fentry.s/vfs_read"), { kind: "kfunc", target: "vfs_read" });
    assert.deepEqual(kindOfSection("tp_btf/sched_switch"), {
      kind: "btf_tracepoint",
      target: "sched_switch",
    });
    assert.deepEqual(kindOfSection("uprobe//bin/bash:readline"), {
      kind: "uprobe",
      target: "/bin/bash:readline",
    });
    assert.equal(kindOfSection("xdp"), undefined, "no target: attached by call");
    assert.equal(attachKind("usdt").sectionAttaches, undefined, "usdt/ needs a USDT context");
    assert.equal(
      rewriteBcc('SEC("usdt/x") int f(void *ctx) { return 0; }').programs[0]?.autoAttach,
      undefined,
    );
    assert.deepEqual(
      rewriteBcc('SEC("tp/sched/sched_switch") int f(void *ctx) { return 0; }').programs[0]?.autoAttach,
      {
        kind: "tracepoint",
        target: "sched:sched_switch",
      },
    );
    assert.equal(kindOfSection("tsbpf/f"), undefined);
  });

  it("the rewriter marks libbpf-style functions for auto-attach by section", () => {
    const r = rewriteBcc(
      'SEC("kprobe/do_nanosleep") int BPF_KPROBE(on_sleep) { return 0; }\nSEC("xdp") int x(void *c) { return 2; }',
    );
    assert.deepEqual(r.programs.find((p) => p.name === "on_sleep")?.autoAttach, {
      kind: "kprobe",
      target: "do_nanosleep",
    });
    assert.equal(r.programs.find((p) => p.name === "x")?.autoAttach, undefined);
  });

  it("is the README's attach-kind table, one row per kind", () => {
    const table = attachKindsTable();
    assert.equal(table.trim().split("\n").length, ATTACH_KINDS.length + 2);
    assert.match(table, /\| kfunc \| BPF_PROG_TYPE_TRACING \| BPF_TRACE_FENTRY \| `SEC\("fentry\/…"\)`/);
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    assert.ok(
      readme.includes(table),
      "README.md's attach-kind table is out of date: regenerate it with node scripts/readme-tables.mjs --write",
    );
  });
});
