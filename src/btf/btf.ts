/**
 * A parser of raw BTF (the `.BTF` section of a BPF object, or a kernel's
 * /sys/kernel/btf/vmlinux) and a few queries over it: names, sizes,
 * alignment, C spelling, DATASEC variables and libbpf's BTF-defined maps.
 *
 * Layout reference: include/uapi/linux/btf.h and
 * Documentation/bpf/btf.rst in the kernel tree.
 */
import { isAscii } from "node:buffer";
import { BtfError } from "../kernel/errors.js";
import { native } from "../native.js";

/** The BTF kind numbers (BTF_KIND_* in include/uapi/linux/btf.h); VOID is type id 0. */
export const BTF_KIND = {
  VOID: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

/** A BTF kind by name ("STRUCT", "INT", ...). */
export type BtfKind = keyof typeof BTF_KIND;

const KIND_NAMES: BtfKind[] = (Object.keys(BTF_KIND) as BtfKind[]).sort((a, b) => BTF_KIND[a] - BTF_KIND[b]);

/** The BTF magic number, as read in the file's own byte order. */
export const BTF_MAGIC = 0xeb9f;

/** Size in bytes of a pointer in BPF programs (BTF has no pointer size of its own). */
export const BTF_PTR_SIZE = 8;

/** Fields every BTF type has. */
export interface BtfTypeBase {
  /** The type id (index in the type section, 1-based; 0 is void). */
  id: number;
  /** The type's name; "" when anonymous. */
  name: string;
}

/** Type id 0: `void`. */
export interface BtfVoid extends BtfTypeBase {
  kind: "VOID";
}

/** BTF_KIND_INT: an integer, `char` or `_Bool`. */
export interface BtfInt extends BtfTypeBase {
  kind: "INT";
  /** Storage size in bytes (1, 2, 4, 8 or 16). */
  size: number;
  /** BTF_INT_SIGNED. */
  signed: boolean;
  /** BTF_INT_CHAR (clang usually leaves it unset for `char`; match the name instead). */
  char: boolean;
  /** BTF_INT_BOOL. */
  bool: boolean;
  /** Number of value bits (normally size * 8). */
  bits: number;
  /** Bit offset of the value inside its storage (normally 0). */
  bitOffset: number;
}

/** BTF_KIND_PTR. */
export interface BtfPtr extends BtfTypeBase {
  kind: "PTR";
  /** Pointee type id (0: `void *`). */
  type: number;
}

/** BTF_KIND_ARRAY. */
export interface BtfArray extends BtfTypeBase {
  kind: "ARRAY";
  /** Element type id. */
  type: number;
  /** Index type id (an INT). */
  indexType: number;
  /** Number of elements (0 for a flexible array member). */
  nelems: number;
}

/** One member of a struct or union. */
export interface BtfMember {
  /** Member name; "" for an anonymous struct/union member or an unnamed bitfield. */
  name: string;
  /** Member type id. */
  type: number;
  /** Offset in bits from the start of the enclosing struct/union. */
  bitOffset: number;
  /** Bitfield width in bits, 0 when the member is not a bitfield. */
  bitfieldSize: number;
}

/** BTF_KIND_STRUCT or BTF_KIND_UNION. */
export interface BtfComposite extends BtfTypeBase {
  kind: "STRUCT" | "UNION";
  /** Size in bytes. */
  size: number;
  members: BtfMember[];
}

/** One enumerator of an ENUM. */
export interface BtfEnumValue {
  name: string;
  value: number;
}

/** BTF_KIND_ENUM (values fit in 32 bits). */
export interface BtfEnum extends BtfTypeBase {
  kind: "ENUM";
  /** Size in bytes. */
  size: number;
  /** kind_flag: the values are signed (only set by LLVM 15 and later; older BTF leaves it 0). */
  signed: boolean;
  values: BtfEnumValue[];
}

/** One enumerator of an ENUM64. */
export interface BtfEnum64Value {
  name: string;
  value: bigint;
}

/** BTF_KIND_ENUM64. */
export interface BtfEnum64 extends BtfTypeBase {
  kind: "ENUM64";
  /** Size in bytes. */
  size: number;
  /** kind_flag: the values are signed. */
  signed: boolean;
  values: BtfEnum64Value[];
}

/** BTF_KIND_FWD: `struct x;` or `union x;` without a body. */
export interface BtfFwd extends BtfTypeBase {
  kind: "FWD";
  /** kind_flag: a forward union (otherwise a struct). */
  union: boolean;
}

/** A type that only names, qualifies or tags another one. */
export interface BtfModifier extends BtfTypeBase {
  kind: "TYPEDEF" | "VOLATILE" | "CONST" | "RESTRICT" | "TYPE_TAG";
  /** The modified type id. */
  type: number;
}

/** BTF_KIND_FUNC: a function (name + FUNC_PROTO). */
export interface BtfFunc extends BtfTypeBase {
  kind: "FUNC";
  /** The FUNC_PROTO type id. */
  type: number;
  /** 0 static, 1 global, 2 extern. */
  linkage: number;
}

/** One parameter of a FUNC_PROTO. */
export interface BtfParam {
  /** Parameter name; "" when unknown (or for the `...` marker). */
  name: string;
  /** Parameter type id; 0 with name "" on the last parameter means `...`. */
  type: number;
}

/** BTF_KIND_FUNC_PROTO: a function signature. */
export interface BtfFuncProto extends BtfTypeBase {
  kind: "FUNC_PROTO";
  /** Return type id (0: void). */
  returnType: number;
  params: BtfParam[];
}

/** BTF_KIND_VAR: a global variable. */
export interface BtfVar extends BtfTypeBase {
  kind: "VAR";
  /** The variable's type id. */
  type: number;
  /** 0 static, 1 global (allocated), 2 extern. */
  linkage: number;
}

/** One variable of a DATASEC. */
export interface BtfVarSecinfo {
  /** The VAR type id. */
  type: number;
  /** Offset in bytes inside the section. */
  offset: number;
  /** Size in bytes. */
  size: number;
}

/** BTF_KIND_DATASEC: an ELF data section (.bss, .data, .rodata, .maps, ...). */
export interface BtfDatasec extends BtfTypeBase {
  kind: "DATASEC";
  /** Section size in bytes. */
  size: number;
  vars: BtfVarSecinfo[];
}

/** BTF_KIND_FLOAT. */
export interface BtfFloat extends BtfTypeBase {
  kind: "FLOAT";
  /** Size in bytes (2, 4, 8, 12 or 16). */
  size: number;
}

/** BTF_KIND_DECL_TAG: `__attribute__((btf_decl_tag("name")))` on a declaration. */
export interface BtfDeclTag extends BtfTypeBase {
  kind: "DECL_TAG";
  /** The tagged type id (a STRUCT, UNION, VAR, FUNC or TYPEDEF). */
  type: number;
  /** -1 for the declaration itself, else the member or parameter index. */
  componentIdx: number;
}

/** Any BTF type. */
export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfEnum64
  | BtfFwd
  | BtfModifier
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;

/** A variable of a DATASEC, as {@link Btf.datasecVars} returns it. */
export interface DatasecVar {
  /** The variable's name. */
  name: string;
  /** The VAR type id. */
  varId: number;
  /** The variable's type id (what the VAR points to). */
  typeId: number;
  /** Offset in bytes inside the section. */
  offset: number;
  /** Size in bytes. */
  size: number;
  /** 0 static, 1 global, 2 extern. */
  linkage: number;
}

const HEADER_MIN = 24;
const MAX_CHAIN = 64;

/** Kinds that {@link Btf.resolve} looks through. */
const TRANSPARENT = new Set<BtfKind>(["TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"]);

/** The sections of raw BTF, checked: where the types and strings are, and the byte order. */
interface BtfSections {
  dv: DataView;
  le: boolean;
  /** Byte offsets (in `dv`) of the type section's start and end. */
  typeStart: number;
  typeEnd: number;
  /** The string section. */
  strings: Uint8Array;
}

/** Reads and checks raw BTF's header (a {@link BtfError} for anything malformed). */
function sections(raw: Uint8Array): BtfSections {
  if (raw.byteLength < HEADER_MIN) throw new BtfError(`BTF too short: ${raw.byteLength} bytes`);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let le: boolean;
  if (dv.getUint16(0, true) === BTF_MAGIC) le = true;
  else if (dv.getUint16(0, false) === BTF_MAGIC) le = false;
  else {
    throw new BtfError(`bad BTF magic 0x${dv.getUint16(0, true).toString(16)} (expected 0xeb9f)`);
  }
  const version = dv.getUint8(2);
  if (version !== 1) throw new BtfError(`unsupported BTF version ${version}`);
  const hdrLen = dv.getUint32(4, le);
  if (hdrLen < HEADER_MIN || hdrLen > raw.byteLength) throw new BtfError(`bad BTF header length ${hdrLen}`);
  const typeOff = dv.getUint32(8, le);
  const typeLen = dv.getUint32(12, le);
  const strOff = dv.getUint32(16, le);
  const strLen = dv.getUint32(20, le);
  const body = raw.byteLength - hdrLen;
  if (typeOff + typeLen > body) throw new BtfError("BTF type section runs past the end of the data");
  if (strOff + strLen > body) throw new BtfError("BTF string section runs past the end of the data");
  if (typeOff % 4 !== 0) throw new BtfError("BTF type section is not 4-byte aligned");
  const strBase = hdrLen + strOff;
  return {
    dv,
    le,
    typeStart: hdrLen + typeOff,
    typeEnd: hdrLen + typeOff + typeLen,
    strings: raw.subarray(strBase, strBase + strLen),
  };
}

/** Parsed BTF. Build one with {@link Btf.parse}; all queries take type ids. */
export class Btf {
  /** true when the BTF (and so the target's data) is little-endian. */
  readonly littleEndian: boolean;
  /** The types by id; in a lazily read BTF ({@link Btf.parseLazy}), those decoded so far. */
  private readonly types: BtfType[];
  private byName: Map<string, number[]> | undefined;
  /** A lazily read BTF's raw types and name index (undefined: every type is in `types`). */
  private readonly lazy: LazyTypes | undefined;
  /** Enumerator name → the first enum (lowest id) that has it, and its value (an eagerly parsed BTF's). */
  private enumerators: Map<string, { enumId: number; value: number | bigint }> | undefined;

  private constructor(types: BtfType[], littleEndian: boolean, lazy?: LazyTypes) {
    this.types = types;
    this.littleEndian = littleEndian;
    this.lazy = lazy;
  }

  /**
   * Parses raw BTF: a header, a type section and a string section. Both byte
   * orders are accepted (the magic tells which); anything malformed throws a
   * {@link BtfError}.
   */
  static parse(raw: Uint8Array): Btf {
    const { dv, le, typeStart, typeEnd, strings } = sections(raw);
    const types = parseTypes(dv, typeStart, typeEnd, le, new Strings(strings));
    const btf = new Btf(types, le);
    btf.validate();
    return btf;
  }

  /**
   * Reads raw BTF for lookups by name, decoding a type only when it is asked
   * for: one pass over the type section finds where each type is, without
   * making the objects, and names are looked up in the raw bytes. The
   * kernel's BTF (~126,000 types) is ready for {@link Btf.findAllByName},
   * {@link Btf.findEnumerator} and {@link Btf.hasName} in a few
   * milliseconds, where a full {@link Btf.parse} takes ~150;
   * {@link Btf.all} decodes everything.
   *
   * The layout is checked as for {@link Btf.parse} (the header, each type's
   * extent and kind); a name offset is checked when it is decoded or
   * indexed, and a reference to a missing type id when it is followed
   * ({@link Btf.type} throws a {@link BtfError}). For BTF from a trusted
   * producer: the kernel's.
   */
  static parseLazy(raw: Uint8Array): Btf {
    const s = sections(raw);
    const lazy = new LazyTypes(s);
    const types: BtfType[] = [{ id: 0, name: "", kind: "VOID" }];
    return new Btf(types, s.le, lazy);
  }

  /** Number of type ids, counting void (id 0): valid ids are 0 .. count - 1. */
  get count(): number {
    return this.lazy ? this.lazy.count : this.types.length;
  }

  /** Every type in id order, starting with void. */
  *all(): IterableIterator<BtfType> {
    if (!this.lazy) {
      yield* this.types;
      return;
    }
    yield this.type(0);
    // in order, each type's start from the one before's (type 1 starts the section)
    const lazy = this.lazy;
    for (let id = 1, off = 0; id < lazy.count; id++, off = lazy.after(off)) {
      let t = this.types[id];
      if (t === undefined) {
        t = lazy.decode(id, off);
        this.types[id] = t;
      }
      yield t;
    }
  }

  /** The type with this id; throws a {@link BtfError} for an unknown id. */
  type(id: number): BtfType {
    const t = this.types[id];
    if (t !== undefined) return t;
    if (this.lazy && Number.isInteger(id) && id > 0 && id < this.lazy.count) {
      const decoded = this.lazy.decode(id);
      this.types[id] = decoded;
      return decoded;
    }
    throw new BtfError(`no BTF type with id ${id} (there are ${this.count})`);
  }

  /**
   * The id of the first type (lowest id) with this name, of this kind when
   * given; undefined when there is none. `typedef struct x {...} x;` has two
   * types named "x": pass the kind to pick one.
   */
  findByName(name: string, kind?: BtfKind): number | undefined {
    return this.findAllByName(name, kind)[0];
  }

  /** The ids of every type with this name (of this kind when given), lowest first. */
  findAllByName(name: string, kind?: BtfKind): number[] {
    if (this.lazy) {
      const ids = this.lazy.typesNamed(name);
      return kind === undefined ? ids : ids.filter((id) => this.lazy?.kindOf(id) === kind);
    }
    if (this.byName === undefined) {
      const m = new Map<string, number[]>();
      for (const t of this.types) {
        if (t.name === "") continue;
        const list = m.get(t.name);
        if (list === undefined) m.set(t.name, [t.id]);
        else list.push(t.id);
      }
      this.byName = m;
    }
    const ids = this.byName.get(name) ?? [];
    return kind === undefined ? ids.slice() : ids.filter((id) => this.type(id).kind === kind);
  }

  /**
   * The first enumerator named `name` (in the enum of lowest id, its first
   * value of that name): the enum's id and the value; undefined when no
   * ENUM or ENUM64 has it.
   */
  findEnumerator(name: string): { enumId: number; value: number | bigint } | undefined {
    if (this.lazy) return this.lazy.enumerator(name);
    if (this.enumerators === undefined) {
      const m = new Map<string, { enumId: number; value: number | bigint }>();
      for (const t of this.types) {
        if (t.kind !== "ENUM" && t.kind !== "ENUM64") continue;
        for (const v of (t as BtfEnum | BtfEnum64).values)
          if (!m.has(v.name)) m.set(v.name, { enumId: t.id, value: v.value });
      }
      this.enumerators = m;
    }
    return this.enumerators.get(name);
  }

  /** True when a type (of any kind) or an enumerator has this name: what C code would clash with. */
  hasName(name: string): boolean {
    if (name === "") return false;
    if (this.lazy) return this.lazy.hasName(name);
    return this.findAllByName(name).length > 0 || this.findEnumerator(name) !== undefined;
  }

  /** Follows TYPEDEF, CONST, VOLATILE, RESTRICT and TYPE_TAG to the underlying type id. */
  resolve(id: number): number {
    let cur = id;
    for (let i = 0; i < MAX_CHAIN; i++) {
      const t = this.type(cur);
      if (!TRANSPARENT.has(t.kind)) return cur;
      cur = (t as BtfModifier).type;
    }
    throw new BtfError(`type chain from id ${id} is longer than ${MAX_CHAIN} (a loop?)`);
  }

  /** The type's name ("" when anonymous). */
  name(id: number): string {
    return this.type(id).name;
  }

  /** Size in bytes of a value of this type; throws for void, functions and forward declarations. */
  sizeOf(id: number): number {
    return this.sizeOfDepth(id, 0);
  }

  private sizeOfDepth(id: number, depth: number): number {
    if (depth > MAX_CHAIN) throw new BtfError(`type ${id} nests deeper than ${MAX_CHAIN} (a loop?)`);
    const t = this.type(id);
    switch (t.kind) {
      case "INT":
      case "ENUM":
      case "ENUM64":
      case "STRUCT":
      case "UNION":
      case "FLOAT":
      case "DATASEC":
        return t.size;
      case "PTR":
        return BTF_PTR_SIZE;
      case "ARRAY":
        return t.nelems === 0 ? 0 : t.nelems * this.sizeOfDepth(t.type, depth + 1);
      case "TYPEDEF":
      case "CONST":
      case "VOLATILE":
      case "RESTRICT":
      case "TYPE_TAG":
      case "VAR":
        return this.sizeOfDepth(t.type, depth + 1);
      default:
        throw new BtfError(`type ${this.cName(id)} (id ${id}, ${t.kind}) has no size`);
    }
  }

  /**
   * Alignment in bytes of this type, as libbpf computes it: scalars align to
   * their size (at most 8), a struct to its strictest member, and a struct
   * whose layout shows it was packed to 1.
   */
  alignOf(id: number): number {
    return this.alignOfDepth(id, 0);
  }

  private alignOfDepth(id: number, depth: number): number {
    if (depth > MAX_CHAIN) throw new BtfError(`type ${id} nests deeper than ${MAX_CHAIN} (a loop?)`);
    const t = this.type(id);
    switch (t.kind) {
      case "INT":
      case "ENUM":
      case "ENUM64":
      case "FLOAT":
        return Math.max(1, Math.min(t.size, BTF_PTR_SIZE));
      case "PTR":
        return BTF_PTR_SIZE;
      case "ARRAY":
        return this.alignOfDepth(t.type, depth + 1);
      case "TYPEDEF":
      case "CONST":
      case "VOLATILE":
      case "RESTRICT":
      case "TYPE_TAG":
      case "VAR":
        return this.alignOfDepth(t.type, depth + 1);
      case "STRUCT":
      case "UNION": {
        let align = 1;
        for (const m of t.members) {
          const a = this.alignOfDepth(m.type, depth + 1);
          // A member off its natural alignment means the struct is packed.
          if (m.bitfieldSize === 0 && (m.bitOffset / 8) % a !== 0) return 1;
          align = Math.max(align, a);
        }
        return t.size % align === 0 ? align : 1;
      }
      default:
        throw new BtfError(`type ${this.cName(id)} (id ${id}, ${t.kind}) has no alignment`);
    }
  }

  /**
   * The C spelling of a type: "unsigned int", "struct data_t", "char[16]",
   * "const char *", "int (*)(void *)". A VAR or FUNC is spelled as its
   * declaration ("unsigned int counter", "int handler(void *)").
   */
  cName(id: number): string {
    const t = this.type(id);
    if (t.kind === "VAR") return this.cDecl(t.type, t.name, 0);
    if (t.kind === "FUNC") return this.cDecl(t.type, t.name, 0);
    return this.cDecl(id, "", 0);
  }

  private cDecl(id: number, inner: string, depth: number): string {
    if (depth > MAX_CHAIN) return `<loop at id ${id}>`;
    const t = this.type(id);
    const d = depth + 1;
    switch (t.kind) {
      case "VOID":
        return joinDecl("void", inner);
      case "INT":
      case "FLOAT":
      case "TYPEDEF":
        return joinDecl(t.name, inner);
      case "STRUCT":
        return joinDecl(`struct ${t.name || "(anon)"}`, inner);
      case "UNION":
        return joinDecl(`union ${t.name || "(anon)"}`, inner);
      case "ENUM":
      case "ENUM64":
        return joinDecl(`enum ${t.name || "(anon)"}`, inner);
      case "FWD":
        return joinDecl(`${t.union ? "union" : "struct"} ${t.name}`, inner);
      case "CONST":
      case "VOLATILE":
      case "RESTRICT": {
        const q = t.kind.toLowerCase();
        // A qualified pointer is spelled after the star: "char *const p".
        if (this.type(t.type).kind === "PTR")
          return this.cDecl(t.type, inner === "" ? q : `${q} ${inner}`, d);
        return `${q} ${this.cDecl(t.type, inner, d)}`;
      }
      case "TYPE_TAG":
      case "DECL_TAG":
        return this.cDecl(t.type, inner, d);
      case "PTR": {
        let decl = `*${inner}`;
        const target = this.type(this.skipQualifiers(t.type));
        if (target.kind === "ARRAY" || target.kind === "FUNC_PROTO") decl = `(${decl})`;
        return this.cDecl(t.type, decl, d);
      }
      case "ARRAY":
        return this.cDecl(t.type, `${inner}[${t.nelems}]`, d);
      case "FUNC_PROTO": {
        const params = t.params.map((p, i) =>
          p.type === 0 && p.name === "" && i === t.params.length - 1 ? "..." : this.cDecl(p.type, "", d),
        );
        return this.cDecl(t.returnType, `${inner}(${params.length === 0 ? "void" : params.join(", ")})`, d);
      }
      case "FUNC":
      case "VAR":
        return this.cDecl(t.type, inner === "" ? t.name : inner, d);
      case "DATASEC":
        return joinDecl(t.name, inner);
    }
  }

  private skipQualifiers(id: number): number {
    let cur = id;
    for (let i = 0; i < MAX_CHAIN; i++) {
      const t = this.type(cur);
      if (t.kind !== "CONST" && t.kind !== "VOLATILE" && t.kind !== "RESTRICT" && t.kind !== "TYPE_TAG") {
        return cur;
      }
      cur = t.type;
    }
    return cur;
  }

  /**
   * The variables of a DATASEC (".bss", ".data", ".rodata", ".maps", ...) in
   * section order, with offset, size and type. Empty when the object has no
   * such section.
   */
  datasecVars(section: string): DatasecVar[] {
    const id = this.findByName(section, "DATASEC");
    if (id === undefined) return [];
    const sec = this.type(id) as BtfDatasec;
    return sec.vars.map((v) => {
      const vt = this.type(v.type);
      if (vt.kind !== "VAR") {
        // DATASECs may also list FUNCs (extern ksyms); report them with their FUNC_PROTO.
        const typeId = vt.kind === "FUNC" ? vt.type : v.type;
        return { name: vt.name, varId: v.type, typeId, offset: v.offset, size: v.size, linkage: 0 };
      }
      return {
        name: vt.name,
        varId: v.type,
        typeId: vt.type,
        offset: v.offset,
        size: v.size,
        linkage: vt.linkage,
      };
    });
  }

  /** Checks that every referenced type id exists. */
  private validate(): void {
    const n = this.types.length;
    const check = (from: BtfType, ref: number) => {
      if (ref < 0 || ref >= n)
        throw new BtfError(`BTF type ${from.id} (${from.kind}) refers to missing type ${ref}`);
    };
    for (const t of this.types) {
      switch (t.kind) {
        case "PTR":
        case "TYPEDEF":
        case "CONST":
        case "VOLATILE":
        case "RESTRICT":
        case "TYPE_TAG":
        case "FUNC":
        case "VAR":
        case "DECL_TAG":
          check(t, t.type);
          break;
        case "ARRAY":
          check(t, t.type);
          check(t, t.indexType);
          break;
        case "STRUCT":
        case "UNION":
          for (const m of t.members) check(t, m.type);
          break;
        case "FUNC_PROTO":
          check(t, t.returnType);
          for (const p of t.params) check(t, p.type);
          break;
        case "DATASEC":
          for (const v of t.vars) check(t, v.type);
          break;
        default:
          break;
      }
    }
  }
}

function joinDecl(base: string, inner: string): string {
  if (inner === "") return base;
  if (inner.startsWith("[")) return base + inner;
  return `${base} ${inner}`;
}

/** The string section: NUL-terminated UTF-8 strings addressed by byte offset. */
class Strings {
  private readonly cache = new Map<number, string>();
  /** The whole section as one string when it is pure ASCII (byte offsets are then indexes). */
  private readonly ascii: string | undefined;
  private static readonly decoder = new TextDecoder("utf-8");

  /**
   * `whole`: for a full parse, which reads every name: the section is
   * decoded once, as one string, when it is ASCII. A lazily read BTF
   * (LazyTypes) reads a few hundred names of the kernel's ~2 MB: each is
   * decoded when asked for, since the whole section as a string cost a
   * tool's first start 2.2 MB of heap for them (Linux 6.18's BTF).
   */
  constructor(
    private readonly bytes: Uint8Array,
    whole = true,
  ) {
    // (Node's native check: a loop over the kernel's ~2 MB of names here was
    // the start's first function hot enough for V8's optimizing compiler)
    this.ascii = whole && isAscii(bytes) ? Strings.decoder.decode(bytes) : undefined;
  }

  get(off: number): string {
    if (off === 0) return "";
    if (off >= this.bytes.length) throw new BtfError(`BTF string offset ${off} is past the string section`);
    if (this.ascii !== undefined) {
      const end = this.ascii.indexOf("\0", off);
      if (end < 0) throw new BtfError(`BTF string at offset ${off} is not NUL-terminated`);
      return this.ascii.slice(off, end);
    }
    const hit = this.cache.get(off);
    if (hit !== undefined) return hit;
    const end = this.bytes.indexOf(0, off);
    if (end < 0) throw new BtfError(`BTF string at offset ${off} is not NUL-terminated`);
    const s = Strings.decoder.decode(this.bytes.subarray(off, end));
    this.cache.set(off, s);
    return s;
  }
}

/** What a truncated type section ends inside, for the error. */
function partName(kind: BtfKind, name: string): string {
  switch (kind) {
    case "INT":
      return "an INT";
    case "ARRAY":
      return "an ARRAY";
    case "STRUCT":
    case "UNION":
      return `the members of ${kind.toLowerCase()} ${name}`;
    case "ENUM":
    case "ENUM64":
      return `the values of enum ${name}`;
    case "FUNC_PROTO":
      return "the parameters of a FUNC_PROTO";
    case "VAR":
      return "a VAR";
    case "DATASEC":
      return `the variables of section ${name}`;
    case "DECL_TAG":
      return "a DECL_TAG";
    default:
      return `a ${kind}`;
  }
}

/**
 * Checks the type at `p` (its header, kind and extent) and returns where the
 * next one starts; throws a {@link BtfError} for an unknown kind or a type
 * that runs past `end`.
 */
function typeEnd(dv: DataView, p: number, end: number, le: boolean, id: number, strings: Strings): number {
  if (p + 12 > end) throw new BtfError(`BTF type section ends inside a type header (type ${id})`);
  const info = dv.getUint32(p + 4, le);
  const kindNo = (info >>> 24) & 0x1f;
  const kind = KIND_NAMES[kindNo];
  let extra = -1;
  try {
    extra = btfTypeExtraBytes(kindNo, info & 0xffff);
  } catch {
    // (said below with the type's id)
  }
  if (extra < 0 || kind === undefined) throw new BtfError(`unknown BTF kind ${kindNo} (type ${id})`);
  if (p + 12 + extra > end)
    throw new BtfError(
      `BTF type section ends inside ${partName(kind, strings.get(dv.getUint32(p, le)))} (type ${id})`,
    );
  return p + 12 + extra;
}

/** Decodes the type at `p` (its extent already checked by {@link typeEnd}). */
function readType(dv: DataView, p: number, le: boolean, strings: Strings, id: number): BtfType {
  const name = strings.get(dv.getUint32(p, le));
  const info = dv.getUint32(p + 4, le);
  const sizeOrType = dv.getUint32(p + 8, le);
  p += 12;
  const vlen = info & 0xffff;
  const kflag = info >>> 31 === 1;
  const kind = KIND_NAMES[(info >>> 24) & 0x1f] as Exclude<BtfKind, "VOID">;
  switch (kind) {
    case "INT": {
      const enc = dv.getUint32(p, le);
      const encoding = (enc >>> 24) & 0x0f;
      return {
        id,
        name,
        kind,
        size: sizeOrType,
        signed: (encoding & 1) !== 0,
        char: (encoding & 2) !== 0,
        bool: (encoding & 4) !== 0,
        bits: enc & 0xff,
        bitOffset: (enc >>> 16) & 0xff,
      };
    }
    case "PTR":
    case "TYPEDEF":
    case "VOLATILE":
    case "CONST":
    case "RESTRICT":
    case "TYPE_TAG":
      return { id, name, kind, type: sizeOrType };
    case "ARRAY":
      return {
        id,
        name,
        kind,
        type: dv.getUint32(p, le),
        indexType: dv.getUint32(p + 4, le),
        nelems: dv.getUint32(p + 8, le),
      };
    case "STRUCT":
    case "UNION": {
      const members: BtfMember[] = [];
      for (let i = 0; i < vlen; i++, p += 12) {
        const off = dv.getUint32(p + 8, le);
        members.push({
          name: strings.get(dv.getUint32(p, le)),
          type: dv.getUint32(p + 4, le),
          bitOffset: kflag ? off & 0xffffff : off,
          bitfieldSize: kflag ? off >>> 24 : 0,
        });
      }
      return { id, name, kind, size: sizeOrType, members };
    }
    case "ENUM": {
      const values: BtfEnumValue[] = [];
      for (let i = 0; i < vlen; i++, p += 8) {
        values.push({
          name: strings.get(dv.getUint32(p, le)),
          value: kflag ? dv.getInt32(p + 4, le) : dv.getUint32(p + 4, le),
        });
      }
      return { id, name, kind, size: sizeOrType, signed: kflag, values };
    }
    case "ENUM64": {
      const values: BtfEnum64Value[] = [];
      for (let i = 0; i < vlen; i++, p += 12) {
        const v = (BigInt(dv.getUint32(p + 8, le)) << 32n) | BigInt(dv.getUint32(p + 4, le));
        values.push({ name: strings.get(dv.getUint32(p, le)), value: kflag ? BigInt.asIntN(64, v) : v });
      }
      return { id, name, kind, size: sizeOrType, signed: kflag, values };
    }
    case "FWD":
      return { id, name, kind, union: kflag };
    case "FUNC":
      return { id, name, kind, type: sizeOrType, linkage: vlen };
    case "FUNC_PROTO": {
      const params: BtfParam[] = [];
      for (let i = 0; i < vlen; i++, p += 8)
        params.push({ name: strings.get(dv.getUint32(p, le)), type: dv.getUint32(p + 4, le) });
      return { id, name, kind, returnType: sizeOrType, params };
    }
    case "VAR":
      return { id, name, kind, type: sizeOrType, linkage: dv.getUint32(p, le) };
    case "DATASEC": {
      const vars: BtfVarSecinfo[] = [];
      for (let i = 0; i < vlen; i++, p += 12)
        vars.push({
          type: dv.getUint32(p, le),
          offset: dv.getUint32(p + 4, le),
          size: dv.getUint32(p + 8, le),
        });
      return { id, name, kind, size: sizeOrType, vars };
    }
    case "FLOAT":
      return { id, name, kind, size: sizeOrType };
    case "DECL_TAG":
      return { id, name, kind, type: sizeOrType, componentIdx: dv.getInt32(p, le) };
  }
}

function parseTypes(dv: DataView, start: number, end: number, le: boolean, strings: Strings): BtfType[] {
  const types: BtfType[] = [{ id: 0, name: "", kind: "VOID" }];
  let p = start;
  while (p < end) {
    const id = types.length;
    const at = p;
    p = typeEnd(dv, at, end, le, id, strings);
    types.push(readType(dv, at, le, strings, id));
  }
  return types;
}

/** The hash index's arrays, as indexTypeNames and indexEnumNames fill them. */
interface NameIndex {
  heads: Int32Array;
  entType: Int32Array;
  entIdx: Int32Array;
  entName: Uint32Array;
  entNext: Int32Array;
}

/**
 * Second pass: the names of types, then of enumerators, into the hash index
 * (FNV-1a of the name's bytes), highest id first, each enum's values last
 * to first: a bucket then lists, of either sort, the lowest id first, and
 * an enum's values in order. Returns the entries made.
 */
function indexTypeNames(
  words: Uint32Array,
  offsets: Uint32Array,
  n: number,
  bytes: Uint8Array,
  ix: NameIndex,
): number {
  const { heads, entType, entIdx, entName, entNext } = ix;
  const mask = heads.length - 1;
  const strLen = bytes.length;
  let e = 0;
  for (let id = n - 1; id > 0; id--) {
    const nameOff = words[offsets[id] as number] as number;
    if (nameOff === 0) continue;
    let h = 0x811c9dc5;
    let j = nameOff;
    // A byte past the end reads undefined: the loop ends, and the check after it throws.
    for (let c = bytes[j] as number; c > 0; c = bytes[++j] as number) h = Math.imul(h ^ c, 0x01000193);
    if (j >= strLen) throw unterminated(nameOff, strLen);
    const b = h & mask;
    entType[e] = id;
    entIdx[e] = -1;
    entName[e] = nameOff;
    entNext[e] = heads[b] as number;
    heads[b] = e++;
  }
  return e;
}

/** The enumerators' names (see indexTypeNames), from entry `e` on. */
function indexEnumNames(
  words: Uint32Array,
  offsets: Uint32Array,
  enums: Uint32Array,
  bytes: Uint8Array,
  ix: NameIndex,
  e: number,
): void {
  const { heads, entType, entIdx, entName, entNext } = ix;
  const mask = heads.length - 1;
  const strLen = bytes.length;
  for (let k = enums.length - 1; k >= 0; k--) {
    const id = enums[k] as number;
    const w = offsets[id] as number;
    const info = words[w + 1] as number;
    const step = ((info >>> 24) & 0x1f) === BTF_KIND.ENUM ? 2 : 3;
    for (let i = (info & 0xffff) - 1; i >= 0; i--) {
      const nameOff = words[w + 3 + i * step] as number;
      if (nameOff === 0) continue;
      let h = 0x811c9dc5;
      let j = nameOff;
      for (let c = bytes[j] as number; c > 0; c = bytes[++j] as number) h = Math.imul(h ^ c, 0x01000193);
      if (j >= strLen) throw unterminated(nameOff, strLen);
      const b = h & mask;
      entType[e] = id;
      entIdx[e] = i;
      entName[e] = nameOff;
      entNext[e] = heads[b] as number;
      heads[b] = e++;
    }
  }
}

/** The error for a name at `off` that runs past the string section (or starts past it). */
function unterminated(off: number, strLen: number): BtfError {
  return off >= strLen
    ? new BtfError(`BTF string offset ${off} is past the string section`)
    : new BtfError(`BTF string at offset ${off} is not NUL-terminated`);
}

/** The type section as 32-bit words in the host's byte order (a view when it can be, else a copy). */
export function hostWords(dv: DataView, start: number, end: number, le: boolean): Uint32Array {
  const count = (end - start) >>> 2;
  const hostLe = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const at = dv.byteOffset + start;
  if (le === hostLe && at % 4 === 0) return new Uint32Array(dv.buffer, at, count);
  const out = new Uint32Array(count);
  if (le === hostLe) new Uint8Array(out.buffer).set(new Uint8Array(dv.buffer, at, count * 4));
  else for (let i = 0; i < count; i++) out[i] = dv.getUint32(start + i * 4, le);
  return out;
}

/**
 * A lazily read BTF's types ({@link Btf.parseLazy}): where each type starts
 * (one pass over the type section), and lookups by name. The first few
 * lookups search the string section for the name and then the types for its
 * offsets (~1 ms each on the kernel's BTF); after those, a hash index of
 * the names of every type and enumerator (FNV-1a over the string section's
 * bytes, ~15 ms to make) answers the rest. Either way, nothing is decoded
 * but the types asked for.
 */
class LazyTypes {
  /** Type count, void included. */
  readonly count: number;
  private readonly dv: DataView;
  private readonly le: boolean;
  private readonly bytes: Uint8Array;
  private strings: Strings | undefined;
  /** The type section in words, host byte order. */
  private readonly words: Uint32Array;
  /** Where the type section starts in `dv`. */
  private readonly typeStart: number;
  /**
   * marks[k]: where type (k << MARK_SHIFT) + 1 starts, in words from
   * `typeStart`; a type between two marks is found by stepping over the
   * types before it. One offset per type was 0.5 MB on 6.18's 126,000 types,
   * kept for as long as the process keeps the kernel's BTF (kernel_btf.ts:
   * all its life, once a compile asked it a question).
   */
  private readonly marks: Uint32Array;
  private static readonly MARK_SHIFT = 6;
  /** The ids of the ENUM and ENUM64 types, ascending. */
  private readonly enums: Uint32Array;
  /** Where each of `enums` starts, in words from `typeStart`. */
  private readonly enumOffsets: Uint32Array;
  /** How many names the index would hold. */
  private readonly entries: number;
  /** The hash index, once made. */
  private index: NameIndex | undefined;
  /** Lookups answered by searching, so far (the index is made after LINEAR_LOOKUPS). */
  private searches = 0;
  private static readonly LINEAR_LOOKUPS = 8;
  private static readonly encoder = new TextEncoder();

  constructor(s: BtfSections) {
    const { dv, le, typeStart, typeEnd: end, strings: bytes } = s;
    this.dv = dv;
    this.le = le;
    this.bytes = bytes;
    this.typeStart = typeStart;
    const words = hostWords(dv, typeStart, end, le);
    // One pass over every type, by the addon (native/btf_scan.c says why).
    const layout = native().btfTypeOffsets(words);
    if (layout.stop === "kind") {
      const kindNo = ((words[(layout.stopAt as number) + 1] as number) >>> 24) & 0x1f;
      throw new BtfError(`unknown BTF kind ${kindNo} (type ${layout.stopId})`);
    }
    if (layout.stop === "end") {
      const q = layout.stopAt as number;
      const kind = KIND_NAMES[((words[q + 1] as number) >>> 24) & 0x1f] as BtfKind;
      const what = partName(kind, this.stringsTable().get(words[q] as number));
      throw new BtfError(`BTF type section ends inside ${what} (type ${layout.stopId})`);
    }
    if (typeStart + layout.end * 4 < end)
      throw new BtfError(`BTF type section ends inside a type header (type ${layout.count})`);
    this.words = words;
    this.count = layout.count;
    const { offsets, enums } = layout;
    const shift = LazyTypes.MARK_SHIFT;
    this.marks = new Uint32Array(this.count > 1 ? ((this.count - 2) >> shift) + 1 : 0);
    for (let k = 0; k < this.marks.length; k++) this.marks[k] = offsets[(k << shift) + 1] as number;
    this.enums = enums;
    this.enumOffsets = enums.map((id) => offsets[id] as number);
    this.entries = layout.entries;
  }

  /** Where type id (1 ≤ id < count) starts, in words from `typeStart`. */
  offsetOf(id: number): number {
    const k = (id - 1) >> LazyTypes.MARK_SHIFT;
    let off = this.marks[k] as number;
    for (let t = (k << LazyTypes.MARK_SHIFT) + 1; t < id; t++) off = this.after(off);
    return off;
  }

  /** Where the type after the one at `off` starts. */
  after(off: number): number {
    const info = this.words[off + 1] as number;
    return off + 3 + (btfTypeExtraBytes((info >>> 24) & 0x1f, info & 0xffff) >> 2);
  }

  private stringsTable(): Strings {
    this.strings ??= new Strings(this.bytes, false);
    return this.strings;
  }

  /** The hash index (made on first use; this is where every name offset is checked). */
  private nameIndex(): NameIndex {
    if (!this.index) {
      let size = 16;
      while (size < this.entries) size *= 2;
      const ix: NameIndex = {
        heads: new Int32Array(size).fill(-1),
        entType: new Int32Array(this.entries),
        entIdx: new Int32Array(this.entries),
        entName: new Uint32Array(this.entries),
        entNext: new Int32Array(this.entries),
      };
      // every type's offset, for as long as the index takes to make
      const { offsets } = native().btfTypeOffsets(this.words);
      const e = indexTypeNames(this.words, offsets, this.count, this.bytes, ix);
      indexEnumNames(this.words, offsets, this.enums, this.bytes, ix, e);
      this.index = ix;
    }
    return this.index;
  }

  /**
   * The types and enumerators named `name`: [type id, enumerator index or
   * -1 for the type's own name], the lowest type id first, a type's name
   * before its enumerators, and these in order.
   */
  private named(name: string): Array<[number, number]> {
    if (name === "") return [];
    const key = LazyTypes.encoder.encode(name);
    const out: Array<[number, number]> = [];
    if (!this.index && this.searches < LazyTypes.LINEAR_LOOKUPS) {
      this.searches++;
      this.search(key, out);
    } else {
      const ix = this.nameIndex();
      let h = 0x811c9dc5;
      for (const c of key) h = Math.imul(h ^ c, 0x01000193);
      for (let e = ix.heads[h & (ix.heads.length - 1)] as number; e >= 0; e = ix.entNext[e] as number)
        if (this.nameIs(ix.entName[e] as number, key))
          out.push([ix.entType[e] as number, ix.entIdx[e] as number]);
    }
    return out.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  }

  /** Whether the string at `off` is `key`. */
  private nameIs(off: number, key: Uint8Array): boolean {
    const b = this.bytes;
    if (b[off + key.length] !== 0) return false;
    for (let i = 0; i < key.length; i++) if (b[off + i] !== key[i]) return false;
    return true;
  }

  /** {@link named} without the index: the offsets where the string is, then the types that name one of them. */
  private search(key: Uint8Array, out: Array<[number, number]>): void {
    const b = this.bytes;
    const needle = new Uint8Array(key.length + 1);
    needle.set(key);
    const hay = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    const offs: number[] = [];
    // Every place where the string ends a string: a name may start inside another.
    for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) offs.push(i);
    if (offs.length === 0) return;
    const named = native().btfTypesNamed(this.words, Uint32Array.from(offs)) as Uint32Array;
    for (let i = 0; i < named.length; i += 2) out.push([named[i] as number, -1]);
    const { words, enums, enumOffsets } = this;
    const set = new Set(offs);
    for (let k = 0; k < enums.length; k++) {
      const id = enums[k] as number;
      const w = enumOffsets[k] as number;
      const info = words[w + 1] as number;
      const step = ((info >>> 24) & 0x1f) === BTF_KIND.ENUM ? 2 : 3;
      const vlen = info & 0xffff;
      for (let i = 0; i < vlen; i++) if (set.has(words[w + 3 + i * step] as number)) out.push([id, i]);
    }
  }

  kindOf(id: number): BtfKind | undefined {
    if (!(id > 0 && id < this.count)) return undefined;
    return KIND_NAMES[((this.words[this.offsetOf(id) + 1] as number) >>> 24) & 0x1f];
  }

  typesNamed(name: string): number[] {
    return this.named(name)
      .filter((m) => m[1] === -1)
      .map((m) => m[0]);
  }

  hasName(name: string): boolean {
    return this.named(name).length > 0;
  }

  enumerator(name: string): { enumId: number; value: number | bigint } | undefined {
    const m = this.named(name).find((x) => x[1] >= 0);
    if (m === undefined) return undefined;
    const [id, idx] = m;
    const w = this.offsetOf(id);
    const info = this.words[w + 1] as number;
    const signed = info >>> 31 === 1;
    if (((info >>> 24) & 0x1f) === BTF_KIND.ENUM) {
      const v = this.words[w + 3 + idx * 2 + 1] as number;
      return { enumId: id, value: signed ? v | 0 : v };
    }
    const lo = this.words[w + 3 + idx * 3 + 1] as number;
    const hi = this.words[w + 3 + idx * 3 + 2] as number;
    const v = (BigInt(hi) << 32n) | BigInt(lo);
    return { enumId: id, value: signed ? BigInt.asIntN(64, v) : v };
  }

  /** Type id, which starts at `off` (offsetOf(id), when the caller knows it already). */
  decode(id: number, off = this.offsetOf(id)): BtfType {
    return readType(this.dv, this.typeStart + off * 4, this.le, this.stringsTable(), id);
  }
}

