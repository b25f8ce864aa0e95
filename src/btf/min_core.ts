// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * A minimized kernel BTF for an object's CO-RE relocations (the idea of
 * bpftool's `gen min_core_btf` and BTFHub's "BTFGen"; written here from the
 * relocation rules, not from their code).
 *
 * libbpf resolves a CO-RE relocation by searching the target BTF (the
 * kernel's, 5+ MB) for candidate types with the local type's essential name,
 * then matching the relocation's access path against each candidate
 * (libbpf's relo_core.c: bpf_core_spec_match, bpf_core_fields_are_compat,
 * bpf_core_types_are_compat). Given `bpf_object_open_opts.btf_custom_path`
 * it searches that BTF instead. This module replays the same search and
 * matching over the kernel's BTF in JavaScript and records every target type
 * and member the matching examines; the BTF written from just those gives
 * libbpf the same candidates, the same match decisions and the same offsets,
 * sizes and values, so the relocated instructions are identical. What it
 * keeps:
 *
 * - every candidate (same essential name, CO-RE-compatible kind), matching
 *   or not, in the kernel's id order (libbpf keeps the first matching
 *   candidate's result and prunes candidates relocation by relocation);
 * - of a struct or union, its name, size and only the members an access path
 *   went through (anonymous containers included), at their real bit offsets
 *   and bitfield sizes; a zero-length array member that is not the last one
 *   keeps the struct's last member after it (libbpf treats a last member of
 *   length 0 as a flexible array);
 * - each kept member's type as far as the field rules and size computations
 *   read it: typedef and modifier chains, arrays and their element types,
 *   integers (encoding and bit offset), enums (name, size, signedness), the
 *   header of a nested struct; a pointer whose pointee nothing needs points to
 *   void (the field rules accept any two pointers);
 * - for type relocations (exists, size), the chain the type rules walk:
 *   through pointers, arrays and function prototypes to the first
 *   struct/union/enum/int;
 * - of an enum, the enumerators whose essential names a relocation asks for.
 *
 * What it cannot reproduce, it refuses ({@link MinCoreUnsupported}), and the
 * caller then loads with the kernel's own BTF: TYPE_ID_TARGET relocations
 * (the value is the kernel's type id, which a smaller BTF renumbers),
 * TYPE_MATCHES (its rules compare member and enumerator counts), relocations
 * libbpf itself refuses (anonymous local types, malformed access strings),
 * and unknown kinds.
 */
import { readElf } from "../elf/elf.js";
import { BtfError } from "../kernel/errors.js";
import { native } from "../native.js";
import { BTF_MAGIC, Btf, type BtfComposite, type BtfType, hostWords } from "./btf.js";
import { encodeBtf } from "./writer.js";

/** enum bpf_core_relo_kind (include/uapi/linux/bpf.h). */
export const CORE_RELO_KIND = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;

/** A relocation kind by name ("FIELD_BYTE_OFFSET", ...). */
export type CoreReloKindName = keyof typeof CORE_RELO_KIND;

const KIND_NAMES = new Map<number, CoreReloKindName>(
  (Object.entries(CORE_RELO_KIND) as Array<[CoreReloKindName, number]>).map(([k, v]) => [v, k]),
);

/** The name of a relocation kind number ("kind 42" for one this module does not know). */
export function coreReloKindName(kind: number): string {
  return KIND_NAMES.get(kind) ?? `kind ${kind}`;
}

/** One CO-RE relocation record of .BTF.ext (struct bpf_core_relo) and the section it is in. */
export interface CoreRelo {
  /** The ELF section of the instruction (".text", "kprobe/x", ...). */
  section: string;
  /** Byte offset of the instruction in its section. */
  insnOff: number;
  /** The local (object's) type id the access starts from. */
  typeId: number;
  /** The access string: "0:1:2" (field), "0" (type), the enumerator's index (enum value). */
  access: string;
  /** enum bpf_core_relo_kind ({@link CORE_RELO_KIND}). */
  kind: number;
}

/** The relocation cannot be reproduced with a minimized BTF; load with the kernel's. */
export class MinCoreUnsupported extends BtfError {}

/** The name without its flavor: the part before the last `___` that has a non-underscore on both sides. */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (
      name.charCodeAt(i) !== 0x5f &&
      name.charCodeAt(i + 1) === 0x5f &&
      name.charCodeAt(i + 2) === 0x5f &&
      name.charCodeAt(i + 3) === 0x5f &&
      name.charCodeAt(i + 4) !== 0x5f
    )
      return name.slice(0, i + 1);
  }
  return name;
}

