// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * What tsbpf knows of a compiled program besides its ELF (the functions'
 * bcc names and auto-attach targets, syscall__ variants, bcc map
 * declarations, ring buffer wake-up slots, the source and its translation),
 * carried inside the object itself so that `tsbpf compile -o prog.bpf.o` makes
 * an object BPF.open treats exactly as BPF.load treats the source. It is a
 * non-allocated ELF section named ".tsbpf" holding JSON; libbpf skips
 * sections it does not know (as it skips .comment), and clang never makes
 * one of that name.
 */
import { BpfError, ElfError } from "../kernel/errors.js";
import type { MapDecl } from "./maps_dialect.js";
import type { ProgramInfo } from "./rewriter.js";

export const META_SECTION = ".tsbpf";
/** Bump when the JSON's meaning changes; older objects are then read from their ELF alone. */
const META_VERSION = 1;

export interface ObjectMeta {
  /** The source's file name (for messages). */
  fileName: string;
  programs: ProgramInfo[];
  maps: MapDecl[];
  ringbufs: string[];
  source: string;
  translated: string;
}

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SHT_PROGBITS = 1;

interface Header {
  view: DataView;
  shoff: number;
  shnum: number;
  shstrndx: number;
}

/** The ELF64 little-endian header fields this module needs; an ElfError for anything else. */
function header(elf: Uint8Array, what: string): Header {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const ok =
    elf.byteLength >= EHDR_SIZE &&
    elf[0] === 0x7f &&
    elf[1] === 0x45 &&
    elf[2] === 0x4c &&
    elf[3] === 0x46 &&
    elf[4] === 2 &&
    elf[5] === 1;
  if (!ok) throw new ElfError(what, "not a 64-bit little-endian ELF file");
  const shoff = Number(view.getBigUint64(0x28, true));
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  if (
    view.getUint16(0x3a, true) !== SHDR_SIZE ||
    shoff + shnum * SHDR_SIZE > elf.byteLength ||
    shstrndx >= shnum
  )
    throw new ElfError(what, "its section header table is truncated or malformed");
  return { view, shoff, shnum, shstrndx };
}

interface Section {
  name: string;
  offset: number;
  size: number;
}

function sections(elf: Uint8Array, h: Header, what: string): Section[] {
  const sh = (i: number, field: number, wide: boolean) =>
    wide
      ? Number(h.view.getBigUint64(h.shoff + i * SHDR_SIZE + field, true))
      : h.view.getUint32(h.shoff + i * SHDR_SIZE + field, true);
  const strOff = sh(h.shstrndx, 0x18, true);
  const strSize = sh(h.shstrndx, 0x20, true);
  if (strOff + strSize > elf.byteLength) throw new ElfError(what, "its section names are truncated");
  const out: Section[] = [];
  for (let i = 0; i < h.shnum; i++) {
    const nameOff = sh(i, 0, false);
    const end = elf.indexOf(0, strOff + nameOff);
    const name = new TextDecoder().decode(elf.subarray(strOff + nameOff, end < 0 ? strOff + strSize : end));
    out.push({ name, offset: sh(i, 0x18, true), size: sh(i, 0x20, true) });
  }
  return out;
}

/**
 * A copy of `elf` with `meta` in a ".tsbpf" section: the section's data, a
 * grown copy of the section-name table and a grown section header table are
 * appended, and the ELF header points at them (the old ones stay, unused).
 */
export function embedMeta(elf: Uint8Array, meta: ObjectMeta): Uint8Array {
  const h = header(elf, "the object");
  if (sections(elf, h, "the object").some((s) => s.name === META_SECTION))
    throw new BpfError(`the object already has a ${META_SECTION} section`);
  const enc = new TextEncoder();
  const data = enc.encode(JSON.stringify({ version: META_VERSION, ...meta }));
  const strShdr = h.shoff + h.shstrndx * SHDR_SIZE;
  const oldStrOff = Number(h.view.getBigUint64(strShdr + 0x18, true));
  const oldStrSize = Number(h.view.getBigUint64(strShdr + 0x20, true));
  const names = new Uint8Array(oldStrSize + META_SECTION.length + 1);
  names.set(elf.subarray(oldStrOff, oldStrOff + oldStrSize));
  names.set(enc.encode(META_SECTION), oldStrSize);

  const align8 = (n: number) => (n + 7) & ~7;
  const dataOff = align8(elf.byteLength);
  const namesOff = dataOff + data.byteLength;
  const shoff = align8(namesOff + names.byteLength);
  const out = new Uint8Array(shoff + (h.shnum + 1) * SHDR_SIZE);
  const v = new DataView(out.buffer);
  out.set(elf);
  out.set(data, dataOff);
  out.set(names, namesOff);
  out.set(elf.subarray(h.shoff, h.shoff + h.shnum * SHDR_SIZE), shoff);
  // The section-name table's header now describes the grown copy.
  v.setBigUint64(shoff + h.shstrndx * SHDR_SIZE + 0x18, BigInt(namesOff), true);
  v.setBigUint64(shoff + h.shstrndx * SHDR_SIZE + 0x20, BigInt(names.byteLength), true);
  const s = shoff + h.shnum * SHDR_SIZE;
  v.setUint32(s, oldStrSize, true); // sh_name
  v.setUint32(s + 4, SHT_PROGBITS, true); // sh_type; sh_flags 0: not loaded
  v.setBigUint64(s + 0x18, BigInt(dataOff), true); // sh_offset
  v.setBigUint64(s + 0x20, BigInt(data.byteLength), true); // sh_size
  v.setBigUint64(s + 0x30, 1n, true); // sh_addralign
  v.setBigUint64(0x28, BigInt(shoff), true); // e_shoff
  v.setUint16(0x3c, h.shnum + 1, true); // e_shnum
  return out;
}

/** The metadata `tsbpf compile` put into an object, or undefined for an object from elsewhere. */
export function readMeta(elf: Uint8Array, what: string): ObjectMeta | undefined {
  const h = header(elf, what);
  const s = sections(elf, h, what).find((x) => x.name === META_SECTION);
  if (!s) return undefined;
  if (s.offset + s.size > elf.byteLength)
    throw new ElfError(what, `its ${META_SECTION} section is truncated`);
  let parsed: (ObjectMeta & { version?: number }) | undefined;
  try {
    parsed = JSON.parse(new TextDecoder().decode(elf.subarray(s.offset, s.offset + s.size)));
  } catch (err) {
    throw new ElfError(what, `its ${META_SECTION} section is not tsbpf's metadata`, { cause: err });
  }
  if (parsed?.version !== META_VERSION || !Array.isArray(parsed.programs)) return undefined;
  const { version: _, ...meta } = parsed;
  return meta;
}

/** e_machine of BPF objects (EM_BPF). */
const EM_BPF = 247;
/** e_type of relocatable objects (ET_REL), which is what clang -target bpf -c makes. */
const ET_REL = 1;

/** Why `elf` is not a BPF object libbpf can open (undefined when it is one). */
export function notBpfObject(elf: Uint8Array, what: string): string | undefined {
  const h = header(elf, what);
  const type = h.view.getUint16(0x10, true);
  const machine = h.view.getUint16(0x12, true);
  if (machine !== EM_BPF) return `its ELF machine is ${machine}, not BPF (${EM_BPF})`;
  if (type !== ET_REL) return `it is an ELF of type ${type}, not a relocatable object (${ET_REL})`;
  return undefined;
}
