/**
 * A cold compile (an empty cache) makes only what the program uses: one
 * naming no UAPI macro and opening no conditional runs neither the UAPI
 * headers' preprocessor scan nor clang's -dM of its predefined macros; one
 * naming UAPI macros, in code and in #if/#ifdef, gets the values the full
 * scan gives. With the system's clang, UAPI headers and the kernel's BTF;
 * nothing is loaded into the kernel.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findClang } from "../../src/compile/clang.js";
import { baseFlags, compileBcc } from "../../src/compile/compile.js";
import { clangPredefined, mayBePredefined } from "../../src/compile/kernel_macros.js";
import { uapiMacros, uapiMacrosLoaded } from "../../src/compile/uapi_macros.js";
import { coldCompileSkip, emptyCache, nameLength } from "./cold_compile_fixture.js";

const skip = coldCompileSkip;
const { macroFiles } = emptyCache("tsbpf-lazy-compile-");

describe("a cold compile makes only what the program uses", { skip }, () => {
  it("no UAPI macro and no conditional: no UAPI scan, no clang -dM", async () => {
    const r = await compileBcc({
      fileName: "plain.c",
      text: `
#include <linux/sched.h>
struct data_t { u32 pid; char comm[TASK_COMM_LEN]; };
int syscall__execve(struct pt_regs *ctx) {
    struct data_t data = {};
    data.pid = bpf_get_current_pid_tgid();
    bpf_get_current_comm(&data.comm, sizeof(data.comm));
    bpf_trace_printk("pid %u comm %s\\n", data.pid, data.comm);
    return 0;
}`,
    });
    assert.equal(r.cached, false);
    assert.ok(r.elf.length > 0);
    assert.equal(uapiMacrosLoaded(), false);
    assert.deepEqual(
      macroFiles().filter((f) => /^(uapi-[0-9a-f]+\.tsv|clang-)/.test(f)),
      [],
      "neither the UAPI macros nor clang's predefined macros were made",
    );
  });

  it("a UAPI macro in code only: compiled again with the UAPI macros, the full scan's values", async () => {
    const r = await compileBcc({
      fileName: "isreg.c",
      text: `
#include <linux/fs.h>
struct data_t { char name[NAME_MAX]; int reg; };
BPF_ARRAY(out, struct data_t, 1);
int kprobe__vfs_open(struct pt_regs *ctx, const struct path *path, struct file *file) {
    struct data_t d = {};
    d.reg = S_ISREG(file->f_inode->i_mode);
    int zero = 0;
    out.update(&zero, &d);
    return 0;
}`,
    });
    assert.ok(r.elf.length > 0);
    assert.equal(uapiMacrosLoaded(), true);
    assert.ok(macroFiles().some((f) => /^uapi-[0-9a-f]+\.tsv$/.test(f)));
    const full = await uapiMacros(findClang());
    assert.equal(full.get("NAME_MAX")?.body, "255");
    assert.equal(nameLength(r.elf), 255, "the program's NAME_MAX");
    assert.match(full.get("S_ISREG")?.body ?? "", /S_IFMT/);
  });

  it("every macro clang predefines for tsbpf's flags starts with _ (so mayBePredefined can tell without clang)", async () => {
    const predefined = await clangPredefined(findClang(), baseFlags());
    assert.ok(predefined.size > 100);
    for (const name of predefined.keys()) assert.ok(mayBePredefined(name), name);
  });
});