/* ------------------------------------------------------------------------ */
/* Reading an object: its .BTF and .BTF.ext CO-RE relocation records.        */

/** A string of raw BTF's string section by offset. */
function btfString(raw: Uint8Array, off: number): string {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = dv.getUint16(0, true) === BTF_MAGIC;
  const hdrLen = dv.getUint32(4, le);
  const strOff = dv.getUint32(16, le);
  const strLen = dv.getUint32(20, le);
  if (off >= strLen) throw new BtfError(`BTF string offset ${off} is past the string section (${strLen})`);
  const start = hdrLen + strOff + off;
  const end = raw.indexOf(0, start);
  if (end < 0 || end >= hdrLen + strOff + strLen)
    throw new BtfError(`BTF string at ${off} is not terminated`);
  return Buffer.from(raw.buffer, raw.byteOffset + start, end - start).toString("utf8");
}

/**
 * The CO-RE relocation records of a .BTF.ext section (whose strings are in
 * `btfRaw`, the object's .BTF): empty when the section has none. Layout:
 * struct btf_ext_header, then per info kind a record size followed by
 * per-section blocks {sec_name_off, num_info, records}.
 */
export function parseCoreRelos(btfExt: Uint8Array, btfRaw: Uint8Array): CoreRelo[] {
  if (btfExt.byteLength < 24) throw new BtfError(`.BTF.ext too short: ${btfExt.byteLength} bytes`);
  const dv = new DataView(btfExt.buffer, btfExt.byteOffset, btfExt.byteLength);
  let le: boolean;
  if (dv.getUint16(0, true) === BTF_MAGIC) le = true;
  else if (dv.getUint16(0, false) === BTF_MAGIC) le = false;
  else throw new BtfError(`bad .BTF.ext magic 0x${dv.getUint16(0, true).toString(16)}`);
  if (dv.getUint8(2) !== 1) throw new BtfError(`unsupported .BTF.ext version ${dv.getUint8(2)}`);
  const hdrLen = dv.getUint32(4, le);
  if (hdrLen < 32) return []; // a header without core_relo_off/len: no CO-RE relocations
  if (hdrLen > btfExt.byteLength) throw new BtfError(`bad .BTF.ext header length ${hdrLen}`);
  const off = dv.getUint32(24, le);
  const len = dv.getUint32(28, le);
  if (len === 0) return [];
  const start = hdrLen + off;
  const end = start + len;
  if (end > btfExt.byteLength)
    throw new BtfError(".BTF.ext CO-RE relocations run past the end of the section");
  if (len < 4) throw new BtfError(".BTF.ext CO-RE relocation info is too short");
  const recSize = dv.getUint32(start, le);
  if (recSize < 16) throw new BtfError(`.BTF.ext CO-RE relocation record size ${recSize} is below 16`);
  const out: CoreRelo[] = [];
  let p = start + 4;
  while (p < end) {
    if (p + 8 > end) throw new BtfError(".BTF.ext CO-RE relocation block header is truncated");
    const section = btfString(btfRaw, dv.getUint32(p, le));
    const n = dv.getUint32(p + 4, le);
    p += 8;
    if (p + n * recSize > end) throw new BtfError(`.BTF.ext CO-RE relocations of ${section} are truncated`);
    for (let i = 0; i < n; i++, p += recSize) {
      out.push({
        section,
        insnOff: dv.getUint32(p, le),
        typeId: dv.getUint32(p + 4, le),
        access: btfString(btfRaw, dv.getUint32(p + 8, le)),
        kind: dv.getUint32(p + 12, le),
      });
    }
  }
  return out;
}

/** What {@link readObjectCore} finds in a BPF object. */
export interface ObjectCore {
  /** The object's own BTF (.BTF), parsed; undefined when it has none. */
  btf: Btf | undefined;
  /** Its CO-RE relocations (empty without .BTF.ext or without relocations). */
  relos: CoreRelo[];
  /** Why libbpf needs the kernel's BTF for this object whatever the relocations (typed ksyms, kfuncs, struct_ops); undefined when it does not. */
  needsKernelBtf: string | undefined;
}

