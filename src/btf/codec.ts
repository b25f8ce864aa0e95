/**
 * Codecs between the bytes of a BTF-described type and plain JavaScript
 * values: map keys and values, perf/ring buffer events, global sections.
 *
 * Mapping (see {@link codecFor}): integers up to 32 bits are numbers, 64- and
 * 128-bit integers and pointers are bigints, `_Bool` is boolean, arrays of
 * `char` are strings, other arrays are arrays, structs and unions are plain
 * objects (anonymous members flattened into their parent, as C lets you name
 * them), enums are numbers (bigints when 8 bytes wide) and floats numbers.
 *
 * A type is first turned into a {@link Plan} (the layout with every offset
 * known), then compiled into straight-line JavaScript with `new Function`
 * (DataView reads at constant offsets, one object literal per struct). When
 * code generation is not allowed (`--disallow-code-generation-from-strings`)
 * or not wanted, the same plan is run by closures instead.
 */
import { BtfError } from "../kernel/errors.js";
import type { Btf, BtfType } from "./btf.js";

/** Reads and writes values of one type. */
export interface Codec<T> {
  /** Size in bytes of an encoded value. */
  readonly size: number;
  /** Decodes the value stored at `offset` in `view`. */
  decode(view: DataView, offset: number): T;
  /**
   * Writes `value` at `offset` in `view`. Missing struct members and array
   * elements are written as zero, as are padding bytes, so that the bytes are
   * fully determined by the value (hash map keys compare every byte).
   */
  encode(value: T, view: DataView, offset: number): void;
  /** A fresh value whose encoding is all zero bytes. */
  zero(): T;
}

/** How a plan's scalar comes out of a bitfield. */
export type BitsOut = "num" | "big" | "bool";

/**
 * The layout of a type with every offset resolved: what {@link codecFor}
 * compiles and what src/btf/dts.ts turns into TypeScript. Exported for those
 * two; not part of the package API.
 */
export type Plan =
  | { k: "num"; size: 1 | 2 | 4; signed: boolean }
  | { k: "big"; size: 8 | 16; signed: boolean }
  | { k: "bool"; size: 1 | 2 | 4 }
  | { k: "float"; size: 4 | 8 }
  | { k: "str"; len: number }
  /**
   * An integer of `bits` bits inside a `win`-byte window read in the target's
   * byte order, `shift` bits above the window's least significant bit.
   */
  | { k: "bits"; out: BitsOut; signed: boolean; win: number; shift: number; bits: number }
  | { k: "arr"; n: number; stride: number; elem: Plan }
  | {
      k: "obj";
      /** The STRUCT, UNION or DATASEC type id. */
      typeId: number;
      size: number;
      union: boolean;
      fields: PlanField[];
      /** Byte ranges [start, length] to clear before the fields are encoded. */
      zero: Array<[number, number]>;
    };

/** One member of an object plan (anonymous struct/union members already flattened). */
export interface PlanField {
  name: string;
  /** The member's BTF type id (for bitfields, the declared integer type). */
  typeId: number;
  /** Byte offset from the start of the object (for bitfields, of the window). */
  off: number;
  plan: Plan;
  /** Only encoded when present in the value (union members). */
  optional: boolean;
}

/** Options of {@link codecFor}. */
export interface CodecOptions {
  /** Compile with `new Function` (default true); false runs the plan with closures. */
  codegen?: boolean;
  /**
   * With codegen: how many values (decoded or encoded) go through the
   * closures before the code is generated (default {@link TIER_UP_AFTER}; 0:
   * generated at once).
   */
  tierUpAfter?: number;
}

/**
 * Values a codec decodes or encodes with closures before it generates its
 * code. Generating costs ~1-3 ms for a struct with a char array (its string
 * decoder is unrolled, and compiled on its first call): most of a first
 * event's decode, in a start that waits for its first row, while a tool that
 * prints a few rows, or a table read once, never needs the generated code's
 * speed. Past this many, the generated code takes over (Node 20).
 */
export const TIER_UP_AFTER = 64;

const MAX_DEPTH = 64;

/** true when an array of `elemId` is decoded as a string: the element resolves to a 1-byte INT named "char". */
export function isCharElement(btf: Btf, elemId: number): boolean {
  const t = btf.type(btf.resolve(elemId));
  return t.kind === "INT" && t.size === 1 && t.name === "char";
}

const planCache = new WeakMap<Btf, Map<number, Plan>>();

/** The layout plan of a type (cached per Btf); throws a {@link BtfError} for types that have no value. */
export function planFor(btf: Btf, typeId: number): Plan {
  let cache = planCache.get(btf);
  if (cache === undefined) {
    cache = new Map();
    planCache.set(btf, cache);
  }
  const hit = cache.get(typeId);
  if (hit !== undefined) return hit;
  const plan = new Planner(btf).plan(typeId, []);
  cache.set(typeId, plan);
  return plan;
}