/** A BTF-defined map (libbpf's `SEC(".maps")` convention), as {@link mapDefFromBtf} reads it. */
export interface BtfMapDef {
  /** enum bpf_map_type, from `__uint(type, ...)`. */
  type?: number;
  /** From `__uint(max_entries, N)`. */
  maxEntries?: number;
  /** From `__type(key, T)`: the key's type id. */
  keyTypeId?: number;
  /** From `__type(value, T)`: the value's type id. */
  valueTypeId?: number;
  /** From `__uint(key_size, N)`, or the size of the key type. */
  keySize?: number;
  /** From `__uint(value_size, N)`, or the size of the value type. */
  valueSize?: number;
  /** From `__uint(map_flags, F)`. */
  flags?: number;
  /** From `__uint(numa_node, N)`. */
  numaNode?: number;
  /** From `__uint(pinning, P)` (LIBBPF_PIN_BY_NAME is 1). */
  pinning?: number;
  /** From `__ulong(map_extra, X)` or `__uint(map_extra, X)`. */
  mapExtra?: number;
  /** From `__array(values, T)` (map-in-map and prog arrays): the element type id. */
  valuesTypeId?: number;
}

/** The `__uint(name, N)` members of a BTF map definition and the BtfMapDef fields they fill. */
const MAP_DEF_UINTS = new Map<
  string,
  "type" | "maxEntries" | "flags" | "numaNode" | "pinning" | "mapExtra" | "keySize" | "valueSize"
