/**
 * Conditionals on UAPI names in a cold compile (an empty cache): the UAPI
 * macros are loaded for them and they resolve as with the full scan; then
 * a program using them in #if and in code compiles. With the system's
 * clang, UAPI headers and the kernel's BTF; nothing is loaded into the kernel.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findClang } from "../../src/compile/clang.js";
import { baseFlags, compileBcc, HEADERS_DIR } from "../../src/compile/compile.js";
import { programConditionals } from "../../src/compile/kernel_macros.js";
import { uapiMacros, uapiMacrosLoaded } from "../../src/compile/uapi_macros.js";
import { coldCompileSkip, emptyCache, nameLength } from "./cold_compile_fixture.js";

const skip = coldCompileSkip;
const { macroFiles } = emptyCache("tsbpf-lazy-cond-");

describe("conditionals on UAPI names in a cold compile", { skip }, () => {
  it("#ifdef O_NONBLOCK and #if NAME_MAX > 100 resolve (the UAPI macros loaded for them)", async () => {
    const clang = findClang();
    const text = [
      "#ifdef O_NONBLOCK",
      "int nonblock;",
      "#endif",
      "#if NAME_MAX > 100",
      "int long_names;",
      "#else",
      "int short_names;",
      "#endif",
      "#ifndef S_ISREG",
      "int no_isreg;",
      "#endif",
    ].join("\n");
    const out = await programConditionals(clang, HEADERS_DIR, baseFlags(), [], "", new Set(), text);
    assert.deepEqual(out.split("\n").filter(Boolean), ["int nonblock;", "int long_names;"]);
    assert.equal(uapiMacrosLoaded(), true);
  });

  it("NAME_MAX and S_ISREG in code: the full scan's definitions", async () => {
    const r = await compileBcc({
      fileName: "uapi.c",
      text: `
#include <linux/fs.h>
struct data_t { char name[NAME_MAX]; int reg; };
BPF_ARRAY(out, struct data_t, 1);
int kprobe__vfs_open(struct pt_regs *ctx, const struct path *path, struct file *file) {
    struct data_t d = {};
    d.reg = S_ISREG(file->f_inode->i_mode);
#if NAME_MAX > 100
    bpf_probe_read_kernel_str(&d.name, sizeof(d.name), path->dentry->d_name.name);
#endif
    int zero = 0;
    out.update(&zero, &d);
    return 0;
}`,
    });
    assert.ok(r.elf.length > 0);
    assert.match(r.translated, /bpf_probe_read_kernel_str/, "the #if branch was kept");
    const full = await uapiMacros(findClang());
    assert.equal(full.get("NAME_MAX")?.body, "255");
    assert.equal(nameLength(r.elf), 255, "the program's NAME_MAX");
    assert.match(full.get("S_ISREG")?.body ?? "", /S_IFMT/);
    assert.ok(macroFiles().some((f) => /^uapi-[0-9a-f]+\.tsv$/.test(f)));
  });
});