class Planner {
  constructor(private readonly btf: Btf) {}

  private fail(id: number, why: string, path: string[]): never {
    const where = path.length > 0 ? ` (at ${path.join(".")})` : "";
    throw new BtfError(`cannot decode type ${this.btf.cName(id)} (id ${id}): ${why}${where}`);
  }

  plan(id: number, path: string[], chain = 0): Plan {
    if (path.length > MAX_DEPTH) this.fail(id, `nested deeper than ${MAX_DEPTH}`, path);
    // Typedefs and qualifiers do not deepen the path: count them, or a loop of them never ends.
    if (chain > MAX_DEPTH)
      this.fail(id, `typedef or qualifier chain longer than ${MAX_DEPTH} (a loop?)`, path);
    const t = this.btf.type(id);
    switch (t.kind) {
      case "VOID":
        return this.fail(id, "void has no value", path);
      case "FWD":
        return this.fail(id, "a forward declaration has no layout", path);
      case "FUNC":
      case "FUNC_PROTO":
        return this.fail(id, "a function is not data", path);
      case "DECL_TAG":
        return this.fail(id, "a declaration tag is not data", path);
      case "TYPEDEF":
      case "CONST":
      case "VOLATILE":
      case "RESTRICT":
      case "TYPE_TAG":
      case "VAR":
        return this.plan(t.type, path, chain + 1);
      case "PTR":
        return { k: "big", size: 8, signed: false };
      case "INT": {
        if (t.bitOffset !== 0 || t.bits !== t.size * 8) {
          const out: BitsOut = t.bool ? "bool" : t.size >= 8 ? "big" : "num";
          return this.bits(id, t.bitOffset, t.bits, t.size, out, t.signed, path).plan;
        }
        if (t.bool) {
          if (t.size === 1 || t.size === 2 || t.size === 4) return { k: "bool", size: t.size };
          return this.fail(id, `${t.size}-byte bool`, path);
        }
        if (t.size === 1 || t.size === 2 || t.size === 4) return { k: "num", size: t.size, signed: t.signed };
        if (t.size === 8 || t.size === 16) return { k: "big", size: t.size, signed: t.signed };
        return this.fail(id, `${t.size}-byte integer`, path);
      }
      case "ENUM":
      case "ENUM64": {
        if (t.size === 1 || t.size === 2 || t.size === 4) return { k: "num", size: t.size, signed: t.signed };
        if (t.size === 8) return { k: "big", size: 8, signed: t.signed };
        return this.fail(id, `${t.size}-byte enum`, path);
      }
      case "FLOAT":
        if (t.size === 4 || t.size === 8) return { k: "float", size: t.size };
        return this.fail(id, `${t.size}-byte float`, path);
      case "ARRAY": {
        if (isCharElement(this.btf, t.type)) return { k: "str", len: t.nelems };
        const elem = this.plan(t.type, [...path, "[]"]);
        return { k: "arr", n: t.nelems, stride: this.btf.sizeOf(t.type), elem };
      }
      case "STRUCT":
      case "UNION":
      case "DATASEC":
        return this.obj(t, path);
    }
  }

