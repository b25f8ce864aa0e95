/**
 * A small ELF64 little-endian reader, enough for symbol resolution, uprobes
 * and USDT: section and program headers, .symtab/.dynsym, build-id,
 * .gnu_debuglink and .note.stapsdt.
 *
 * Files are not read whole: the headers, the note sections and (on demand) the
 * symbol tables are read at their offsets with positional reads, so a 100 MB
 * binary costs what its symbol table costs. An in-memory image (a Buffer, such
 * as the vDSO read from /proc/PID/mem) is read the same way.
 *
 * The cached readers ({@link elfSymbols}, {@link elfFunctionIndex}) give a
 * stripped binary the symbols of its separate debug file (debuginfo.ts).
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { ElfError } from "../kernel/errors.js";
import { Lru } from "../lru.js";
import {
  debuglinkCrc,
  debugSearchKey,
  isDebugSymbol,
  loadDebugSymbols,
  symfsPath,
  verifiedCandidates,
} from "./debuginfo.js";

/** e_type, by name: EXEC is a fixed-address executable, DYN a shared object or a PIE. */
export type ElfType = "NONE" | "REL" | "EXEC" | "DYN" | "CORE" | "UNKNOWN";
/** STT_* symbol types by name ("IFUNC" is STT_GNU_IFUNC; "OTHER" any processor/OS-specific type). */
export type ElfSymbolType =
  | "NOTYPE"
  | "OBJECT"
  | "FUNC"
  | "SECTION"
  | "FILE"
  | "COMMON"
  | "TLS"
  | "IFUNC"
  | "OTHER";
/** STB_* symbol bindings by name ("UNIQUE" is STB_GNU_UNIQUE). */
export type ElfSymbolBinding = "LOCAL" | "GLOBAL" | "WEAK" | "UNIQUE" | "OTHER";

/** p_type of a loadable segment. */
export const PT_LOAD = 1;
/** p_type of a note segment. */
export const PT_NOTE = 4;
/** p_type of the interpreter path segment. */
export const PT_INTERP = 3;
/** p_flags bit: executable. */
export const PF_X = 1;
/** p_flags bit: writable. */
export const PF_W = 2;
/** p_flags bit: readable. */
export const PF_R = 4;
/** sh_type of .symtab. */
export const SHT_SYMTAB = 2;
/** sh_type of a note section. */
export const SHT_NOTE = 7;
/** sh_type of a section with no file contents (.bss). */
export const SHT_NOBITS = 8;
/** sh_type of .dynsym. */
export const SHT_DYNSYM = 11;
/** st_shndx of an undefined symbol. */
export const SHN_UNDEF = 0;

/** One section header. File offsets and sizes are numbers; addresses bigints. */
export interface ElfSection {
  /** Index in the section header table. */
  index: number;
  /** Name, from .shstrtab (".text"). */
  name: string;
  /** sh_type (SHT_*). */
  type: number;
  /** sh_flags (SHF_*). */
  flags: bigint;
  /** Virtual address when loaded (0 for non-allocated sections). */
  addr: bigint;
  /** File offset of the contents. */
  offset: number;
  /** Size in bytes (no file contents for SHT_NOBITS). */
  size: number;
  /** sh_link (for symbol tables: the string table's index). */
  link: number;
  /** sh_info. */
  info: number;
  /** sh_addralign. */
  addralign: number;
  /** sh_entsize. */
  entsize: number;
}

/** One program header. */
export interface ElfSegment {
  /** p_type (PT_LOAD, PT_NOTE...). */
  type: number;
  /** p_flags (PF_R | PF_W | PF_X). */
  flags: number;
  /** File offset of the segment's first byte. */
  offset: bigint;
  /** Virtual address of the segment's first byte. */
  vaddr: bigint;
  /** Physical address (unused on Linux). */
  paddr: bigint;
  /** Bytes in the file. */
  filesz: bigint;
  /** Bytes in memory (more than filesz for .bss). */
  memsz: bigint;
  /** Alignment. */
  align: bigint;
}

/** One entry of .symtab or .dynsym. */
export interface ElfSymbol {
  /** Name (without any "@VERSION": versions live in .gnu.version). */
  name: string;
  /** st_value: for functions the address (link-time vaddr). */
  value: bigint;
  /** st_size in bytes (0 when unknown). */
  size: bigint;
  /** Symbol type. */
  type: ElfSymbolType;
  /** Binding. */
  binding: ElfSymbolBinding;
  /** Visibility (STV_*: 0 default, 1 internal, 2 hidden, 3 protected). */
  visibility: number;
  /** Section index (SHN_UNDEF, 0, for an undefined symbol). */
  shndx: number;
  /** Which table it came from. */
  table: "symtab" | "dynsym";
}

/** One USDT probe from .note.stapsdt (SystemTap SDT v3 notes). */
export interface UsdtNote {
  /** Provider ("myprov" in DTRACE_PROBE2(myprov, myprobe, ...)). */
  provider: string;
  /** Probe name. */
  name: string;
  /** The probe's address as recorded in the note (link time). */
  pc: bigint;
  /** The .stapsdt.base address recorded in the note (0 when none). */
  base: bigint;
  /** The semaphore's address as recorded (0: the probe has no semaphore). */
  semaphore: bigint;
  /** The argument spec, e.g. "-4@%esi 8@-16(%rbp)" ("" for no arguments). */
  args: string;
  /**
   * The probe's address, adjusted for prelink as libbpf does: when the file
   * has a .stapsdt.base section and the note records a base,
   * pc + (section address - recorded base).
   */
  address: bigint;
  /** The semaphore's address with the same adjustment (0 when none). */
  semaphoreAddress: bigint;
  /** The probe's file offset (what a uprobe attaches to), when a PT_LOAD segment covers it. */
  fileOffset: bigint | undefined;
  /** The semaphore's file offset (for the uprobe ref_ctr_offset), when there is one. */
  semaphoreOffset: bigint | undefined;
}