/** Reads the .BTF and the CO-RE relocations of a BPF ELF object. */
export function readObjectCore(elf: Uint8Array): ObjectCore {
  const buf = Buffer.from(elf.buffer, elf.byteOffset, elf.byteLength);
  const file = readElf(buf, "<object>");
  const section = (name: string) => {
    const s = file.sections.find((x) => x.name === name);
    return s ? buf.subarray(s.offset, s.offset + s.size) : undefined;
  };
  const btfRaw = section(".BTF");
  const ext = section(".BTF.ext");
  if (!btfRaw) return { btf: undefined, relos: [], needsKernelBtf: undefined };
  const btf = Btf.parse(btfRaw);
  const relos = ext ? parseCoreRelos(ext, btfRaw) : [];
  let needsKernelBtf: string | undefined;
  if (file.sections.some((s) => s.name.startsWith(".struct_ops"))) needsKernelBtf = "struct_ops maps";
  for (const v of btf.datasecVars(".ksyms")) {
    const vt = btf.type(v.varId);
    if (vt.kind === "FUNC") needsKernelBtf ??= `kfunc ${vt.name}`;
    else if (btf.resolve(v.typeId) !== 0) needsKernelBtf ??= `typed ksym ${vt.name}`;
  }
  return { btf, relos, needsKernelBtf };
}

/* ------------------------------------------------------------------------ */
/* libbpf's matching, replayed over the target BTF with every look recorded. */

/** BPF_CORE_SPEC_MAX_LEN. */
const SPEC_MAX_LEN = 64;
/** libbpf's recursion limit of the type compatibility checks. */
const COMPAT_LEVELS = 32;

const MODS = new Set(["TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"]);

function isComposite(t: BtfType): t is BtfComposite {
  return t.kind === "STRUCT" || t.kind === "UNION";
}

function isAnyEnum(t: BtfType): boolean {
  return t.kind === "ENUM" || t.kind === "ENUM64";
}