  private obj(t: BtfType & { kind: "STRUCT" | "UNION" | "DATASEC" }, path: string[]): Plan {
    const fields: PlanField[] = [];
    const seen = new Set<string>();
    const add = (f: PlanField) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      fields.push(f);
    };
    const label = t.name || (t.kind === "UNION" ? "(anon union)" : "(anon struct)");
    if (t.kind === "DATASEC") {
      for (const v of t.vars) {
        const vt = this.btf.type(v.type);
        if (vt.kind !== "VAR") continue; // extern functions (ksyms) are not data
        add({
          name: vt.name,
          typeId: vt.type,
          off: v.offset,
          plan: this.plan(vt.type, [...path, label, vt.name]),
          optional: false,
        });
      }
    } else {
      this.collect(t.id, t.size, 0, t.kind === "UNION", [...path, label], add);
    }
    // Every member inside the object: a decode must not read past the bytes it is given
    // (a DATASEC of an object not loaded yet has size 0).
    for (const f of fields) {
      const end = f.off + (f.plan.k === "bits" ? f.plan.win : this.btf.sizeOf(f.typeId));
      if (end > t.size)
        this.fail(t.id, `${f.name} ends at byte ${end}, past the end (${t.size} bytes)`, path);
    }
    const union = t.kind === "UNION";
    const zero: Array<[number, number]> = [];
    if (union) {
      if (t.size > 0) zero.push([0, t.size]);
    } else {
      // The gaps between the members' byte ranges (from the ranges, not a byte map:
      // the size comes from the BTF, and may be 4 GB).
      const covered = fields
        .filter((f) => !f.optional && f.plan.k !== "bits")
        .map((f): [number, number] => [f.off, Math.min(t.size, f.off + this.btf.sizeOf(f.typeId))])
        .sort((a, b) => a[0] - b[0]);
      let at = 0;
      for (const [start, end] of covered) {
        if (start > at) zero.push([at, start - at]);
        at = Math.max(at, end);
      }
      if (at < t.size) zero.push([at, t.size - at]);
    }
    return { k: "obj", typeId: t.id, size: t.size, union, fields, zero };
  }

  /** Adds the members of struct/union `id` at `baseBits`, flattening anonymous struct/union members. */
  private collect(
    id: number,
    outerSize: number,
    baseBits: number,
    optional: boolean,
    path: string[],
    add: (f: PlanField) => void,
  ): void {
    const t = this.btf.type(id);
    if (t.kind !== "STRUCT" && t.kind !== "UNION") return;
    for (const m of t.members) {
      const bitOff = baseBits + m.bitOffset;
      const rid = this.btf.resolve(m.type);
      const rt = this.btf.type(rid);
      if (m.name === "") {
        if ((rt.kind === "STRUCT" || rt.kind === "UNION") && m.bitfieldSize === 0) {
          if (bitOff % 8 !== 0) this.fail(id, "anonymous member not at a byte offset", path);
          this.collect(rid, outerSize, bitOff, optional || rt.kind === "UNION", path, add);
        }
        continue; // unnamed bitfields are padding
      }
      let bitfield = m.bitfieldSize;
      // Old-style (kind_flag 0) bitfields: the INT's own bits say how wide.
      if (bitfield === 0 && rt.kind === "INT" && (rt.bits !== rt.size * 8 || rt.bitOffset !== 0)) {
        bitfield = rt.bits;
      }
      const startBits = bitfield === 0 ? bitOff : bitOff + (rt.kind === "INT" ? rt.bitOffset : 0);
      const mpath = [...path, m.name];
      if (bitfield === 0 && bitOff % 8 !== 0) this.fail(id, `member ${m.name} is not at a byte offset`, path);
      if (bitfield > 0 && !this.isFullWidth(rt, bitfield, startBits)) {
        let out: BitsOut;
        let signed: boolean;
        if (rt.kind === "INT") {
          out = rt.bool ? "bool" : rt.size >= 8 ? "big" : "num";
          signed = rt.signed;
        } else if (rt.kind === "ENUM" || rt.kind === "ENUM64") {
          out = rt.size >= 8 ? "big" : "num";
          signed = rt.signed;
        } else {
          this.fail(m.type, `bitfield ${m.name} of a non-integer type`, path);
        }
        const b = this.bits(m.type, startBits, bitfield, outerSize, out, signed, mpath);
        add({ name: m.name, typeId: m.type, off: b.off, plan: b.plan, optional });
        continue;
      }
      add({ name: m.name, typeId: m.type, off: bitOff / 8, plan: this.plan(m.type, mpath), optional });
    }
  }

  /** A bitfield as wide as its type and byte-aligned is an ordinary member. */
  private isFullWidth(rt: BtfType, bits: number, startBits: number): boolean {
    if (startBits % 8 !== 0) return false;
    if (rt.kind === "INT") return rt.bitOffset === 0 && rt.bits === rt.size * 8 && bits === rt.size * 8;
    if (rt.kind === "ENUM" || rt.kind === "ENUM64") return bits === rt.size * 8;
    return false;
  }

  /**
   * Places a `bits`-bit field starting `startBits` bits into an object of
   * `size` bytes: the smallest 1/2/4/8-byte window inside the object that
   * holds it, else exactly the bytes it spans.
   */
  private bits(
    id: number,
    startBits: number,
    bits: number,
    size: number,
    out: BitsOut,
    signed: boolean,
    path: string[],
  ): { off: number; plan: Plan } {
    if (bits <= 0 || bits > 128) this.fail(id, `${bits}-bit bitfield`, path);
    if (startBits + bits > size * 8) this.fail(id, "bitfield runs past the end of its struct", path);
    let off = Math.floor(startBits / 8);
    let win = Math.ceil((startBits + bits) / 8) - off;
    for (const w of [1, 2, 4, 8]) {
      let s = Math.floor(startBits / 8);
      if (s + w > size) s = size - w;
      if (s < 0) continue;
      if (startBits >= s * 8 && startBits + bits <= (s + w) * 8) {
        off = s;
        win = w;
        break;
      }
    }
    const p = startBits - off * 8;
    const shift = this.btf.littleEndian ? p : win * 8 - p - bits;
    return { off, plan: { k: "bits", out, signed, win, shift, bits } };
  }
}

/* ----------------------------------------------------------------------- */
/* Runtime helpers shared by both backends.                                 */

const utf8 = new TextEncoder();
const EMPTY_OBJ: Readonly<Record<string, unknown>> = Object.freeze({});
const EMPTY_ARR: readonly unknown[] = Object.freeze([]);

