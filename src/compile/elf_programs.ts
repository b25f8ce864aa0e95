// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * The programs an object's ELF holds that a source scan cannot see: a
 * function a macro defines (`#define PROBE(f) SEC("kprobe/" #f) int f##_probe(…)`,
 * common in programs written for libbpf and bcc alike) is a program all the
 * same. libbpf's rule: every global function in an executable section other
 * than .text.
 */
import { attachKind, kindOfBccName, kindOfSection } from "../attach/kinds.js";
import { readElf, readElfSymbols } from "../elf/elf.js";
import type { ProgramInfo } from "./rewriter.js";

const SHF_EXECINSTR = 0x4n;

/** A function of an object: attached at open when its section (libbpf) or name (bcc) says where. */
export function programOf(name: string, section: string): ProgramInfo {
  const fromSection = kindOfSection(section);
  const autoAttach =
    fromSection && attachKind(fromSection.kind).sectionAttaches ? fromSection : kindOfBccName(name);
  return { name, line: 0, declaredArgs: [], autoAttach, variants: {}, section };
}

/** Each program of a BPF ELF object, by name, with its section. */
export function elfPrograms(elf: Uint8Array): Array<{ name: string; section: string }> {
  const buf = Buffer.from(elf.buffer, elf.byteOffset, elf.byteLength);
  const file = readElf(buf);
  const out: Array<{ name: string; section: string }> = [];
  for (const s of readElfSymbols(buf, file)) {
    if (s.type !== "FUNC" || (s.binding !== "GLOBAL" && s.binding !== "WEAK")) continue;
    const sec = file.sections[s.shndx];
    if (!sec || (sec.flags & SHF_EXECINSTR) === 0n || sec.name === ".text") continue;
    out.push({ name: s.name, section: sec.name });
  }
  return out;
}

/**
 * `programs` plus the ELF's programs it does not list (as their own name or
 * another's variant): `elf` is the object, or its programs as
 * {@link elfPrograms} or libbpf (NativeObject.programs) lists them, which
 * a caller that has the object open already has.
 */
export function withElfPrograms(
  programs: ProgramInfo[],
  elf: Uint8Array | ReadonlyArray<{ name: string; section: string }>,
): ProgramInfo[] {
  const known = new Set<string>();
  for (const p of programs) {
    known.add(p.name);
    for (const v of Object.values(p.variants)) if (v) known.add(v);
  }
  const extra = (elf instanceof Uint8Array ? elfPrograms(elf) : elf)
    .filter((p) => !known.has(p.name))
    .map((p) => programOf(p.name, p.section));
  return extra.length ? [...programs, ...extra] : programs;
}