/** btf_kind_core_compat: the same kind, or both enums (32 or 64-bit). */
function kindCoreCompat(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/** skip_mods_and_typedefs: the id after every typedef and modifier. */
function skipMods(btf: Btf, id: number): number {
  let cur = id;
  for (let i = 0; i < 256; i++) {
    const t = btf.type(cur);
    if (!MODS.has(t.kind)) return cur;
    cur = (t as { type: number }).type;
  }
  throw new MinCoreUnsupported(`type chain from ${id} is a loop`);
}

/** btf__resolve_size; undefined where libbpf fails. */
function resolveSize(btf: Btf, id: number): number | undefined {
  let nelems = 1;
  let cur = id;
  for (let i = 0; i < 32 && cur !== 0; i++) {
    const t = btf.type(cur);
    switch (t.kind) {
      case "INT":
      case "STRUCT":
      case "UNION":
      case "ENUM":
      case "ENUM64":
      case "DATASEC":
      case "FLOAT":
        return nelems * t.size;
      case "PTR":
        return nelems * 8;
      case "TYPEDEF":
      case "VOLATILE":
      case "CONST":
      case "RESTRICT":
      case "VAR":
      case "DECL_TAG":
      case "TYPE_TAG":
        cur = t.type;
        break;
      case "ARRAY":
        nelems *= t.nelems;
        cur = t.type;
        break;
      default:
        return undefined;
    }
  }
  return undefined;
}

/** One high-level accessor of a spec (struct bpf_core_accessor). */
interface Accessor {
  /** The struct/union (named member), the array's element type, or the root type. */
  typeId: number;
  /** Member index, array index or enumerator index. */
  idx: number;
  /** The member's or enumerator's name; undefined for an array index. */
  name: string | undefined;
}

/** A parsed local spec (bpf_core_parse_spec's result, what matching needs of it). */
interface LocalSpec {
  rootId: number;
  kind: number;
  spec: Accessor[];
}

/** bpf_core_parse_spec over the object's BTF; throws MinCoreUnsupported where libbpf fails. */
function parseLocalSpec(btf: Btf, relo: CoreRelo): LocalSpec {
  const bad = (why: string) =>
    new MinCoreUnsupported(
      `relocation ${coreReloKindName(relo.kind)} of type ${relo.typeId} "${relo.access}": ${why}`,
    );
  if (!/^\d+(:\d+)*$/.test(relo.access)) throw bad("malformed access string");
  const raw = relo.access.split(":").map(Number);
  const spec: LocalSpec = { rootId: relo.typeId, kind: relo.kind, spec: [] };
  const k = relo.kind;
  if (k >= CORE_RELO_KIND.TYPE_ID_LOCAL && k <= CORE_RELO_KIND.TYPE_SIZE) {
    if (relo.access !== "0") throw bad("a type relocation's access string must be 0");
    return spec;
  }
  if (k === CORE_RELO_KIND.TYPE_MATCHES) return spec;
  if (raw.length > SPEC_MAX_LEN) throw bad("access string too long");
  let id = skipMods(btf, relo.typeId);
  let t = btf.type(id);
  const first = raw[0] as number;
  spec.spec.push({ typeId: id, idx: first, name: undefined });
  if (k === CORE_RELO_KIND.ENUMVAL_EXISTS || k === CORE_RELO_KIND.ENUMVAL_VALUE) {
    if ((t.kind !== "ENUM" && t.kind !== "ENUM64") || raw.length > 1 || first >= t.values.length)
      throw bad("not an enumerator of an enum");
    (spec.spec[0] as Accessor).name = (t.values[first] as { name: string }).name;
    return spec;
  }
  if (k > CORE_RELO_KIND.FIELD_RSHIFT_U64) throw bad("unknown relocation kind");
  if (resolveSize(btf, id) === undefined) throw bad("the root type has no size");
  for (let i = 1; i < raw.length; i++) {
    id = skipMods(btf, id);
    t = btf.type(id);
    const idx = raw[i] as number;
    if (isComposite(t)) {
      const m = t.members[idx];
      if (m === undefined) throw bad(`no member ${idx} in ${t.name || "(anon)"}`);
      if (m.name !== "") spec.spec.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === "ARRAY") {
      id = skipMods(btf, t.type);
      const prev = spec.spec[spec.spec.length - 1] as Accessor;
      const flex = prev.name !== undefined && t.nelems === 0 && isLastMember(btf, prev);
      if (!flex && idx >= t.nelems) throw bad("array index out of bounds");
      spec.spec.push({ typeId: id, idx, name: undefined });
      if (resolveSize(btf, id) === undefined) throw bad("an array element has no size");
    } else throw bad(`access through a ${t.kind}`);
  }
  return spec;
}

/** is_flex_arr's position test: the accessor's member is its struct's last. */
function isLastMember(btf: Btf, acc: Accessor): boolean {
  const parent = btf.type(acc.typeId) as BtfComposite;
  return acc.idx === parent.members.length - 1;
}

/** What of the target BTF the minimized one keeps. */
class Keep {
  /** Kept type id → kept member indexes (struct/union) or enumerator indexes (enum); empty for other kinds. */
  readonly types = new Map<number, Set<number>>();
  /** Pointers whose pointee must be kept as is (type rules look through pointers). */
  readonly deepPointers = new Set<number>();

  constructor(readonly btf: Btf) {}

  /** Keeps a type and what makes it well formed and sized: modifier chains, array elements, prototype parts. */
  type(id: number): void {
    let cur = id;
    for (let depth = 0; depth < 256; depth++) {
      if (cur === 0 || this.types.has(cur)) return;
      this.types.set(cur, new Set());
      const t = this.btf.type(cur);
      switch (t.kind) {
        case "TYPEDEF":
        case "CONST":
        case "VOLATILE":
        case "RESTRICT":
        case "TYPE_TAG":
        case "FUNC":
        case "VAR":
          cur = t.type;
          break;
        case "ARRAY":
          this.type(t.indexType);
          cur = t.type;
          break;
        case "FUNC_PROTO":
          for (const p of t.params) this.type(p.type);
          cur = t.returnType;
          break;
        default:
          return; // PTR: the pointee only when asked (see pointee); others stand alone
      }
    }
  }

  /** Keeps a pointer's pointee as is. */
  pointee(ptrId: number): void {
    const t = this.btf.type(ptrId);
    if (t.kind !== "PTR") return;
    this.type(ptrId);
    this.deepPointers.add(ptrId);
    this.type(t.type);
  }

  member(compositeId: number, idx: number): void {
    this.type(compositeId);
    (this.types.get(compositeId) as Set<number>).add(idx);
    const m = (this.btf.type(compositeId) as BtfComposite).members[idx];
    if (m) this.type(m.type);
  }

  enumerator(enumId: number, idx: number): void {
    this.type(enumId);
    (this.types.get(enumId) as Set<number>).add(idx);
  }
}

/**
 * Replays libbpf's matching of one relocation against the target BTF,
 * recording what it looks at. Returns whether the candidate matches, as
 * libbpf would decide.
 */
class Matcher {
  constructor(
    private readonly local: Btf,
    private readonly target: Btf,
    private readonly keep: Keep,
  ) {}

  /** skip_mods_and_typedefs on the target, kept. */
  private tSkip(id: number): number {
    this.keep.type(id);
    return skipMods(this.target, id);
  }

  /** bpf_core_fields_are_compat. */
  fieldsCompat(localId: number, targId: number): boolean {
    let lid = localId;
    let tid = targId;
    for (let depth = 0; depth < 256; depth++) {
      lid = skipMods(this.local, lid);
      tid = this.tSkip(tid);
      const lt = this.local.type(lid);
      const tt = this.target.type(tid);
      if (isComposite(lt) && isComposite(tt)) return true;
      if (!kindCoreCompat(lt, tt)) return false;
      switch (lt.kind) {
        case "PTR":
        case "FLOAT":
          return true;
        case "FWD":
        case "ENUM":
        case "ENUM64": {
          const ln = essentialName(lt.name);
          const tn = essentialName(tt.name);
          return ln === "" || tn === "" || ln === tn;
        }
        case "INT":
          return lt.bitOffset === 0 && (tt as { bitOffset: number }).bitOffset === 0;
        case "ARRAY":
          lid = lt.type;
          tid = (tt as { type: number }).type;
          break;
        default:
          return false;
      }
    }
    throw new MinCoreUnsupported("field types nest too deep");
  }

  /** __bpf_core_types_are_compat. */
  typesCompat(localId: number, targId: number, level: number): boolean {
    this.keep.type(targId);
    if (!kindCoreCompat(this.local.type(localId), this.target.type(targId))) return false;
    let lid = localId;
    let tid = targId;
    for (let depth = 32; depth >= 0; depth--) {
      lid = skipMods(this.local, lid);
      tid = this.tSkip(tid);
      const lt = this.local.type(lid);
      const tt = this.target.type(tid);
      if (!kindCoreCompat(lt, tt)) return false;
      switch (lt.kind) {
        case "VOID":
        case "STRUCT":
        case "UNION":
        case "ENUM":
        case "ENUM64":
        case "FWD":
          return true;
        case "INT":
          return lt.bitOffset === 0 && (tt as { bitOffset: number }).bitOffset === 0;
        case "PTR":
          this.keep.pointee(tid);
          lid = lt.type;
          tid = (tt as { type: number }).type;
          break;
        case "ARRAY":
          lid = lt.type;
          tid = (tt as { type: number }).type;
          break;
        case "FUNC_PROTO": {
          const tp = tt as Extract<BtfType, { kind: "FUNC_PROTO" }>;
          if (lt.params.length !== tp.params.length) return false;
          for (let i = 0; i < lt.params.length; i++) {
            if (level <= 0) throw new MinCoreUnsupported("function prototypes nest too deep");
            const lp = skipMods(this.local, (lt.params[i] as { type: number }).type);
            const tpid = this.tSkip((tp.params[i] as { type: number }).type);
            if (!this.typesCompat(lp, tpid, level - 1)) return false;
          }
          lid = skipMods(this.local, lt.returnType);
          tid = this.tSkip(tp.returnType);
          break;
        }
        default:
          return false;
      }
    }
    throw new MinCoreUnsupported("types nest too deep");
  }

  /**
   * bpf_core_match_member: looks for the local accessor's member by name in
   * the target struct, anonymous members searched recursively. Returns where
   * it found it (the struct or anonymous struct that holds it, the index
   * there, its type) and whether the types are compatible; null when no
   * member has the name.
   */
  private matchMember(
    local: Accessor,
    targId: number,
    rawLen: { n: number },
  ): { owner: number; idx: number; type: number; compat: boolean } | null {
    const tid = this.tSkip(targId);
    const tt = this.target.type(tid);
    if (!isComposite(tt)) return null;
    const lt = this.local.type(local.typeId) as BtfComposite;
    const lm = lt.members[local.idx] as { name: string; type: number };
    for (let i = 0; i < tt.members.length; i++) {
      const m = tt.members[i] as { name: string; type: number };
      if (rawLen.n === SPEC_MAX_LEN) throw new MinCoreUnsupported("struct nesting too deep");
      rawLen.n++;
      if (m.name === "") {
        const found = this.matchMember(local, m.type, rawLen);
        if (found !== null) {
          this.keep.member(tid, i);
          return found;
        }
      } else if (m.name === lm.name) {
        this.keep.member(tid, i);
        return { owner: tid, idx: i, type: m.type, compat: this.fieldsCompat(lm.type, m.type) };
      }
      rawLen.n--;
    }
    return null;
  }

  /** bpf_core_spec_match for one candidate (field, type and enumerator relocations). */
  specMatch(spec: LocalSpec, candId: number): boolean {
    const k = spec.kind;
    if (k >= CORE_RELO_KIND.TYPE_ID_LOCAL && k <= CORE_RELO_KIND.TYPE_SIZE) {
      const ok = this.typesCompat(spec.rootId, candId, COMPAT_LEVELS);
      if (ok && k === CORE_RELO_KIND.TYPE_SIZE) this.keep.type(candId);
      return ok;
    }
    if (k === CORE_RELO_KIND.ENUMVAL_EXISTS || k === CORE_RELO_KIND.ENUMVAL_VALUE) {
      const tid = this.tSkip(candId);
      const tt = this.target.type(tid);
      if (tt.kind !== "ENUM" && tt.kind !== "ENUM64") return false;
      const want = essentialName((spec.spec[0] as Accessor).name as string);
      const i = tt.values.findIndex((v) => essentialName(v.name) === want);
      if (i < 0) return false;
      this.keep.enumerator(tid, i);
      return true;
    }
    // Field relocations: named members and array indexes, in turn.
    let targId = candId;
    const rawLen = { n: 0 };
    /** The previous accessor's member, when it was a named one (is_flex_arr looks at it). */
    let prevMember: { owner: number; idx: number } | undefined;
    for (let i = 0; i < spec.spec.length; i++) {
      const acc = spec.spec[i] as Accessor;
      targId = this.tSkip(targId);
      const tt = this.target.type(targId);
      if (acc.name !== undefined) {
        const found = this.matchMember(acc, targId, rawLen);
        if (found === null || !found.compat) return false;
        prevMember = { owner: found.owner, idx: found.idx };
        targId = found.type;
        continue;
      }
      if (i > 0) {
        if (tt.kind !== "ARRAY") return false;
        const flex =
          prevMember !== undefined &&
          tt.nelems === 0 &&
          prevMember.idx === (this.target.type(prevMember.owner) as BtfComposite).members.length - 1;
        if (!flex && acc.idx >= tt.nelems) return false;
        targId = this.tSkip(tt.type);
      }
      if (rawLen.n === SPEC_MAX_LEN) throw new MinCoreUnsupported("struct nesting too deep");
      rawLen.n++;
      if (resolveSize(this.target, targId) === undefined)
        throw new MinCoreUnsupported(`target type ${targId} has no size`);
      this.keep.type(targId);
      prevMember = undefined;
    }
    return true;
  }
}

/** Where the parts of raw BTF are (byte offsets in it), and its byte order. */
export interface RawBtfLayout {
  le: boolean;
  typeStart: number;
  typeEnd: number;
  strStart: number;
  strLen: number;
}

/** Reads raw BTF's header. */
export function rawBtfLayout(raw: Uint8Array): RawBtfLayout {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = dv.getUint16(0, true) === BTF_MAGIC;
  if (!le && dv.getUint16(0, false) !== BTF_MAGIC) throw new BtfError("bad BTF magic");
  const hdrLen = dv.getUint32(4, le);
  const typeStart = hdrLen + dv.getUint32(8, le);
  const strStart = hdrLen + dv.getUint32(16, le);
  const strLen = dv.getUint32(20, le);
  const typeEnd = typeStart + dv.getUint32(12, le);
  if (typeEnd > raw.byteLength || strStart + strLen > raw.byteLength)
    throw new BtfError("BTF sections run past the end of the data");
  return { le, typeStart, typeEnd, strStart, strLen };
}

/**
 * The target's names that carry a flavor ("nf_conn___init"), by essential
 * name: libbpf takes those as candidates too. Read off the raw string
 * section (a few dozen in the kernel's BTF).
 */
function flavoredNames(raw: Uint8Array, layout: RawBtfLayout): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const end = layout.strStart + layout.strLen;
  let at = buf.indexOf("___", layout.strStart);
  while (at >= 0 && at < end) {
    const s = buf.lastIndexOf(0, at) + 1;
    const e = buf.indexOf(0, at);
    const name = buf.toString("utf8", s, e < 0 ? end : e);
    const ess = essentialName(name);
    if (ess !== name) out.set(ess, [...(out.get(ess) ?? []), name]);
    if (e < 0) break;
    at = buf.indexOf("___", e);
  }
  return out;
}