/** Decodes a char[len] at off: bytes up to the first NUL, as UTF-8 with replacement characters. */
function readStr(v: DataView, off: number, len: number): string {
  let n = 0;
  for (; n < len; n++) {
    const b = v.getUint8(off + n);
    if (b === 0) break;
    if (b > 0x7f) return readStrUtf8(v, off, len);
  }
  return readAscii(v, off, n);
}

/** The n ASCII bytes at off as a string (String.fromCharCode on 8 bytes at a time beats one call per byte). */
function readAscii(v: DataView, off: number, n: number): string {
  const F = String.fromCharCode;
  let s = "";
  let k = 0;
  for (; k + 8 <= n; k += 8) {
    const o = off + k;
    s += F(
      v.getUint8(o),
      v.getUint8(o + 1),
      v.getUint8(o + 2),
      v.getUint8(o + 3),
      v.getUint8(o + 4),
      v.getUint8(o + 5),
      v.getUint8(o + 6),
      v.getUint8(o + 7),
    );
  }
  for (; k < n; k++) s += F(v.getUint8(off + k));
  return s;
}

/** Decodes a char[len] holding non-ASCII bytes: UTF-8 up to the first NUL, with replacement characters. */
function readStrUtf8(v: DataView, off: number, len: number): string {
  let end = 0;
  while (end < len && v.getUint8(off + end) !== 0) end++;
  return Buffer.from(v.buffer, v.byteOffset + off, end).toString("utf8");
}

/**
 * Encodes a char[len] at off: UTF-8, cut (at a character boundary) to len - 1
 * bytes so that a NUL always ends it, zero-filled. A Uint8Array is copied as
 * is (up to len bytes).
 */
function writeStr(v: DataView, off: number, len: number, value: unknown): void {
  let i = 0;
  if (typeof value === "string") {
    const lim = len - 1;
    const n = value.length;
    for (; i < lim && i < n; i++) {
      const c = value.charCodeAt(i);
      if (c > 0x7f) break;
      v.setUint8(off + i, c);
    }
    if (i < lim && i < n) {
      const dst = new Uint8Array(v.buffer, v.byteOffset + off + i, lim - i);
      i += utf8.encodeInto(value.slice(i), dst).written;
    }
  } else if (value instanceof Uint8Array) {
    const n = Math.min(len, value.length);
    for (; i < n; i++) v.setUint8(off + i, value[i] as number);
  } else if (value !== undefined && value !== null) {
    throw new TypeError(`expected a string for char[${len}], got ${typeof value}`);
  }
  for (; i < len; i++) v.setUint8(off + i, 0);
}

/** Coerces a value to a bigint for a 64/128-bit slot (numbers and booleans accepted, missing is 0). */
function toBig(x: unknown): bigint {
  if (typeof x === "bigint") return x;
  if (x === undefined || x === null) return 0n;
  if (typeof x === "boolean") return x ? 1n : 0n;
  return BigInt(x as number);
}

/** Reads `w` bytes at off as an unsigned integer in the given byte order. */
function readUnsigned(v: DataView, off: number, w: number, le: boolean): bigint {
  let x = 0n;
  if (le) for (let i = w - 1; i >= 0; i--) x = (x << 8n) | BigInt(v.getUint8(off + i));
  else for (let i = 0; i < w; i++) x = (x << 8n) | BigInt(v.getUint8(off + i));
  return x;
}

/** Writes the low `w` bytes of x at off in the given byte order. */
function writeUnsigned(v: DataView, off: number, w: number, le: boolean, x: bigint): void {
  let y = BigInt.asUintN(w * 8, x);
  if (le) {
    for (let i = 0; i < w; i++, y >>= 8n) v.setUint8(off + i, Number(y & 0xffn));
  } else {
    for (let i = w - 1; i >= 0; i--, y >>= 8n) v.setUint8(off + i, Number(y & 0xffn));
  }
}

function read128(v: DataView, off: number, le: boolean, signed: boolean): bigint {
  const lo = v.getBigUint64(le ? off : off + 8, le);
  const hi = v.getBigUint64(le ? off + 8 : off, le);
  const x = (hi << 64n) | lo;
  return signed ? BigInt.asIntN(128, x) : x;
}

function write128(v: DataView, off: number, le: boolean, value: unknown): void {
  const x = BigInt.asUintN(128, toBig(value));
  v.setBigUint64(le ? off : off + 8, BigInt.asUintN(64, x), le);
  v.setBigUint64(le ? off + 8 : off, x >> 64n, le);
}

function zeroRange(v: DataView, off: number, len: number): void {
  let i = 0;
  for (; i + 4 <= len; i += 4) v.setUint32(off + i, 0);
  for (; i < len; i++) v.setUint8(off + i, 0);
}

const HELPERS = {
  readStr,
  readStrUtf8,
  readAscii,
  F: String.fromCharCode,
  writeStr,
  toBig,
  readUnsigned,
  writeUnsigned,
  read128,
  write128,
  zeroRange,
  EMPTY_OBJ,
  EMPTY_ARR,
};