/** The headers and small metadata of an ELF file (see {@link readElf}). */
export interface ElfFile {
  /** The path it was read from ("<memory>" for a buffer unless named). */
  path: string;
  /** e_type. */
  type: ElfType;
  /** e_machine (62 x86-64, 183 AArch64). */
  machine: number;
  /** Entry point. */
  entry: bigint;
  /** Section headers (empty when stripped of them). */
  sections: ElfSection[];
  /** Program headers. */
  segments: ElfSegment[];
  /** The GNU build-id as lowercase hex, when there is one. */
  buildId: string | undefined;
  /** The .gnu_debuglink file name and CRC32, when there is one. */
  debuglink: { file: string; crc: number } | undefined;
  /** The program interpreter (PT_INTERP), e.g. "/lib64/ld-linux-x86-64.so.2". */
  interpreter: string | undefined;
  /** USDT probes from .note.stapsdt (empty when none). */
  usdt: UsdtNote[];
}

// --- reading ---------------------------------------------------------------

interface Source {
  name: string;
  read(pos: number, len: number): Buffer;
  /** len bytes at pos, read into `scratch` (len at most its size) or viewed in place: valid until the next call. */
  readChunk(scratch: Buffer, pos: number, len: number): Buffer;
}

function fdSource(fd: number, name: string): Source {
  // Offsets and sizes come from the file: checked against its size before allocating
  // (a file whose size stat does not tell, as in /proc, is read until it ends).
  const st = fstatSync(fd);
  const size = st.isFile() && st.size > 0 ? st.size : Number.MAX_SAFE_INTEGER;
  const check = (pos: number, len: number): void => {
    if (pos < 0 || len < 0 || pos + len > size || len > 0x7fffffff)
      throw new ElfError(
        name,
        `truncated: wanted ${len} bytes at offset ${pos} of ${st.isFile() ? size : "the file"}`,
      );
  };
  const readTo = (buf: Buffer, pos: number, len: number): Buffer => {
    check(pos, len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    if (got < len) throw new ElfError(name, `truncated: wanted ${len} bytes at offset ${pos}, got ${got}`);
    return buf.subarray(0, len);
  };
  return {
    name,
    read: (pos, len) => {
      check(pos, len);
      return readTo(Buffer.allocUnsafe(len), pos, len);
    },
    readChunk: readTo,
  };
}

function bufferSource(buf: Buffer, name: string): Source {
  const read = (pos: number, len: number): Buffer => {
    if (pos < 0 || pos + len > buf.length)
      throw new ElfError(name, `truncated: wanted ${len} bytes at offset ${pos} of ${buf.length}`);
    return buf.subarray(pos, pos + len);
  };
  return { name, read, readChunk: (_scratch, pos, len) => read(pos, len) };
}

const ELF_TYPES: ElfType[] = ["NONE", "REL", "EXEC", "DYN", "CORE"];
const SYM_TYPES: ElfSymbolType[] = ["NOTYPE", "OBJECT", "FUNC", "SECTION", "FILE", "COMMON", "TLS"];
const SYM_BINDINGS: ElfSymbolBinding[] = ["LOCAL", "GLOBAL", "WEAK"];

function cstr(buf: Buffer, start: number, end = buf.length): string {
  if (start >= end) return "";
  let e = buf.indexOf(0, start);
  if (e === -1 || e > end) e = end;
  return buf.toString("utf8", start, e);
}

function toNum(v: bigint, src: Source, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(src.name, `${what} is out of range (${v})`);
  return Number(v);
}

interface Note {
  owner: string;
  type: number;
  desc: Buffer;
}

function parseNotes(data: Buffer, align: number): Note[] {
  const out: Note[] = [];
  const a = align === 8 ? 8 : 4;
  // Arithmetic, not `& ~(a - 1)`: sizes near 2^32 must not wrap to negative offsets.
  const up = (n: number) => Math.ceil(n / a) * a;
  let p = 0;
  while (p + 12 <= data.length) {
    const namesz = data.readUInt32LE(p);
    const descsz = data.readUInt32LE(p + 4);
    const type = data.readUInt32LE(p + 8);
    const nameOff = p + 12;
    const descOff = nameOff + up(namesz);
    if (descOff > data.length || descOff + descsz > data.length) break;
    const owner = namesz > 0 ? cstr(data, nameOff, nameOff + namesz) : "";
    out.push({ owner, type, desc: data.subarray(descOff, descOff + descsz) });
    p = descOff + up(descsz);
  }
  return out;
}

function parse(src: Source): ElfFile {
  const eh = src.read(0, 64);
  if (eh.readUInt32BE(0) !== 0x7f454c46) throw new ElfError(src.name, "not an ELF file (bad magic)");
  if (eh[4] !== 2) throw new ElfError(src.name, "is a 32-bit ELF file; only ELF64 is supported");
  if (eh[5] !== 1) throw new ElfError(src.name, "is a big-endian ELF file; only little-endian is supported");
  const etype = eh.readUInt16LE(16);
  const machine = eh.readUInt16LE(18);
  const entry = eh.readBigUInt64LE(24);
  const phoff = toNum(eh.readBigUInt64LE(32), src, "e_phoff");
  const shoff = toNum(eh.readBigUInt64LE(40), src, "e_shoff");
  const phentsize = eh.readUInt16LE(54);
  let phnum = eh.readUInt16LE(56);
  const shentsize = eh.readUInt16LE(58);
  let shnum = eh.readUInt16LE(60);
  let shstrndx = eh.readUInt16LE(62);

  // Extended numbering: the real counts live in section header 0.
  if (shoff !== 0 && (shnum === 0 || shstrndx === 0xffff || phnum === 0xffff)) {
    const s0 = src.read(shoff, 64);
    if (shnum === 0) shnum = toNum(s0.readBigUInt64LE(32), src, "section count");
    if (shstrndx === 0xffff) shstrndx = s0.readUInt32LE(40);
    if (phnum === 0xffff) phnum = s0.readUInt32LE(44);
  }

  const segments: ElfSegment[] = [];
  if (phoff !== 0 && phnum > 0) {
    if (phentsize < 56) throw new ElfError(src.name, `bad e_phentsize ${phentsize}`);
    const ph = src.read(phoff, phnum * phentsize);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      segments.push({
        type: ph.readUInt32LE(o),
        flags: ph.readUInt32LE(o + 4),
        offset: ph.readBigUInt64LE(o + 8),
        vaddr: ph.readBigUInt64LE(o + 16),
        paddr: ph.readBigUInt64LE(o + 24),
        filesz: ph.readBigUInt64LE(o + 32),
        memsz: ph.readBigUInt64LE(o + 40),
        align: ph.readBigUInt64LE(o + 48),
      });
    }
  }

  const sections: ElfSection[] = [];
  if (shoff !== 0 && shnum > 0) {
    if (shentsize < 64) throw new ElfError(src.name, `bad e_shentsize ${shentsize}`);
    const sh = src.read(shoff, shnum * shentsize);
    const nameOffs: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      nameOffs.push(sh.readUInt32LE(o));
      sections.push({
        index: i,
        name: "",
        type: sh.readUInt32LE(o + 4),
        flags: sh.readBigUInt64LE(o + 8),
        addr: sh.readBigUInt64LE(o + 16),
        offset: toNum(sh.readBigUInt64LE(o + 24), src, "sh_offset"),
        size: toNum(sh.readBigUInt64LE(o + 32), src, "sh_size"),
        link: sh.readUInt32LE(o + 40),
        info: sh.readUInt32LE(o + 44),
        addralign: toNum(sh.readBigUInt64LE(o + 48), src, "sh_addralign"),
        entsize: toNum(sh.readBigUInt64LE(o + 56), src, "sh_entsize"),
      });
    }
    const strSec = sections[shstrndx];
    if (strSec && strSec.type !== SHT_NOBITS && strSec.size > 0) {
      const names = src.read(strSec.offset, strSec.size);
      for (const s of sections) s.name = cstr(names, nameOffs[s.index] as number);
    }
  }

  const elf: ElfFile = {
    path: src.name,
    type: ELF_TYPES[etype] ?? "UNKNOWN",
    machine,
    entry,
    sections,
    segments,
    buildId: undefined,
    debuglink: undefined,
    interpreter: undefined,
    usdt: [],
  };

  const interp = segments.find((s) => s.type === PT_INTERP);
  if (interp && interp.filesz > 0n && interp.filesz < 4096n)
    elf.interpreter = cstr(src.read(Number(interp.offset), Number(interp.filesz)), 0);

  // Notes: from the note sections, or from PT_NOTE segments when there are no section headers.
  const noteBlobs: { name: string; data: Buffer; align: number }[] = [];
  if (sections.length > 0) {
    for (const s of sections) {
      if (s.type !== SHT_NOTE || s.size === 0 || s.size > 16 << 20) continue;
      noteBlobs.push({ name: s.name, data: src.read(s.offset, s.size), align: s.addralign });
    }
  } else {
    for (const p of segments) {
      if (p.type !== PT_NOTE || p.filesz === 0n || p.filesz > 1n << 24n) continue;
      noteBlobs.push({
        name: "",
        data: src.read(Number(p.offset), Number(p.filesz)),
        align: Number(p.align),
      });
    }
  }
  const stapBase = sections.find((s) => s.name === ".stapsdt.base");
  for (const blob of noteBlobs) {
    for (const n of parseNotes(blob.data, blob.align)) {
      if (n.owner === "GNU" && n.type === 3 && elf.buildId === undefined)
        elf.buildId = n.desc.toString("hex");
      else if (n.owner === "stapsdt" && n.type === 3 && n.desc.length >= 24)
        elf.usdt.push(usdtNote(elf, n.desc, stapBase));
    }
  }

  const dl = sections.find((s) => s.name === ".gnu_debuglink");
  if (dl && dl.type !== SHT_NOBITS && dl.size >= 5 && dl.size < 4096) {
    const d = src.read(dl.offset, dl.size);
    const file = cstr(d, 0);
    const crcOff = (Buffer.byteLength(file) + 1 + 3) & ~3;
    if (crcOff + 4 <= d.length) elf.debuglink = { file, crc: d.readUInt32LE(crcOff) };
  }
  return elf;
}