/**
 * The ids of the types named each of `names`, lowest first, in one pass over
 * the type section: each name's offset is found in the string section (BTF's
 * strings are deduplicated; a few, searched natively), then the addon
 * compares every type's name offset with those (native/btf_scan.c says why
 * not here). Cheaper than a name index over 126,000 types for the dozen
 * names an object asks for.
 */
function typesNamed(raw: Uint8Array, layout: RawBtfLayout, names: Iterable<string>): Map<string, number[]> {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const strings = buf.subarray(layout.strStart, layout.strStart + layout.strLen);
  const offsets: number[] = [];
  const offsetNames: string[] = [];
  for (const name of names) {
    if (name === "") continue;
    const needle = Buffer.from(`\0${name}\0`, "utf8");
    for (let at = strings.indexOf(needle); at >= 0; at = strings.indexOf(needle, at + 1)) {
      offsets.push(at + 1);
      offsetNames.push(name);
    }
  }
  const out = new Map<string, number[]>();
  if (offsets.length === 0) return out;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const words = hostWords(dv, layout.typeStart, layout.typeEnd, layout.le);
  const pairs = native().btfTypesNamed(words, Uint32Array.from(offsets));
  if (pairs === null)
    throw new BtfError("BTF type section is malformed (a type of unknown kind, or past its end)");
  for (let i = 0; i < pairs.length; i += 2) {
    const name = offsetNames[pairs[i + 1] as number] as string;
    out.set(name, [...(out.get(name) ?? []), pairs[i] as number]);
  }
  return out;
}