/* ----------------------------------------------------------------------- */
/* Code generation.                                                          */

const IDENT = /^[A-Za-z_$][\w$]*$/;

function propKey(name: string): string {
  if (name === "__proto__") return '["__proto__"]';
  return IDENT.test(name) ? name : JSON.stringify(name);
}

function propGet(obj: string, name: string): string {
  if (name === "__proto__") return `(Object.hasOwn(${obj}, "__proto__") ? ${obj}["__proto__"] : undefined)`;
  return IDENT.test(name) ? `${obj}.${name}` : `${obj}[${JSON.stringify(name)}]`;
}

function at(base: string, c: number): string {
  return c === 0 ? base : `${base} + ${c}`;
}

const INLINE_ARRAY_MAX = 8;
const STR_SWITCH_MAX = 32;

class Generator {
  private readonly fns: string[] = [];
  private n = 0;

  constructor(private readonly le: boolean) {}

  private get L(): string {
    return this.le ? "true" : "false";
  }

  private uniq(prefix: string): string {
    return `${prefix}${this.n++}`;
  }

  private readonly strFns = new Map<number, string>();

  /**
   * A decoder of char[len] specialised for its length: it finds the NUL,
   * then makes the string with one String.fromCharCode call of exactly that
   * many arguments (a flat string, about twice as fast as concatenation).
   */
  private strFn(len: number): string {
    const hit = this.strFns.get(len);
    if (hit !== undefined) return hit;
    const fn = this.uniq("S");
    this.strFns.set(len, fn);
    const cases: string[] = [];
    const reads: string[] = [];
    for (let n = 1; n <= Math.min(len, STR_SWITCH_MAX); n++) {
      reads.push(n === 1 ? "v.getUint8(o)" : `v.getUint8(o + ${n - 1})`);
      cases.push(`case ${n}: return F(${reads.join(", ")});`);
    }
    this.fns.push(
      [
        `function ${fn}(v, o) {`,
        "let n = 0;",
        `for (; n < ${len}; n++) { const b = v.getUint8(o + n); if (b === 0) break; if (b > 127) return readStrUtf8(v, o, ${len}); }`,
        `switch (n) { case 0: return "";`,
        ...cases,
        "}",
        "return readAscii(v, o, n);",
        "}",
      ].join("\n"),
    );
    return fn;
  }

  /** Sub-functions generated so far (array and string decoders). */
  prelude(): string {
    return this.fns.join("\n");
  }

  /** A JS expression decoding `p` at `base + c` from DataView `v`. */
  dec(p: Plan, base: string, c: number): string {
    const o = at(base, c);
    const L = this.L;
    switch (p.k) {
      case "num":
        if (p.size === 1) return `v.get${p.signed ? "Int" : "Uint"}8(${o})`;
        return `v.get${p.signed ? "Int" : "Uint"}${p.size * 8}(${o}, ${L})`;
      case "big":
        if (p.size === 8) return `v.getBig${p.signed ? "Int" : "Uint"}64(${o}, ${L})`;
        return `read128(v, ${o}, ${L}, ${p.signed})`;
      case "bool":
        if (p.size === 1) return `(v.getUint8(${o}) !== 0)`;
        return `(v.getUint${p.size * 8}(${o}, ${L}) !== 0)`;
      case "float":
        return `v.getFloat${p.size * 8}(${o}, ${L})`;
      case "str":
        return p.len === 0 ? `""` : `${this.strFn(p.len)}(v, ${o})`;
      case "bits":
        return this.decBits(p, o);
      case "arr": {
        if (p.n === 0) return "[]";
        if (p.n <= INLINE_ARRAY_MAX && p.elem.k !== "obj" && p.elem.k !== "arr") {
          const items: string[] = [];
          for (let i = 0; i < p.n; i++) items.push(this.dec(p.elem, base, c + i * p.stride));
          return `[${items.join(", ")}]`;
        }
        const fn = this.uniq("A");
        const elem = this.dec(p.elem, `(o + i * ${p.stride})`, 0);
        this.fns.push(
          `function ${fn}(v, o) { const a = new Array(${p.n}); for (let i = 0; i < ${p.n}; i++) a[i] = ${elem}; return a; }`,
        );
        return `${fn}(v, ${o})`;
      }
      case "obj": {
        const parts = p.fields.map((f) => `${propKey(f.name)}: ${this.dec(f.plan, base, c + f.off)}`);
        return `{ ${parts.join(", ")} }`;
      }
    }
  }