function usdtNote(elf: ElfFile, desc: Buffer, stapBase: ElfSection | undefined): UsdtNote {
  const pc = desc.readBigUInt64LE(0);
  const base = desc.readBigUInt64LE(8);
  const semaphore = desc.readBigUInt64LE(16);
  let p = 24;
  const strs: string[] = [];
  for (let i = 0; i < 3; i++) {
    let e = desc.indexOf(0, p);
    if (e === -1) e = desc.length;
    strs.push(desc.toString("utf8", p, e));
    p = e + 1;
  }
  const delta = stapBase && base !== 0n ? stapBase.addr - base : 0n;
  const address = pc + delta;
  const semaphoreAddress = semaphore === 0n ? 0n : semaphore + delta;
  let semaphoreOffset: bigint | undefined;
  if (semaphoreAddress !== 0n) {
    // libbpf: relative to the section holding it (.probes), else through the segments.
    const sec = elf.sections.find(
      (s) =>
        s.type !== SHT_NOBITS &&
        s.addr !== 0n &&
        s.addr <= semaphoreAddress &&
        semaphoreAddress < s.addr + BigInt(s.size),
    );
    semaphoreOffset =
      sec !== undefined
        ? semaphoreAddress - sec.addr + BigInt(sec.offset)
        : addrToFileOffset(elf, semaphoreAddress);
  }
  return {
    provider: strs[0] ?? "",
    name: strs[1] ?? "",
    pc,
    base,
    semaphore,
    args: strs[2] ?? "",
    address,
    semaphoreAddress,
    fileOffset: addrToFileOffset(elf, address),
    semaphoreOffset,
  };
}

