// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Looking inside a compiled object: a program's instructions (bcc's
 * dump_func) and their disassembly (bcc's disassemble_func), with LLVM's
 * llvm-objdump (Debian package llvm, installed with clang by the bootstrap).
 */
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtinModule } from "../builtin.js";
import { readElf } from "../elf/elf.js";
import { BpfError, NotSupportedError } from "../kernel/errors.js";

/** The bytes of an ELF section (a program's instructions before libbpf relocates them). */
export function sectionBytes(elf: Uint8Array, section: string): Uint8Array {
  const buf = Buffer.from(elf.buffer, elf.byteOffset, elf.byteLength);
  const s = readElf(buf).sections.find((x) => x.name === section);
  if (!s) throw new BpfError(`the object has no section ${section}`);
  return new Uint8Array(buf.subarray(s.offset, s.offset + s.size));
}

let objdump: string | undefined;

function findObjdump(): string {
  if (objdump) return objdump;
  for (const c of [
    "/usr/bin/llvm-objdump",
    ...Array.from({ length: 10 }, (_, i) => `/usr/bin/llvm-objdump-${20 - i}`),
  ]) {
    try {
      accessSync(c, constants.X_OK);
      objdump = c;
      return c;
    } catch {
      // next
    }
  }
  throw new NotSupportedError(
    "BPF disassembly",
    "llvm-objdump is not installed",
    'install it: "apt-get install llvm"',
  );
}

/**
 * llvm-objdump's disassembly of the object (one section, or every section
 * with code), with source line numbers from the object's line info.
 */
export function disassemble(elf: Uint8Array, section?: string): string {
  // A private directory (mkdtemp: 0700) and a file only we can have made there.
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-objdump-"));
  try {
    const path = join(dir, "prog.o");
    writeFileSync(path, elf, { flag: "wx", mode: 0o600 });
    const args = ["-d", "-l", "--no-show-raw-insn", ...(section ? [`--section=${section}`] : []), path];
    const { execFileSync } = builtinModule<typeof import("node:child_process")>("node:child_process");
    const out = execFileSync(findObjdump(), args, { encoding: "utf8" });
    // Drop the file header line that names the temporary file.
    return out
      .split("\n")
      .filter((l) => !l.includes(path))
      .join("\n")
      .replace(/^\n+/, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