  private decBits(p: Plan & { k: "bits" }, o: string): string {
    const L = this.L;
    if (p.win <= 4 && p.bits <= 32) {
      const x =
        p.win === 1
          ? `v.getUint8(${o})`
          : p.win === 2
            ? `v.getUint16(${o}, ${L})`
            : p.win === 4
              ? `v.getUint32(${o}, ${L})`
              : `Number(readUnsigned(v, ${o}, ${p.win}, ${L}))`;
      const up = 32 - p.shift - p.bits;
      const num = `((${x} << ${up}) ${p.signed ? ">>" : ">>>"} ${32 - p.bits})`;
      if (p.out === "bool") return `(${num} !== 0)`;
      if (p.out === "big") return `BigInt(${num})`;
      return num;
    }
    const x = p.win === 8 ? `v.getBigUint64(${o}, ${L})` : `readUnsigned(v, ${o}, ${p.win}, ${L})`;
    const big = `BigInt.as${p.signed ? "Int" : "Uint"}N(${p.bits}, ${x} >> ${p.shift}n)`;
    if (p.out === "bool") return `(${big} !== 0n)`;
    if (p.out === "num") return `Number(${big})`;
    return big;
  }

  /** Statements encoding the value of JS expression `val` as `p` at `base + c`. */
  enc(p: Plan, base: string, c: number, val: string, out: string[]): void {
    const o = at(base, c);
    const L = this.L;
    switch (p.k) {
      case "num":
        if (p.size === 1) out.push(`v.set${p.signed ? "Int" : "Uint"}8(${o}, Number(${val}));`);
        else out.push(`v.set${p.signed ? "Int" : "Uint"}${p.size * 8}(${o}, Number(${val}), ${L});`);
        return;
      case "big":
        if (p.size === 8) out.push(`v.setBig${p.signed ? "Int" : "Uint"}64(${o}, toBig(${val}), ${L});`);
        else out.push(`write128(v, ${o}, ${L}, ${val});`);
        return;
      case "bool":
        if (p.size === 1) out.push(`v.setUint8(${o}, ${val} ? 1 : 0);`);
        else out.push(`v.setUint${p.size * 8}(${o}, ${val} ? 1 : 0, ${L});`);
        return;
      case "float":
        out.push(`v.setFloat${p.size * 8}(${o}, Number(${val} ?? 0), ${L});`);
        return;
      case "str":
        if (p.len > 0) out.push(`writeStr(v, ${o}, ${p.len}, ${val});`);
        return;
      case "bits":
        this.encBits(p, o, val, out);
        return;
      case "arr": {
        if (p.n === 0) return;
        const a = this.uniq("a");
        const i = this.uniq("i");
        const q = this.uniq("p");
        out.push(`const ${a} = ${val} ?? EMPTY_ARR;`);
        out.push(`for (let ${i} = 0; ${i} < ${p.n}; ${i}++) {`);
        out.push(`const ${q} = ${o} + ${i} * ${p.stride};`);
        this.enc(p.elem, q, 0, `${a}[${i}]`, out);
        out.push("}");
        return;
      }
      case "obj": {
        const s = this.uniq("s");
        out.push(`const ${s} = ${val} ?? EMPTY_OBJ;`);
        for (const [start, len] of p.zero) this.zero(base, c + start, len, out);
        for (const f of p.fields) {
          const get = propGet(s, f.name);
          if (f.optional) {
            out.push(`if (${get} !== undefined) {`);
            this.enc(f.plan, base, c + f.off, get, out);
            out.push("}");
          } else {
            this.enc(f.plan, base, c + f.off, get, out);
          }
        }
        return;
      }
    }
  }

  private zero(base: string, c: number, len: number, out: string[]): void {
    if (len > 16) {
      out.push(`zeroRange(v, ${at(base, c)}, ${len});`);
      return;
    }
    let i = 0;
    for (; i + 4 <= len; i += 4) out.push(`v.setUint32(${at(base, c + i)}, 0);`);
    if (i + 2 <= len) {
      out.push(`v.setUint16(${at(base, c + i)}, 0);`);
      i += 2;
    }
    if (i < len) out.push(`v.setUint8(${at(base, c + i)}, 0);`);
  }

  private encBits(p: Plan & { k: "bits" }, o: string, val: string, out: string[]): void {
    const L = this.L;
    if (p.win <= 4 && p.bits <= 32 && (p.win === 1 || p.win === 2 || p.win === 4)) {
      const mask = 2 ** p.bits - 1;
      const clear = 2 ** (8 * p.win) - 1 - mask * 2 ** p.shift;
      const get = p.win === 1 ? `v.getUint8(${o})` : `v.getUint${p.win * 8}(${o}, ${L})`;
      const x =
        p.out === "bool"
          ? `(${val} ? 1 : 0)`
          : p.out === "big"
            ? `Number(BigInt.asUintN(${p.bits}, toBig(${val})))`
            : `(Number(${val}) & ${mask})`;
      const put = `(${get} & ${clear}) | (${x} << ${p.shift})`;
      out.push(p.win === 1 ? `v.setUint8(${o}, ${put});` : `v.setUint${p.win * 8}(${o}, ${put}, ${L});`);
      return;
    }
    const mask = (1n << BigInt(p.bits)) - 1n;
    const clear = (1n << BigInt(8 * p.win)) - 1n - (mask << BigInt(p.shift));
    const get = p.win === 8 ? `v.getBigUint64(${o}, ${L})` : `readUnsigned(v, ${o}, ${p.win}, ${L})`;
    const x = p.out === "bool" ? `(${val} ? 1n : 0n)` : `BigInt.asUintN(${p.bits}, toBig(${val}))`;
    const put = `(${get} & ${clear}n) | (${x} << ${p.shift}n)`;
    out.push(
      p.win === 8 ? `v.setBigUint64(${o}, ${put}, ${L});` : `writeUnsigned(v, ${o}, ${p.win}, ${L}, ${put});`,
    );
  }
}