/** A symbol table section with its string table, entries of `entsize` bytes. */
interface SymbolTable {
  sec: ElfSection;
  strSec: ElfSection;
  table: "symtab" | "dynsym";
  entsize: number;
  count: number;
}

/** .symtab and .dynsym, in section order (the order every listing of symbols keeps). */
function symbolTables(src: Source, elf: ElfFile): SymbolTable[] {
  const out: SymbolTable[] = [];
  for (const sec of elf.sections) {
    if (sec.type !== SHT_SYMTAB && sec.type !== SHT_DYNSYM) continue;
    const strSec = elf.sections[sec.link];
    if (!strSec || strSec.type === SHT_NOBITS || sec.size === 0) continue;
    const entsize = sec.entsize || 24;
    if (entsize < 24) throw new ElfError(src.name, `bad symbol entry size ${entsize} in ${sec.name}`);
    const table = sec.type === SHT_SYMTAB ? "symtab" : "dynsym";
    out.push({ sec, strSec, table, entsize, count: Math.floor(sec.size / entsize) });
  }
  return out;
}

function decodeSymbol(data: Buffer, o: number, name: string, table: "symtab" | "dynsym"): ElfSymbol {
  const info = data[o + 4] as number;
  const t = info & 0xf;
  const b = info >> 4;
  return {
    name,
    value: data.readBigUInt64LE(o + 8),
    size: data.readBigUInt64LE(o + 16),
    type: t === 10 ? "IFUNC" : (SYM_TYPES[t] ?? "OTHER"),
    binding: b === 10 ? "UNIQUE" : (SYM_BINDINGS[b] ?? "OTHER"),
    visibility: (data[o + 5] as number) & 3,
    shndx: data.readUInt16LE(o + 6),
    table,
  };
}

/** Whether the entry at `o` is a defined function (FUNC or IFUNC, in a section, at an address) with a name offset. */
function definesFunction(data: Buffer, o: number): boolean {
  const t = (data[o + 4] as number) & 0xf;
  return (
    (t === 2 || t === 10) &&
    data.readUInt16LE(o + 6) !== SHN_UNDEF &&
    data.readUInt32LE(o) !== 0 &&
    data.readBigUInt64LE(o + 8) !== 0n
  );
}

/**
 * The symbols of .symtab then .dynsym that `test` keeps (all without one),
 * pushed to `out`; returns whether .symtab defines a named function (a
 * binary without one is stripped, and its debug file's symbols come first).
 */
function scanSymbols(
  src: Source,
  elf: ElfFile,
  test: ((name: string) => boolean) | undefined,
  out: ElfSymbol[],
): boolean {
  let symtabFunction = false;
  for (const { sec, strSec, table, entsize, count } of symbolTables(src, elf)) {
    const data = src.read(sec.offset, sec.size);
    const strs = src.read(strSec.offset, strSec.size);
    // Entry 0 is the reserved null symbol.
    for (let i = 1; i < count; i++) {
      const o = i * entsize;
      const name = cstr(strs, data.readUInt32LE(o));
      if (!symtabFunction && table === "symtab" && name !== "" && definesFunction(data, o))
        symtabFunction = true;
      if (test && !test(name)) continue;
      out.push(decodeSymbol(data, o, name, table));
    }
  }
  return symtabFunction;
}

/**
 * Bytes a scan by name reads at a time: node's own tables are 10 MB, which
 * read whole would stay in malloc's heap (glibc raises its mmap threshold to
 * the size of a block it frees).
 */
const SCAN_CHUNK = 256 * 1024;

let scanBuffer: WeakRef<Buffer> | undefined;

/**
 * The buffer a scan reads its chunks into, shared by the scans that follow
 * one another: a buffer lives until V8 collects it, which a quiet tracer may
 * not do for long, and a buffer per scan held 0.8 MB of sslsniff's peak RSS
 * (its four scans: the TLS libraries and node). Weakly held, so that a
 * process done with scanning does not keep it.
 */
function scanScratch(bytes: number): Buffer {
  let buf = scanBuffer?.deref();
  if (buf === undefined || buf.length < bytes) {
    buf = Buffer.allocUnsafe(bytes);
    scanBuffer = new WeakRef(buf);
  }
  return buf;
}

