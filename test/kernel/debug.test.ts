/**
 * Seeing what tsbpf made of a program: debug flags, dumpFunc,
 * disassembleFunc, `tsbpf compile --emit`, and kernel type questions.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BPF, DEBUG_BPF, DEBUG_BPF_REGISTER_STATE } from "../../src/index.js";
import { repoRoot, skipUnlessRoot, testTempDir } from "../helpers.js";

const PROG = "int f(void *ctx)\n{\n    return bpf_get_smp_processor_id() > 1000;\n}\n";

function runScript(body: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { BPF, DEBUG_BPF, DEBUG_BPF_REGISTER_STATE } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};\n${body}`,
    ],
    { encoding: "utf8" },
  );
}

describe("debugging a program", { skip: skipUnlessRoot }, () => {
  it("dumpFunc gives the instructions, disassembleFunc their text with source lines", async () => {
    await using b = await BPF.load({ text: PROG });
    const insns = b.dumpFunc("f");
    assert.ok(insns.byteLength > 0 && insns.byteLength % 8 === 0);
    // The last instruction is exit (opcode 0x95).
    assert.equal(insns[insns.byteLength - 8], 0x95);
    const asm = b.disassembleFunc("f");
    assert.match(asm, /<f>:/);
    assert.match(asm, /call 8/, "bpf_get_smp_processor_id is helper 8");
    assert.match(asm, /exit/);
    assert.match(asm, /gt?\.c:3|\.c:3/);
    assert.throws(() => b.dumpFunc("nope"), /no function nope/);
  });

  it("DEBUG_BPF prints each function's instructions at load; DEBUG_BPF_REGISTER_STATE its verifier log", () => {
    const r = runScript(
      `const b = await BPF.load({ text: ${JSON.stringify(PROG)}, debug: DEBUG_BPF | DEBUG_BPF_REGISTER_STATE });
       b.loadFunc("f", BPF.TRACEPOINT); b.close();`,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /; f: f\n/);
    assert.match(r.stderr, /call 8/);
    assert.match(r.stderr, /; verifier log of f\n/);
    assert.match(r.stderr, /processed \d+ insns/);
    assert.match(r.stderr, /R0_?w?=/, "log level 2 prints register state");
    assert.equal(DEBUG_BPF, 2);
    assert.equal(DEBUG_BPF_REGISTER_STATE, 16);
  });

  it("DEBUG_BPF alone: the verifier log at level 1 for every load", () => {
    const branchy =
      "int f(void *ctx)\n{\n    if (bpf_get_smp_processor_id() > 1000)\n        return 1;\n    return 0;\n}\n";
    const r = runScript(
      `const b = await BPF.load({ text: ${JSON.stringify(branchy)}, debug: DEBUG_BPF });
       b.loadFunc("f", BPF.TRACEPOINT); b.close();`,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /; verifier log of f\n/);
    assert.match(r.stderr, /processed \d+ insns/);
  });

  it("BCC_LINUX_VERSION_CODE is the program's LINUX_VERSION_CODE (and the version its kprobes load with)", () => {
    const r = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { BPF } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};
         import { spawnSync } from "node:child_process";
         const b = await BPF.load({ text: "BPF_ARRAY(v, u32, 1);\\nTRACEPOINT_PROBE(sched, sched_process_exec) { u32 z = 0; u32 x = LINUX_VERSION_CODE; v.update(&z, &x); return 0; }\\nint k(struct pt_regs *ctx) { return 0; }" });
         spawnSync("/bin/true");
         b.loadFunc("k", BPF.KPROBE);
         console.log(b.getTable("v").get(0));
         b.close();`,
      ],
      { encoding: "utf8", env: { ...process.env, BCC_LINUX_VERSION_CODE: String((4 << 16) + (4 << 8)) } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), String((4 << 16) + (4 << 8)));
  });

  it("DEBUG_LLVM_IR, DEBUG_PREPROCESSOR, DEBUG_SOURCE and DEBUG_BTF print what bcc's do", () => {
    const text = "#define ANSWER 42\nint f(void *ctx)\n{\n    return ANSWER;\n}\n";
    const run = (flags: string) =>
      runScript(
        `import { DEBUG_LLVM_IR, DEBUG_PREPROCESSOR, DEBUG_SOURCE, DEBUG_BTF } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};
         const b = await BPF.load({ text: ${JSON.stringify(text)}, debug: ${flags} });
         b.loadFunc("f", BPF.TRACEPOINT); b.close();`,
      );
    const ir = run("DEBUG_LLVM_IR");
    assert.equal(ir.status, 0, ir.stderr);
    assert.match(ir.stderr, /define dso_local (noundef )?i32 @f\(/, "the LLVM IR of f");
    assert.match(ir.stderr, /ret i32 42/);
    const pre = run("DEBUG_PREPROCESSOR");
    assert.equal(pre.status, 0, pre.stderr);
    assert.match(pre.stderr, /; clang \(in .*\): \S*clang\S* .*-target bpf/, "the clang command");
    assert.match(pre.stderr, /return 42;/, "the preprocessed text: ANSWER expanded");
    const src = run("DEBUG_SOURCE");
    assert.equal(src.status, 0, src.stderr);
    assert.match(src.stderr, /<f>:/, "the object's instructions");
    assert.match(src.stderr, /return ANSWER;/, "with the source line they come from");
    const btf = run("DEBUG_BTF");
    assert.equal(btf.status, 0, btf.stderr);
    assert.match(btf.stderr, /; libbpf, opening \w+:\n/);
    assert.match(btf.stderr, /libbpf: .*(BTF|btf)/i);
  });

  it("tsbpf compile --emit c|obj|asm shows the translated C, the object and its disassembly", () => {
    const dir = testTempDir("tsbpf-compile");
    const src = join(dir, "prog.c");
    writeFileSync(
      src,
      "BPF_HASH(counts, u32, u64);\nint f(void *ctx) { u32 k = 0; counts.increment(k); return 0; }\n",
    );
    const cli = join(repoRoot, "dist/bundle/tsbpf.cjs");
    const c = spawnSync(process.execPath, [cli, "compile", src, "--emit", "c"], { encoding: "utf8" });
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /struct \{ __uint\(type, 1\);.*\} counts SEC\("\.maps"\);/);
    assert.match(c.stdout, /bpf_map_lookup_elem\(\(void \*\)&counts/);
    const o = spawnSync(process.execPath, [cli, "compile", src, "--emit", "obj", "-o", join(dir, "prog.o")], {
      encoding: "utf8",
    });
    assert.equal(o.status, 0, o.stderr);
    assert.deepEqual([...readFileSync(join(dir, "prog.o")).subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    const a = spawnSync(process.execPath, [cli, "compile", src, "--emit", "asm"], { encoding: "utf8" });
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, /Disassembly of section tsbpf\/f:/);
    const bad = spawnSync(process.execPath, [cli, "compile", src, "--emit", "wat"], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--emit takes c, obj or asm/);
  });

  it("answers questions about the kernel's types from its BTF", () => {
    assert.equal(
      BPF.kernelStructHasField("task_struct", "__state"),
      true,
      "6.18 has task_struct.__state (5.14+)",
    );
    assert.equal(BPF.kernelStructHasField("task_struct", "state"), false);
    assert.equal(BPF.kernelStructHasField("no_such_struct_tsbpf", "x"), false);
    assert.equal(BPF.kernelEnumHasVal("bpf_map_type", "BPF_MAP_TYPE_RINGBUF"), true);
    assert.equal(BPF.kernelEnumHasVal("bpf_map_type", "BPF_MAP_TYPE_NOPE"), false);
  });
});