type Decode = (v: DataView, o: number) => unknown;
type Encode = (x: unknown, v: DataView, o: number) => void;

function compile(plan: Plan, le: boolean): { decode: Decode; encode: Encode } {
  const g = new Generator(le);
  const decodeBody = g.dec(plan, "o", 0);
  const encodeBody: string[] = [];
  g.enc(plan, "o", 0, "x", encodeBody);
  const src = [
    '"use strict";',
    `const { ${Object.keys(HELPERS).join(", ")} } = h;`,
    g.prelude(),
    `function decode(v, o) { return ${decodeBody}; }`,
    `function encode(x, v, o) {\n${encodeBody.join("\n")}\n}`,
    "return { decode, encode };",
  ].join("\n");
  return new Function("h", src)(HELPERS) as { decode: Decode; encode: Encode };
}

/* ----------------------------------------------------------------------- */
/* Closure backend: the same plan without code generation.                  */

function closureDecode(p: Plan, le: boolean): Decode {
  switch (p.k) {
    case "num":
      if (p.size === 1) return p.signed ? (v, o) => v.getInt8(o) : (v, o) => v.getUint8(o);
      if (p.size === 2) return p.signed ? (v, o) => v.getInt16(o, le) : (v, o) => v.getUint16(o, le);
      return p.signed ? (v, o) => v.getInt32(o, le) : (v, o) => v.getUint32(o, le);
    case "big":
      if (p.size === 8) return p.signed ? (v, o) => v.getBigInt64(o, le) : (v, o) => v.getBigUint64(o, le);
      return (v, o) => read128(v, o, le, p.signed);
    case "bool":
      return (v, o) => readUnsigned(v, o, p.size, le) !== 0n;
    case "float":
      return p.size === 4 ? (v, o) => v.getFloat32(o, le) : (v, o) => v.getFloat64(o, le);
    case "str":
      return (v, o) => (p.len === 0 ? "" : readStr(v, o, p.len));
    case "bits": {
      const shift = BigInt(p.shift);
      return (v, o) => {
        const x = readUnsigned(v, o, p.win, le) >> shift;
        const n = p.signed ? BigInt.asIntN(p.bits, x) : BigInt.asUintN(p.bits, x);
        return p.out === "big" ? n : p.out === "bool" ? n !== 0n : Number(n);
      };
    }
    case "arr": {
      const elem = closureDecode(p.elem, le);
      return (v, o) => {
        const a: unknown[] = [];
        for (let i = 0; i < p.n; i++) a.push(elem(v, o + i * p.stride));
        return a;
      };
    }
    case "obj": {
      const fields = p.fields.map((f) => ({ name: f.name, off: f.off, dec: closureDecode(f.plan, le) }));
      return (v, o) => {
        const r: Record<string, unknown> = {};
        for (const f of fields) {
          if (f.name === "__proto__")
            Object.defineProperty(r, f.name, { value: f.dec(v, o + f.off), ...PROP });
          else r[f.name] = f.dec(v, o + f.off);
        }
        return r;
      };
    }
  }
}

/** Number(x) truncated to an integer bigint, as DataView setters convert (NaN and infinities are 0). */
function toInteger(x: unknown): bigint {
  const n = Math.trunc(Number(x));
  return Number.isFinite(n) ? BigInt(n) : 0n;
}

const PROP = { enumerable: true, writable: true, configurable: true } as const;