/** Where in the string table each of `names` starts as a whole string (NUL-terminated, or ending the table). */
function nameOffsets(
  src: Source,
  strSec: ElfSection,
  names: readonly string[],
  scratch: Buffer,
): Map<number, string> {
  const found = new Map<number, string>();
  const needles = names.map((n) => [n, Buffer.from(`${n}\0`, "utf8")] as const);
  const longest = Math.max(...needles.map(([, b]) => b.length));
  for (let pos = 0; pos < strSec.size; pos += SCAN_CHUNK) {
    // each chunk overlaps the next by a name's length, and keeps only the names starting in it
    const chunk = src.readChunk(
      scratch,
      strSec.offset + pos,
      Math.min(SCAN_CHUNK + longest, strSec.size - pos),
    );
    for (const [name, nd] of needles) {
      for (let at = chunk.indexOf(nd); at !== -1 && at < SCAN_CHUNK; at = chunk.indexOf(nd, at + 1))
        found.set(pos + at, name);
    }
  }
  const tail = src.read(strSec.offset + Math.max(0, strSec.size - longest), Math.min(longest, strSec.size));
  for (const [name, nd] of needles) {
    const b = nd.subarray(0, -1);
    if (b.length <= tail.length && tail.subarray(tail.length - b.length).equals(b))
      found.set(strSec.size - b.length, name);
  }
  return found;
}

/**
 * {@link scanSymbols} for symbols named one of `names`, a chunk at a time:
 * the names are found in the string table first, then the entries that
 * point at them; no other name is decoded.
 */
function scanNamed(src: Source, elf: ElfFile, names: readonly string[], out: ElfSymbol[]): boolean {
  let symtabFunction = false;
  const longest = Math.max(...names.map((n) => Buffer.byteLength(n) + 1));
  const scratch = scanScratch(SCAN_CHUNK + longest);
  for (const { sec, strSec, table, entsize, count } of symbolTables(src, elf)) {
    const offsets = nameOffsets(src, strSec, names, scratch);
    const per = Math.max(1, Math.floor(SCAN_CHUNK / entsize));
    for (let first = 0; first < count; first += per) {
      const n = Math.min(per, count - first);
      const data = src.readChunk(scratch, sec.offset + first * entsize, n * entsize);
      // Entry 0 is the reserved null symbol.
      for (let i = first === 0 ? 1 : 0; i < n; i++) {
        const o = i * entsize;
        const nameAt = data.readUInt32LE(o);
        if (
          !symtabFunction &&
          table === "symtab" &&
          definesFunction(data, o) &&
          nameAt < strSec.size &&
          src.read(strSec.offset + nameAt, 1)[0] !== 0
        )
          symtabFunction = true;
        const name = offsets.get(nameAt);
        if (name !== undefined) out.push(decodeSymbol(data, o, name, table));
      }
    }
  }
  return symtabFunction;
}

function readSymbolsFrom(src: Source, elf: ElfFile): ElfSymbol[] {
  const out: ElfSymbol[] = [];
  scanSymbols(src, elf, undefined, out);
  return out;
}

