/**
 * A parser of raw BTF (the `.BTF` section of a BPF object, or a kernel's
 * /sys/kernel/btf/vmlinux) and a few queries over it: names, sizes,
 * alignment, C spelling, DATASEC variables and libbpf's BTF-defined maps.
 *
 * Layout reference: include/uapi/linux/btf.h and
 * Documentation/bpf/btf.rst in the kernel tree.
 */
import { BtfError } from "../kernel/errors.js";

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

/** Parsed BTF. Build one with {@link Btf.parse}; all queries take type ids. */
export class Btf {
  /** true when the BTF (and so the target's data) is little-endian. */
  readonly littleEndian: boolean;
  private readonly types: BtfType[];
  private byName: Map<string, number[]> | undefined;

  private constructor(types: BtfType[], littleEndian: boolean) {
    this.types = types;
    this.littleEndian = littleEndian;
  }

  /**
   * Parses raw BTF: a header, a type section and a string section. Both byte
   * orders are accepted (the magic tells which); anything malformed throws a
   * {@link BtfError}.
   */
  static parse(raw: Uint8Array): Btf {
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
    const strings = new Strings(raw.subarray(strBase, strBase + strLen));
    const types = parseTypes(dv, hdrLen + typeOff, typeLen, le, strings);
    const btf = new Btf(types, le);
    btf.validate();
    return btf;
  }

  /** Number of type ids, counting void (id 0): valid ids are 0 .. count - 1. */
  get count(): number {
    return this.types.length;
  }

  /** Every type in id order, starting with void. */
  *all(): IterableIterator<BtfType> {
    yield* this.types;
  }

  /** The type with this id; throws a {@link BtfError} for an unknown id. */
  type(id: number): BtfType {
    const t = this.types[id];
    if (t === undefined) throw new BtfError(`no BTF type with id ${id} (there are ${this.types.length})`);
    return t;
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

  constructor(private readonly bytes: Uint8Array) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i] as number) > 0x7f) {
        ascii = false;
        break;
      }
    }
    this.ascii = ascii ? Strings.decoder.decode(bytes) : undefined;
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

function parseTypes(dv: DataView, start: number, len: number, le: boolean, strings: Strings): BtfType[] {
  const types: BtfType[] = [{ id: 0, name: "", kind: "VOID" }];
  const end = start + len;
  let p = start;
  const need = (bytes: number, what: string) => {
    if (p + bytes > end) throw new BtfError(`BTF type section ends inside ${what} (type ${types.length})`);
  };
  const u32 = (off: number) => dv.getUint32(off, le);
  const i32 = (off: number) => dv.getInt32(off, le);
  while (p < end) {
    const id = types.length;
    need(12, "a type header");
    const name = strings.get(u32(p));
    const info = u32(p + 4);
    const sizeOrType = u32(p + 8);
    p += 12;
    const kindNo = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const kind = KIND_NAMES[kindNo];
    if (kind === undefined || kind === "VOID") throw new BtfError(`unknown BTF kind ${kindNo} (type ${id})`);
    switch (kind) {
      case "INT": {
        need(4, "an INT");
        const enc = u32(p);
        p += 4;
        const encoding = (enc >>> 24) & 0x0f;
        types.push({
          id,
          name,
          kind,
          size: sizeOrType,
          signed: (encoding & 1) !== 0,
          char: (encoding & 2) !== 0,
          bool: (encoding & 4) !== 0,
          bits: enc & 0xff,
          bitOffset: (enc >>> 16) & 0xff,
        });
        break;
      }
      case "PTR":
      case "TYPEDEF":
      case "VOLATILE":
      case "CONST":
      case "RESTRICT":
      case "TYPE_TAG":
        types.push({ id, name, kind, type: sizeOrType });
        break;
      case "ARRAY":
        need(12, "an ARRAY");
        types.push({ id, name, kind, type: u32(p), indexType: u32(p + 4), nelems: u32(p + 8) });
        p += 12;
        break;
      case "STRUCT":
      case "UNION": {
        need(12 * vlen, `the members of ${kind.toLowerCase()} ${name}`);
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++, p += 12) {
          const off = u32(p + 8);
          members.push({
            name: strings.get(u32(p)),
            type: u32(p + 4),
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          });
        }
        types.push({ id, name, kind, size: sizeOrType, members });
        break;
      }
      case "ENUM": {
        need(8 * vlen, `the values of enum ${name}`);
        const values: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++, p += 8) {
          values.push({ name: strings.get(u32(p)), value: kflag ? i32(p + 4) : u32(p + 4) });
        }
        types.push({ id, name, kind, size: sizeOrType, signed: kflag, values });
        break;
      }
      case "ENUM64": {
        need(12 * vlen, `the values of enum ${name}`);
        const values: BtfEnum64Value[] = [];
        for (let i = 0; i < vlen; i++, p += 12) {
          const v = (BigInt(u32(p + 8)) << 32n) | BigInt(u32(p + 4));
          values.push({ name: strings.get(u32(p)), value: kflag ? BigInt.asIntN(64, v) : v });
        }
        types.push({ id, name, kind, size: sizeOrType, signed: kflag, values });
        break;
      }
      case "FWD":
        types.push({ id, name, kind, union: kflag });
        break;
      case "FUNC":
        types.push({ id, name, kind, type: sizeOrType, linkage: vlen });
        break;
      case "FUNC_PROTO": {
        need(8 * vlen, `the parameters of a FUNC_PROTO`);
        const params: BtfParam[] = [];
        for (let i = 0; i < vlen; i++, p += 8) params.push({ name: strings.get(u32(p)), type: u32(p + 4) });
        types.push({ id, name, kind, returnType: sizeOrType, params });
        break;
      }
      case "VAR":
        need(4, "a VAR");
        types.push({ id, name, kind, type: sizeOrType, linkage: u32(p) });
        p += 4;
        break;
      case "DATASEC": {
        need(12 * vlen, `the variables of section ${name}`);
        const vars: BtfVarSecinfo[] = [];
        for (let i = 0; i < vlen; i++, p += 12)
          vars.push({ type: u32(p), offset: u32(p + 4), size: u32(p + 8) });
        types.push({ id, name, kind, size: sizeOrType, vars });
        break;
      }
      case "FLOAT":
        types.push({ id, name, kind, size: sizeOrType });
        break;
      case "DECL_TAG":
        need(4, "a DECL_TAG");
        types.push({ id, name, kind, type: sizeOrType, componentIdx: i32(p) });
        p += 4;
        break;
    }
  }
  return types;
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
