/**
 * What the cold-compile tests (lazy_compile, lazy_conditionals) share: why
 * they skip, a cache of their own that starts empty, and NAME_MAX as a
 * compiled object's BTF has it.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { Btf, type BtfArray, type BtfComposite } from "../../src/btf/btf.js";
import { findClang } from "../../src/compile/clang.js";
import { sectionBytes } from "../../src/compile/disasm.js";

/** Why a cold compile cannot be tested here, or false. */
export const coldCompileSkip: string | false = !existsSync("/sys/kernel/btf/vmlinux")
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

/**
 * An empty cache directory as TSBPF_CACHE_DIR, removed after the file's
 * tests (each test file runs in a process of its own), and the names of the
 * macro tables written to it so far.
 */
export function emptyCache(prefix: string): { cache: string; macroFiles: () => string[] } {
  const cache = mkdtempSync(join(tmpdir(), prefix));
  process.env.TSBPF_CACHE_DIR = cache;
  after(() => rmSync(cache, { recursive: true, force: true }));
  const macroFiles = (): string[] =>
    existsSync(join(cache, "macros")) ? readdirSync(join(cache, "macros")) : [];
  return { cache, macroFiles };
}

/** The length of data_t.name in the object's BTF (NAME_MAX as the program got it). */
export function nameLength(elf: Uint8Array): number {
  const btf = Btf.parse(sectionBytes(elf, ".BTF"));
  const t = btf.type(btf.findByName("data_t", "STRUCT") as number) as BtfComposite;
  const m = t.members.find((x) => x.name === "name");
  return (btf.type(btf.resolve(m?.type ?? 0)) as BtfArray).nelems;
}