/** Finds the target's types by name, for candidate searches. */
type NameLookup = (name: string) => number[];

/**
 * How to find candidates in the target for these local names: with the raw
 * BTF, one pass for all of them (and their flavored variants); without it,
 * the parsed BTF's name index.
 */
function nameLookup(
  target: Btf,
  targetRaw: Uint8Array | undefined,
  wanted: Set<string>,
): {
  lookup: NameLookup;
  flavored: Map<string, string[]>;
} {
  if (targetRaw === undefined) {
    const flavored = new Map<string, string[]>();
    for (const t of target.all()) {
      const ess = essentialName(t.name);
      if (ess !== t.name) flavored.set(ess, [...(flavored.get(ess) ?? []), t.name]);
    }
    return { lookup: (n) => target.findAllByName(n), flavored };
  }
  const layout = rawBtfLayout(targetRaw);
  const flavored = flavoredNames(targetRaw, layout);
  const all = new Set(wanted);
  for (const n of wanted) for (const f of flavored.get(n) ?? []) all.add(f);
  const found = typesNamed(targetRaw, layout, all);
  return { lookup: (n) => found.get(n) ?? [], flavored };
}

/** The target's candidates for a local type (bpf_core_add_cands): same essential name, compatible kind, in id order. */
function candidatesFor(
  local: Btf,
  localId: number,
  target: Btf,
  names: { lookup: NameLookup; flavored: Map<string, string[]> },
): number[] {
  const lt = local.type(localId);
  const ess = essentialName(lt.name);
  const ids = new Set<number>(names.lookup(ess));
  for (const name of new Set(names.flavored.get(ess) ?? [])) for (const id of names.lookup(name)) ids.add(id);
  return [...ids].sort((a, b) => a - b).filter((id) => kindCoreCompat(target.type(id), lt));
}