>([
  ["type", "type"],
  ["max_entries", "maxEntries"],
  ["map_flags", "flags"],
  ["numa_node", "numaNode"],
  ["pinning", "pinning"],
  ["map_extra", "mapExtra"],
  ["key_size", "keySize"],
  ["value_size", "valueSize"],
]);

/**
 * Reads a BTF-defined map's definition from the `.maps` DATASEC: the map is a
 * variable whose struct type has members made by libbpf's macros.
 * `__uint(name, val)` is `int (*name)[val]` (val is the array length),
 * `__type(name, T)` is `typeof(T) *name`, `__array(name, T)` is
 * `typeof(T) *name[]` and `__ulong(name, val)` is an enum whose only value is
 * val. Throws a {@link BtfError} when there is no such map.
 */
export function mapDefFromBtf(btf: Btf, mapName: string): BtfMapDef {
  const v = btf.datasecVars(".maps").find((x) => x.name === mapName);
  if (v === undefined) throw new BtfError(`no BTF-defined map "${mapName}" in the .maps section`);
  const def = btf.type(btf.resolve(v.typeId));
  if (def.kind !== "STRUCT") {
    throw new BtfError(`map "${mapName}" in .maps has type ${btf.cName(v.typeId)}, not a struct`);
  }
  const out: BtfMapDef = {};
  for (const m of def.members) {
    const mt = btf.type(btf.resolve(m.type));
    const uint = (): number => {
      if (mt.kind === "PTR") {
        const arr = btf.type(btf.resolve(mt.type));
        if (arr.kind === "ARRAY") return arr.nelems;
      }
      if (mt.kind === "ENUM" && mt.values[0] !== undefined) return mt.values[0].value;
      if (mt.kind === "ENUM64" && mt.values[0] !== undefined) return Number(mt.values[0].value);
      throw new BtfError(
        `map "${mapName}": member ${m.name} is ${btf.cName(m.type)}, not __uint(${m.name}, N)`,
      );
    };
    const typeRef = (): number => {
      if (mt.kind !== "PTR") {
        throw new BtfError(
          `map "${mapName}": member ${m.name} is ${btf.cName(m.type)}, not __type(${m.name}, T)`,
        );
      }
      return mt.type;
    };
    const numeric = MAP_DEF_UINTS.get(m.name);
    if (numeric !== undefined) {
      out[numeric] = uint();
      continue;
    }
    switch (m.name) {
      case "key":
        out.keyTypeId = typeRef();
        break;
      case "value":
        out.valueTypeId = typeRef();
        break;
      case "values": {
        if (mt.kind === "ARRAY") {
          const elem = btf.type(btf.resolve(mt.type));
          if (elem.kind === "PTR") out.valuesTypeId = elem.type;
        }
        break;
      }
      default:
        break; // libbpf warns about unknown members and ignores them; so do we.
    }
  }
  if (out.keyTypeId !== undefined && out.keySize === undefined) out.keySize = btf.sizeOf(out.keyTypeId);
  if (out.valueTypeId !== undefined && out.valueSize === undefined)
    out.valueSize = btf.sizeOf(out.valueTypeId);
  return out;
}

/** Bytes after a type's 12-byte header, by kind number and vlen (btf_type_size); throws for an unknown kind. */
export function btfTypeExtraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case 1: // INT
    case 14: // VAR
    case 17: // DECL_TAG
      return 4;
    case 3: // ARRAY
      return 12;
    case 4: // STRUCT
    case 5: // UNION
    case 15: // DATASEC
    case 19: // ENUM64
      return 12 * vlen;
    case 6: // ENUM
    case 13: // FUNC_PROTO
      return 8 * vlen;
    case 2: // PTR
    case 7: // FWD
    case 8: // TYPEDEF
    case 9: // VOLATILE
    case 10: // CONST
    case 11: // RESTRICT
    case 12: // FUNC
    case 16: // FLOAT
    case 18: // TYPE_TAG
      return 0;
    default:
      throw new BtfError(`unknown BTF kind ${kind}`);
  }
}
