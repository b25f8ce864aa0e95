/**
 * Conditionals on UAPI names in a cold compile (an empty cache): the UAPI
 * macros are loaded for them and they resolve as with the full scan; then
 * a program using them in #if and in code compiles. With the system's
 * clang, UAPI headers and the kernel's BTF; nothing is loaded into the kernel.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Btf, type BtfArray, type BtfComposite } from "../../src/btf/btf.js";
import { findClang } from "../../src/compile/clang.js";
import { baseFlags, compileBcc, HEADERS_DIR } from "../../src/compile/compile.js";
import { sectionBytes } from "../../src/compile/disasm.js";
import { programConditionals } from "../../src/compile/kernel_macros.js";
import { uapiMacros, uapiMacrosLoaded } from "../../src/compile/uapi_macros.js";

const skip: string | false = !existsSync("/sys/kernel/btf/vmlinux")
  ? "needs the kernel's BTF (/sys/kernel/btf/vmlinux)"
  : !existsSync("/usr/include/linux/limits.h")
    ? "needs the UAPI headers (linux-libc-dev)"
    : (() => {
        try {
          findClang();
          return false;
        } catch {
          return "needs clang";
        }
      })();

// Each test file runs in a process of its own: this one's cache starts empty.
const cache = mkdtempSync(join(tmpdir(), "tsbpf-lazy-cond-"));
process.env.TSBPF_CACHE_DIR = cache;
after(() => rmSync(cache, { recursive: true, force: true }));

/** The length of data_t.name in the object's BTF (NAME_MAX as the program got it). */
function nameLength(elf: Uint8Array): number {
  const btf = Btf.parse(sectionBytes(elf, ".BTF"));
  const t = btf.type(btf.findByName("data_t", "STRUCT") as number) as BtfComposite;
  const m = t.members.find((x) => x.name === "name");
  return (btf.type(btf.resolve(m?.type ?? 0)) as BtfArray).nelems;
}

const macroFiles = (): string[] =>
  existsSync(join(cache, "macros")) ? readdirSync(join(cache, "macros")) : [];

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