/** The result of {@link minimizeCoreBtf}. */
export interface MinCoreBtf {
  /** The raw BTF to pass as btf_custom_path. */
  raw: Uint8Array;
  /** Number of types in it (void excluded). */
  types: number;
  /** Number of relocations it serves (TYPE_ID_LOCAL ones need no target and are not counted). */
  relocations: number;
  /**
   * "kind name" of each local type with no candidate in the target: libbpf,
   * given the kernel's BTF, would look for those in the kernel modules' BTF
   * too (and with a custom BTF it does not), so a caller must check the
   * modules before using this BTF.
   */
  unresolved: Array<{ kind: string; name: string }>;
}

/** The long integer libbpf guesses the pointer size from (btf_ptr_sz). */
const LONG_NAMES = new Set([
  "long",
  "long int",
  "int long",
  "unsigned long",
  "long unsigned",
  "unsigned long int",
  "unsigned int long",
  "long unsigned int",
  "long int unsigned",
  "int unsigned long",
  "int long unsigned",
]);

/**
 * The minimized target BTF for an object's CO-RE relocations (see the
 * module's comment). `local` is the object's BTF, `target` the kernel's.
 * Throws {@link MinCoreUnsupported} for a relocation it cannot reproduce.
 */
export function minimizeCoreBtf(
  local: Btf,
  relos: readonly CoreRelo[],
  target: Btf,
  targetRaw?: Uint8Array,
): MinCoreBtf {
  const wanted = new Set<string>(LONG_NAMES);
  for (const r of relos)
    if (r.typeId > 0 && r.typeId < local.count) wanted.add(essentialName(local.type(r.typeId).name));
  const names = nameLookup(target, targetRaw, wanted);
  const keep = new Keep(target);
  const matcher = new Matcher(local, target, keep);
  const unresolved = new Map<string, { kind: string; name: string }>();
  let relocations = 0;
  for (const relo of relos) {
    const kind = relo.kind;
    if (kind === CORE_RELO_KIND.TYPE_ID_LOCAL) continue;
    if (kind === CORE_RELO_KIND.TYPE_ID_TARGET)
      throw new MinCoreUnsupported(
        "a TYPE_ID_TARGET relocation (bpf_core_type_id_kernel) needs the kernel's type ids",
      );
    if (kind === CORE_RELO_KIND.TYPE_MATCHES)
      throw new MinCoreUnsupported("a TYPE_MATCHES relocation (bpf_core_type_matches) compares whole types");
    if (!KIND_NAMES.has(kind)) throw new MinCoreUnsupported(`unknown CO-RE relocation kind ${kind}`);
    if (relo.typeId <= 0 || relo.typeId >= local.count)
      throw new MinCoreUnsupported(`relocation of unknown local type ${relo.typeId}`);
    const lt = local.type(relo.typeId);
    if (lt.name === "")
      throw new MinCoreUnsupported(`relocation ${coreReloKindName(kind)} of an anonymous type`);
    const spec = parseLocalSpec(local, relo);
    const cands = candidatesFor(local, relo.typeId, target, names);
    if (cands.length === 0)
      unresolved.set(`${lt.kind} ${essentialName(lt.name)}`, { kind: lt.kind, name: essentialName(lt.name) });
    // Every candidate, matching or not: libbpf looks at all of them, and what it looked at must be there.
    for (const cand of cands) {
      keep.type(cand);
      matcher.specMatch(spec, cand);
    }
    relocations++;
  }
  keepFlexLastness(target, keep);
  const long = [...LONG_NAMES]
    .flatMap((n) => names.lookup(n))
    .filter((id) => {
      const t = target.type(id);
      return t.kind === "INT" && (t.size === 4 || t.size === 8);
    })
    .sort((a, b) => a - b)[0];
  if (long !== undefined) keep.type(long);
  const { raw, types } = emit(target, keep);
  return { raw, types, relocations, unresolved: [...unresolved.values()] };
}

