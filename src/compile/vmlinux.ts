/**
 * vmlinux.h from the running kernel's BTF (no kernel headers, ever), and a
 * precompiled header of it: parsing the ~3 MB header costs clang ~0.2 s per
 * compile, loading the PCH ~0.01 s (measured on 6.18 with clang 14).
 */
import { chmodSync, existsSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { kernelBtfId, missingKernelBtf, VMLINUX_BTF } from "../kernel/kernel_info.js";
import { native } from "../native.js";
import { cachedFileExists, cacheSubdir, hashKey, writeAtomic } from "./cache.js";
import { type Clang, runClang } from "./clang.js";

/** Directory holding this kernel's vmlinux.h, generating it on first use. */
export function vmlinuxDir(): string {
  const dir = cacheSubdir("kernels", kernelBtfId());
  const header = join(dir, "vmlinux.h");
  // Checked like every cache file (clang reads it, not us): ours, and nobody else can write it.
  if (!cachedFileExists(header)) {
    if (!existsSync(VMLINUX_BTF)) throw missingKernelBtf();
    writeAtomic(header, native().btfDumpHeader(VMLINUX_BTF));
  }
  return dir;
}

/**
 * A PCH of vmlinux.h built with exactly `flags` (clang refuses a PCH whose
 * predefined macros differ), or undefined if clang could not build one.
 */
export async function vmlinuxPch(clang: Clang, flags: string[]): Promise<string | undefined> {
  const dir = vmlinuxDir();
  const pch = join(dir, `vmlinux.${hashKey(clang.identity, ...flags).slice(0, 16)}.pch`);
  if (cachedFileExists(pch)) return pch;
  // clang writes the temp file itself (in our 0700 directory, so nobody can
  // plant one); 0600 before it becomes the cache file, whatever the umask.
  const tmp = `${pch}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const run = await runClang(clang, [...flags, "-x", "c-header", join(dir, "vmlinux.h"), "-o", tmp]);
    if (run.code !== 0) return undefined;
    chmodSync(tmp, 0o600);
    renameSync(tmp, pch);
    return pch;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {}
  }
}