function closureEncode(p: Plan, le: boolean): Encode {
  switch (p.k) {
    case "num":
      if (p.size === 1) return (x, v, o) => v.setUint8(o, Number(x));
      if (p.size === 2) return (x, v, o) => v.setUint16(o, Number(x), le);
      return (x, v, o) => v.setUint32(o, Number(x), le);
    case "bool":
      return (x, v, o) => writeUnsigned(v, o, p.size, le, x ? 1n : 0n);
    case "big":
      if (p.size === 8) return (x, v, o) => v.setBigUint64(o, toBig(x), le);
      return (x, v, o) => write128(v, o, le, x);
    case "float":
      return p.size === 4
        ? (x, v, o) => v.setFloat32(o, Number(x ?? 0), le)
        : (x, v, o) => v.setFloat64(o, Number(x ?? 0), le);
    case "str":
      return (x, v, o) => {
        if (p.len > 0) writeStr(v, o, p.len, x);
      };
    case "bits": {
      const mask = (1n << BigInt(p.bits)) - 1n;
      const shift = BigInt(p.shift);
      return (x, v, o) => {
        const n = p.out === "bool" ? (x ? 1n : 0n) : p.out === "big" ? toBig(x) : toInteger(x);
        const old = readUnsigned(v, o, p.win, le);
        writeUnsigned(v, o, p.win, le, (old & ~(mask << shift)) | ((n & mask) << shift));
      };
    }
    case "arr": {
      const elem = closureEncode(p.elem, le);
      return (x, v, o) => {
        const a = (x ?? EMPTY_ARR) as ArrayLike<unknown>;
        for (let i = 0; i < p.n; i++) elem(a[i], v, o + i * p.stride);
      };
    }
    case "obj": {
      const fields = p.fields.map((f) => ({ f, enc: closureEncode(f.plan, le) }));
      return (x, v, o) => {
        const s = (x ?? EMPTY_OBJ) as Record<string, unknown>;
        for (const [start, len] of p.zero) zeroRange(v, o + start, len);
        for (const { f, enc } of fields) {
          const val = Object.hasOwn(s, f.name) ? s[f.name] : undefined;
          if (f.optional && val === undefined) continue;
          enc(val, v, o + f.off);
        }
      };
    }
  }
}

/* ----------------------------------------------------------------------- */

const codecCache = new WeakMap<Btf, Map<string, Codec<unknown>>>();

/**
 * The codec of BTF type `typeId` (typedefs and qualifiers are looked
 * through; a VAR is its variable's type, a DATASEC an object of its
 * variables). Built once per (Btf, type id) and cached. Throws a
 * {@link BtfError} "cannot decode type X" for void, functions and forward
 * declarations, and for types containing them by value.
 */
export function codecFor(btf: Btf, typeId: number, opts: CodecOptions = {}): Codec<unknown> {
  const codegen = opts.codegen !== false;
  const tierUpAfter = codegen ? (opts.tierUpAfter ?? TIER_UP_AFTER) : 0;
  if (!Number.isInteger(tierUpAfter) || tierUpAfter < 0)
    throw new RangeError(`tierUpAfter must be a non-negative integer, not ${String(opts.tierUpAfter)}`);
  let cache = codecCache.get(btf);
  if (cache === undefined) {
    cache = new Map();
    codecCache.set(btf, cache);
  }
  const key = `${typeId}:${codegen ? `g${tierUpAfter}` : "c"}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;

  const plan = planFor(btf, typeId);
  const size = btf.sizeOf(typeId);
  const le = btf.littleEndian;
  type Fns = { decode: Decode; encode: Encode };
  const closures = (): Fns => ({ decode: closureDecode(plan, le), encode: closureEncode(plan, le) });
  /** The generated code, or the closures where code generation from strings is disallowed. */
  const generated = (fallback: () => Fns): Fns => {
    try {
      return compile(plan, le);
    } catch (e) {
      if (!(e instanceof EvalError)) throw e;
      return fallback();
    }
  };
  /** The closures for the first values, then the generated code in their place (a caller reads codec.decode at each call). */
  const tiered = (): Fns => {
    const first = closures();
    let uses = 0;
    const use = (): void => {
      if (++uses > tierUpAfter)
        Object.assign(
          codec,
          generated(() => first),
        );
    };
    return {
      decode: (v, o) => {
        use();
        return first.decode(v, o);
      },
      encode: (x, v, o) => {
        use();
        first.encode(x, v, o);
      },
    };
  };
  let zeroView: DataView | undefined; // made on first use: the size comes from the BTF
  const codec: { -readonly [K in keyof Codec<unknown>]: Codec<unknown>[K] } = {
    size,
    ...(!codegen ? closures() : tierUpAfter === 0 ? generated(closures) : tiered()),
    zero: () => {
      zeroView ??= new DataView(new ArrayBuffer(size));
      return codec.decode(zeroView, 0);
    },
  };
  cache.set(key, codec);
  return codec;
}

/** Encodes `value` into a new, zero-initialised Uint8Array of `codec.size` bytes. */
export function encodeToBytes<T>(codec: Codec<T>, value: T): Uint8Array {
  const bytes = new Uint8Array(codec.size);
  codec.encode(value, new DataView(bytes.buffer), 0);
  return bytes;
}

/** Decodes the value at `offset` in `bytes`; throws a RangeError when fewer than `codec.size` bytes are left. */
export function decodeFromBytes<T>(codec: Codec<T>, bytes: Uint8Array, offset = 0): T {
  if (offset < 0 || offset + codec.size > bytes.byteLength) {
    throw new RangeError(
      `need ${codec.size} bytes at offset ${offset}, but the buffer has ${bytes.byteLength} bytes`,
    );
  }
  return codec.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset);
}