/**
 * A kept zero-length array member is a flexible array to libbpf only when it
 * is its struct's last member: keep the struct's real last member after one
 * that is not.
 */
function keepFlexLastness(target: Btf, keep: Keep): void {
  for (const [id, members] of [...keep.types]) {
    const t = target.type(id);
    if (!isComposite(t) || members.size === 0) continue;
    const last = t.members.length - 1;
    if (members.has(last)) continue;
    for (const i of members) {
      const mt = target.type(skipMods(target, (t.members[i] as { type: number }).type));
      if (mt.kind === "ARRAY" && mt.nelems === 0) {
        keep.member(id, last);
        break;
      }
    }
  }
}

/** Writes the kept types, renumbered in the target's id order. */
function emit(target: Btf, keep: Keep): { raw: Uint8Array; types: number } {
  const ids = [...keep.types.keys()].sort((a, b) => a - b);
  const newId = new Map<number, number>([[0, 0]]);
  for (const [i, id] of ids.entries()) newId.set(id, i + 1);
  const map = (id: number): number => {
    const n = newId.get(id);
    if (n === undefined) throw new BtfError(`minimized BTF: type ${id} is referenced but was not kept`);
    return n;
  };
  const out: BtfType[] = [{ id: 0, name: "", kind: "VOID" }];
  for (const id of ids) {
    const t = target.type(id);
    const nid = out.length;
    const picked = keep.types.get(id) as Set<number>;
    switch (t.kind) {
      case "PTR":
        out.push({ ...t, id: nid, type: keep.deepPointers.has(id) || newId.has(t.type) ? map(t.type) : 0 });
        break;
      case "TYPEDEF":
      case "CONST":
      case "VOLATILE":
      case "RESTRICT":
      case "TYPE_TAG":
      case "FUNC":
      case "VAR":
      case "DECL_TAG":
        out.push({ ...t, id: nid, type: map(t.type) });
        break;
      case "ARRAY":
        out.push({ ...t, id: nid, type: map(t.type), indexType: map(t.indexType) });
        break;
      case "STRUCT":
      case "UNION":
        out.push({
          ...t,
          id: nid,
          members: t.members.filter((_, i) => picked.has(i)).map((m) => ({ ...m, type: map(m.type) })),
        });
        break;
      case "ENUM":
        out.push({ ...t, id: nid, values: t.values.filter((_, i) => picked.has(i)) });
        break;
      case "ENUM64":
        out.push({ ...t, id: nid, values: t.values.filter((_, i) => picked.has(i)) });
        break;
      case "FUNC_PROTO":
        out.push({
          ...t,
          id: nid,
          returnType: map(t.returnType),
          params: t.params.map((p) => ({ ...p, type: map(p.type) })),
        });
        break;
      case "DATASEC":
        out.push({ ...t, id: nid, vars: [] });
        break;
      default:
        out.push({ ...t, id: nid } as BtfType);
    }
  }
  return { raw: encodeBtf(out, target.littleEndian), types: ids.length };
}