function withSource<T>(file: string | Buffer, name: string | undefined, fn: (src: Source) => T): T {
  if (Buffer.isBuffer(file)) return fn(bufferSource(file, name ?? "<memory>"));
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (err) {
    throw new ElfError(file, `cannot open: ${(err as Error).message}`, { cause: err });
  }
  try {
    return fn(fdSource(fd, name ?? file));
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads an ELF file's headers, notes (build-id, USDT) and debuglink. Not
 * cached (see {@link elfSymbols} for the cached path). `file` is a path or an
 * in-memory image; `name` names a buffer in errors and in `path`.
 */
export function readElf(file: string | Buffer, name?: string): ElfFile {
  return withSource(file, name, (src) => parse(src));
}

/**
 * Every symbol of .symtab and .dynsym (.symtab first), uncached. Pass the
 * already parsed headers as `elf` to skip reading them again.
 */
export function readElfSymbols(file: string | Buffer, elf?: ElfFile): ElfSymbol[] {
  return withSource(file, elf?.path, (src) => readSymbolsFrom(src, elf ?? parse(src)));
}

// --- address arithmetic ----------------------------------------------------

/** The PT_LOAD segment whose file contents hold vaddr `addr`, if any. */
export function segmentForAddr(elf: ElfFile, addr: bigint): ElfSegment | undefined {
  return elf.segments.find((s) => s.type === PT_LOAD && s.vaddr <= addr && addr < s.vaddr + s.filesz);
}

/** addr (a link-time vaddr) → file offset through its PT_LOAD segment; undefined when none covers it. */
export function addrToFileOffset(elf: ElfFile, addr: bigint): bigint | undefined {
  const seg = segmentForAddr(elf, addr);
  return seg ? addr - seg.vaddr + seg.offset : undefined;
}

/**
 * The file offset of a symbol (or of an address), which is what a uprobe is
 * attached to: offset = addr - p_vaddr + p_offset of the PT_LOAD segment that
 * contains it. The same for EXEC and DYN (PIE, shared objects). Throws an
 * ElfError for an undefined symbol or an address no segment holds. An IFUNC
 * symbol's value is its resolver, not the implementation it selects.
 */
export function symbolToFileOffset(elf: ElfFile, sym: ElfSymbol | bigint): bigint {
  if (typeof sym !== "bigint" && sym.shndx === SHN_UNDEF)
    throw new ElfError(elf.path, `symbol ${sym.name} is undefined here (it lives in another object)`);
  const addr = typeof sym === "bigint" ? sym : sym.value;
  const off = addrToFileOffset(elf, addr);
  if (off === undefined) {
    const what =
      typeof sym === "bigint"
        ? `address 0x${addr.toString(16)}`
        : `symbol ${sym.name} (0x${addr.toString(16)})`;
    throw new ElfError(elf.path, `${what} is in no PT_LOAD segment`);
  }
  return off;
}

/**
 * The inverse: a file offset → link-time vaddr, through the PT_LOAD segment
 * whose file range holds it (preferring an executable one when `executable`
 * is set and two segments share a page). Undefined when none does.
 */
export function fileOffsetToAddr(elf: ElfFile, offset: bigint, executable = false): bigint | undefined {
  let found: ElfSegment | undefined;
  for (const s of elf.segments) {
    if (s.type !== PT_LOAD || offset < s.offset || offset >= s.offset + s.filesz) continue;
    if (!executable || s.flags & PF_X) return offset - s.offset + s.vaddr;
    found ??= s;
  }
  return found ? offset - found.offset + found.vaddr : undefined;
}

// --- function lookup -------------------------------------------------------

/** A function found by address: its name, the offset into it and the symbol itself. */
export interface FunctionMatch {
  /** The chosen symbol's name. */
  name: string;
  /** addr - symbol start. */
  offset: bigint;
  /** The symbol. */
  symbol: ElfSymbol;
}

function leadingUnderscores(s: string): number {
  let n = 0;
  while (s.charCodeAt(n) === 95) n++;
  return n;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const BIND_RANK: Record<ElfSymbolBinding, number> = { GLOBAL: 0, WEAK: 1, UNIQUE: 1, LOCAL: 2, OTHER: 3 };

/**
 * Sorted FUNC and IFUNC symbols of one object, for address → function lookups.
 * Of several symbols at one address (getpid and __getpid), the one with the
 * fewest leading underscores wins, then GLOBAL over WEAK over LOCAL, then
 * .symtab order. A zero-sized symbol covers its first byte only.
 */
export class FunctionIndex {
  /** Number of distinct function start addresses. */
  readonly size: number;
  // Addresses relative to `base`, as doubles (exact: any object spans far less than 2^53 bytes).
  private readonly base: bigint;
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  // maxEnd[i] = max(ends[0..i]): lets a lookup stop walking back early.
  private readonly maxEnd: Float64Array;
  private readonly syms: ElfSymbol[];

  constructor(symbols: readonly ElfSymbol[]) {
    let fns = symbols.filter(
      (s) =>
        (s.type === "FUNC" || s.type === "IFUNC") && s.shndx !== SHN_UNDEF && s.value !== 0n && s.name !== "",
    );
    // BigInt arithmetic is slow: user-space addresses fit doubles as they
    // are; only kernel-style ones (0xffff...) are rebased first.
    let base = 0n;
    if (fns.some((s) => s.value > MAX_SAFE)) {
      for (const [i, s] of fns.entries()) if (i === 0 || s.value < base) base = s.value;
      fns = fns.filter((s) => s.value - base <= MAX_SAFE);
    }
    this.base = base;
    const n0 = fns.length;
    const rel = new Float64Array(n0);
    const size = new Float64Array(n0);
    const rank = new Float64Array(n0);
    for (let i = 0; i < n0; i++) {
      const s = fns[i] as ElfSymbol;
      rel[i] = Number(base === 0n ? s.value : s.value - base);
      size[i] = Number(s.size);
      rank[i] = leadingUnderscores(s.name) * 8 + BIND_RANK[s.binding];
    }
    // Order by address (ties in table order): a native sort of packed
    // doubles (address * 2^20 + index) when they fit, else a comparator.
    let order: Uint32Array | number[];
    let maxRel = 0;
    for (let i = 0; i < n0; i++) maxRel = Math.max(maxRel, rel[i] as number);
    if (n0 < 1 << 20 && maxRel < 2 ** 33) {
      const keys = new Float64Array(n0);
      for (let i = 0; i < n0; i++) keys[i] = (rel[i] as number) * 2 ** 20 + i;
      keys.sort();
      order = new Uint32Array(n0);
      for (let i = 0; i < n0; i++) order[i] = (keys[i] as number) % 2 ** 20;
    } else {
      order = Array.from({ length: n0 }, (_, i) => i);
      order.sort((a, b) => (rel[a] as number) - (rel[b] as number) || a - b);
    }
    const syms: ElfSymbol[] = [];
    const ranks: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    for (const i of order) {
      const s = fns[i] as ElfSymbol;
      const start = rel[i] as number;
      const end = start + Math.max(size[i] as number, 1);
      const k = syms.length - 1;
      if (k >= 0 && starts[k] === start) {
        // Same start: keep the preferred name, with the largest size of the group.
        if ((rank[i] as number) < (ranks[k] as number)) {
          syms[k] = s;
          ranks[k] = rank[i] as number;
        }
        if (end > (ends[k] as number)) ends[k] = end;
        continue;
      }
      syms.push(s);
      ranks.push(rank[i] as number);
      starts.push(start);
      ends.push(end);
    }
    const n = syms.length;
    this.size = n;
    this.syms = syms;
    this.starts = Float64Array.from(starts);
    this.ends = Float64Array.from(ends);
    this.maxEnd = new Float64Array(n);
    let max = 0;
    for (let i = 0; i < n; i++) {
      max = Math.max(max, ends[i] as number);
      this.maxEnd[i] = max;
    }
  }

  /** The function containing link-time address `addr`, or undefined. Nested symbols resolve to the innermost. */
  lookup(addr: bigint): FunctionMatch | undefined {
    if (addr < this.base || addr - this.base > MAX_SAFE) return undefined;
    const x = Number(addr - this.base);
    const st = this.starts;
    const a = countAtMost(st, x);
    for (let i = a - 1; i >= 0; i--) {
      if ((this.maxEnd[i] as number) <= x) break;
      if (x < (this.ends[i] as number)) {
        const s = this.syms[i] as ElfSymbol;
        return { name: s.name, offset: addr - s.value, symbol: s };
      }
    }
    return undefined;
  }
}

// --- cache -----------------------------------------------------------------

/** What the cache keeps per file. */
interface CacheEntry {
  elf: ElfFile;
  /** File size in bytes. */
  size: number;
  /** Its own symbols, plus those of its debug file when it has no .symtab functions. */
  symbols?: readonly ElfSymbol[];
  index?: FunctionIndex;
  /** The debug file `symbols` took symbols from. */
  debugFile?: string;
  /** debugSearchKey() when `symbols` came out of a debug file search (redone when it changes). */
  debugKey?: string;
  /** What lookups by name found, by the names ("\0"-joined), in a file's own tables. */
  named?: Map<string, readonly ElfSymbol[]>;
  /** CRC32 of the whole file, when it was a debuglink candidate. */
  crc?: number;
  /**
   * The pid whose /proc/PID/ paths alone reached the file (a deleted binary
   * through map_files, a container's through root), dropped with that
   * process by {@link forgetElfFilesOf}; 0 once any other path reached it.
   */
  owner: number;
}

/** The most files cached: binaries and libraries of every process symbolized, their debug files. */
const MAX_CACHED = 256;
const cache = new Lru<string, CacheEntry>(MAX_CACHED);

/** The pid of a path under /proc/PID/ (map_files of a deleted binary, root of another mount namespace). */
function procPid(path: string): number | undefined {
  const m = /^\/proc\/(\d+)\//.exec(path);
  return m ? Number(m[1]) : undefined;
}

function openForRead(path: string): number {
  try {
    return openSync(path, "r");
  } catch (err) {
    // BCC_SYMFS: a binary of another root that is not here is read from the symbol file system.
    const alt = (err as NodeJS.ErrnoException).code === "ENOENT" ? symfsPath(path) : undefined;
    if (alt !== undefined) {
      try {
        return openSync(alt, "r");
      } catch {}
    }
    throw new ElfError(path, `cannot open: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Opens `path` (or its copy under BCC_SYMFS when there is no such file),
 * identifies the file by (dev, inode, size, mtime) — so two paths to one
 * file (/proc/PID/root/...) share an entry and a rebuilt file gets a new
 * one — and returns the cached entry, filling it with `fill`.
 */
function cached<T>(path: string, fill: (e: CacheEntry, src: Source) => T): T {
  const fd = openForRead(path);
  try {
    const st = fstatSync(fd, { bigint: true });
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
    const src = fdSource(fd, path);
    const pid = procPid(path);
    let e = cache.get(key);
    if (!e) {
      e = { elf: parse(src), size: Number(st.size), owner: pid ?? 0 };
      cache.set(key, e);
    } else if (e.owner !== 0 && e.owner !== pid) e.owner = 0;
    return fill(e, src);
  } finally {
    closeSync(fd);
  }
}

/** Candidate debug files are read through the cache too (so {@link clearElfCache} frees them). */
const debugIo = {
  buildId: (p: string) => cached(p, (e) => e.elf.buildId),
  crc: (p: string) =>
    cached(p, (e, src) => (e.crc ??= debuglinkCrc((pos, len) => src.read(pos, len), e.size))),
  symbols: (p: string) => cached(p, (e, src) => readSymbolsFrom(src, e.elf)),
};

/** Whether the entry's symbols are there and were found with the debug search's present settings. */
function hasFreshSymbols(e: CacheEntry): e is CacheEntry & { symbols: readonly ElfSymbol[] } {
  return e.symbols !== undefined && (e.debugKey === undefined || e.debugKey === debugSearchKey());
}

/**
 * The entry's symbols: .symtab then .dynsym; for a binary without .symtab
 * functions (stripped), its debug file's .symtab first (see debuginfo.ts),
 * then its own. The search is redone when its settings (debug root,
 * BCC_SYMFS) change; the entry of a file reached by two paths keeps the
 * first path's result.
 */
function symbolsOf(path: string, e: CacheEntry, src: Source): readonly ElfSymbol[] {
  if (hasFreshSymbols(e)) return e.symbols;
  const own: ElfSymbol[] = [];
  const symtabFunction = scanSymbols(src, e.elf, undefined, own);
  e.index = undefined;
  e.debugFile = undefined;
  e.debugKey = undefined;
  if (symtabFunction) {
    e.symbols = Object.freeze(own);
    return e.symbols;
  }
  e.debugKey = debugSearchKey();
  const dbg = loadDebugSymbols(path, e.elf, debugIo);
  e.debugFile = dbg?.file;
  e.symbols = Object.freeze(dbg ? [...dbg.symbols, ...own] : own);
  return e.symbols;
}

/** {@link readElf}, cached per file (dev, inode, size, mtime). Treat the result as read-only. */
export function elfFile(path: string): ElfFile {
  return cached(path, (e) => e.elf);
}

/** Options of {@link elfSymbols}. */
export interface ElfSymbolsOptions {
  /** Keep only these types (e.g. ["FUNC", "IFUNC"]). */
  types?: ElfSymbolType[];
  /** Keep only defined symbols (st_shndx != SHN_UNDEF). */
  definedOnly?: boolean;
  /** Keep only symbols of this table. */
  table?: "symtab" | "dynsym";
}

/**
 * The symbols of .symtab then .dynsym, cached per file (dev, inode, size,
 * mtime: a rebuilt binary is read again). A binary with no .symtab function
 * (stripped) gets the .symtab of its separate debug file first (found by
 * BCC_SYMFS, build-id or .gnu_debuglink, see debuginfo.ts; those symbols
 * have table "symtab" and the debug file's section indexes). The returned
 * array is frozen; filtering options make a new array from the cached one.
 */
export function elfSymbols(path: string, opts: ElfSymbolsOptions = {}): readonly ElfSymbol[] {
  const all = cached(path, (e, src) => symbolsOf(path, e, src));
  if (!opts.types && !opts.definedOnly && !opts.table) return all;
  const types = opts.types ? new Set(opts.types) : undefined;
  return Object.freeze(
    all.filter(
      (s) =>
        (!types || types.has(s.type)) &&
        (!opts.definedOnly || s.shndx !== SHN_UNDEF) &&
        (!opts.table || s.table === opts.table),
    ),
  );
}

/**
 * What {@link loadDebugSymbols} would give of a stripped binary's debug file
 * (its .symtab's defined symbols, from the first verified candidate that
 * defines functions), for `names` only.
 */
function debugSymbolsNamed(path: string, elf: ElfFile, names: readonly string[]): ElfSymbol[] {
  try {
    for (const c of verifiedCandidates(path, elf, debugIo)) {
      const found: ElfSymbol[] = [];
      try {
        if (!cached(c.path, (d, dsrc) => scanNamed(dsrc, d.elf, names, found))) continue;
      } catch {
        continue;
      }
      return found.filter(isDebugSymbol);
    }
  } catch {}
  return [];
}

/**
 * The symbols of {@link elfSymbols} whose name is one of `match` (a list of
 * names) or passes it (a RegExp, by test()), in the same order, without
 * making the others: a lookup in a binary of 260,000 symbols (node's own)
 * would otherwise hold all of them (~50 MB of JavaScript heap) for a few
 * names. Uses the cached table when there is one, and caches only what a
 * lookup by names found. A stripped binary (no .symtab function) that has a
 * debug file is read whole and cached, as {@link elfSymbols} does: the debug
 * file's symbols come first.
 */
export function elfSymbolsMatching(path: string, match: readonly string[] | RegExp): ElfSymbol[] {
  const names = match instanceof RegExp ? undefined : [...new Set(match)].filter((n) => n !== "");
  const keep = (s: ElfSymbol): boolean => (names ? names.includes(s.name) : (match as RegExp).test(s.name));
  return cached(path, (e, src) => {
    if (hasFreshSymbols(e)) return e.symbols.filter(keep);
    // (a stripped file's answer holds while the debug search's settings do)
    const key = names && `${debugSearchKey()}\0\0${names.join("\0")}`;
    const known = key === undefined ? undefined : e.named?.get(key);
    if (known) return [...known];
    const out: ElfSymbol[] = [];
    if (!names) {
      // stripped (no .symtab function): symbolsOf searches for the debug file, whose symbols come first
      if (scanSymbols(src, e.elf, (n) => (match as RegExp).test(n), out)) return out;
      return symbolsOf(path, e, src).filter(keep);
    }
    if (names.length === 0) return out;
    if (!scanNamed(src, e.elf, names, out)) out.unshift(...debugSymbolsNamed(path, e.elf, names));
    e.named ??= new Map();
    e.named.set(key as string, Object.freeze([...out]));
    return out;
  });
}

/**
 * The separate debug file whose symbols {@link elfSymbols} gives for
 * `path`, or undefined (the binary has its own .symtab, or no debug file was
 * found or usable).
 */
export function elfDebugFile(path: string): string | undefined {
  return cached(path, (e, src) => {
    symbolsOf(path, e, src);
    return e.debugFile;
  });
}

/**
 * The defined symbol called `name` (FUNC, IFUNC or OBJECT by default),
 * preferring .symtab (a debug file's included) to .dynsym and a GLOBAL to a
 * WEAK or LOCAL one.
 */
export function findElfSymbol(
  path: string,
  name: string,
  types: ElfSymbolType[] = ["FUNC", "IFUNC", "OBJECT"],
): ElfSymbol | undefined {
  let best: ElfSymbol | undefined;
  for (const s of elfSymbolsMatching(path, [name])) {
    if (s.shndx === SHN_UNDEF || !types.includes(s.type)) continue;
    if (!best || BIND_RANK[s.binding] < BIND_RANK[best.binding]) best = s;
  }
  return best;
}

/** The cached headers and function index of one file (for address → symbol lookups), debug file included. */
export function elfFunctionIndex(path: string): { elf: ElfFile; index: FunctionIndex } {
  return cached(path, (e, src) => {
    const symbols = symbolsOf(path, e, src);
    e.index ??= new FunctionIndex(symbols);
    return { elf: e.elf, index: e.index };
  });
}

/** Empties the ELF cache, debug files included (tests; or to free memory). */
export function clearElfCache(): void {
  cache.clear();
}

/**
 * Drops the cached files that only process pid's /proc/PID/ paths reached
 * (its deleted binaries, its own mount namespace's files): the symbol cache
 * calls it when it forgets an exited process. Returns how many went.
 */
export function forgetElfFilesOf(pid: number): number {
  let n = 0;
  for (const [key, e] of cache.entries()) {
    if (e.owner === pid) {
      cache.delete(key);
      n++;
    }
  }
  return n;
}

/** How many files the ELF cache holds (at most 256). */
export function cachedElfFileCount(): number {
  return cache.size;
}

/** How many of the ascending values in `sorted` are at most x (the index of the first one above it). */
export function countAtMost(sorted: ArrayLike<number>, x: number): number {
  let a = 0;
  let b = sorted.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if ((sorted[mid] as number) <= x) a = mid + 1;
    else b = mid;
  }
  return a;
}
