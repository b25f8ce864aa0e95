// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * bcc's text form of map keys and values (Table.key_sprintf / leaf_sprintf
 * and their inverses key_scanf / leaf_scanf), from the type's BTF:
 *   integers, enums, pointers   0x1f            (hex of the stored bits)
 *   char / u8 arrays            "text"          (up to the first NUL)
 *   other arrays                [ 0x1 0x2 ]
 *   structs                     { 0x1 "bash" }
 * The reader takes integers as C's strtol with base 0 does (0x1f, 31, 037,
 * -1) and any whitespace between items, as bcc's sscanf formats do. bcc
 * lays out by LLVM's view of the type; here each BTF member is an item
 * (a bit-field too) and a union shows its first largest member.
 */
import type { Btf, BtfType } from "../btf/btf.js";
import { BpfError } from "../kernel/errors.js";

type Shape =
  | { k: "int"; size: number; bitOffset: number; bits: number }
  | { k: "str"; len: number }
  | { k: "arr"; elem: Shape; elemSize: number; n: number }
  | { k: "obj"; fields: Array<{ shape: Shape; offset: number }> };

function shapeOf(btf: Btf | undefined, typeId: number, size: number): Shape {
  if (!btf || typeId === 0)
    return size <= 8 ? intShape(size) : { k: "arr", elem: intShape(1), elemSize: 1, n: size };
  const t: BtfType = btf.type(btf.resolve(typeId));
  switch (t.kind) {
    case "INT":
      return { k: "int", size: t.size, bitOffset: t.bitOffset, bits: t.bits };
    case "ENUM":
    case "ENUM64":
    case "PTR":
    case "FLOAT":
      return intShape(btf.sizeOf(t.id));
    case "ARRAY": {
      const elem = btf.type(btf.resolve(t.type));
      if (elem.kind === "INT" && elem.size === 1) return { k: "str", len: t.nelems };
      const elemSize = btf.sizeOf(t.type);
      return { k: "arr", elem: shapeOf(btf, t.type, elemSize), elemSize, n: t.nelems };
    }
    case "STRUCT":
      return {
        k: "obj",
        fields: t.members.map((m) => {
          const offset = Math.floor(m.bitOffset / 8);
          if (m.bitfieldSize > 0)
            return { shape: { k: "int", size: 8, bitOffset: m.bitOffset % 8, bits: m.bitfieldSize }, offset };
          return { shape: shapeOf(btf, m.type, btf.sizeOf(m.type)), offset };
        }),
      };
    case "UNION": {
      const largest = t.members.reduce((a, m) => (btf.sizeOf(m.type) > btf.sizeOf(a.type) ? m : a));
      return {
        k: "obj",
        fields: [{ shape: shapeOf(btf, largest.type, btf.sizeOf(largest.type)), offset: 0 }],
      };
    }
    default:
      throw new BpfError(`cannot print a value of type ${btf.cName(typeId)}`);
  }
}

function intShape(size: number): Shape {
  return { k: "int", size, bitOffset: 0, bits: size * 8 };
}

function readBits(bytes: Uint8Array, offset: number, s: Shape & { k: "int" }): bigint {
  let v = 0n;
  const n = Math.min(s.size, bytes.length - offset, Math.ceil((s.bitOffset + s.bits) / 8));
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] as number);
  return BigInt.asUintN(s.bits, v >> BigInt(s.bitOffset));
}

function writeBits(bytes: Uint8Array, offset: number, s: Shape & { k: "int" }, value: bigint): void {
  const n = Math.ceil((s.bitOffset + s.bits) / 8);
  let old = 0n;
  for (let i = n - 1; i >= 0; i--) old = (old << 8n) | BigInt(bytes[offset + i] as number);
  const mask = ((1n << BigInt(s.bits)) - 1n) << BigInt(s.bitOffset);
  let v = (old & ~mask) | ((BigInt.asUintN(s.bits, value) << BigInt(s.bitOffset)) & mask);
  for (let i = 0; i < n; i++) {
    bytes[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function print(s: Shape, bytes: Uint8Array, offset: number): string {
  switch (s.k) {
    case "int":
      return `0x${readBits(bytes, offset, s).toString(16)}`;
    case "str": {
      const raw = bytes.subarray(offset, offset + s.len);
      const end = raw.indexOf(0);
      return `"${new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end))}"`;
    }
    case "arr": {
      const items: string[] = [];
      for (let i = 0; i < s.n; i++) items.push(`${print(s.elem, bytes, offset + i * s.elemSize)} `);
      return `[ ${items.join("")}]`;
    }
    case "obj":
      return `{ ${s.fields.map((f) => `${print(f.shape, bytes, offset + f.offset)} `).join("")}}`;
  }
}

/** The bytes of a value of `typeId` (`size` bytes) in bcc's text form. */
export function sprintfValue(btf: Btf | undefined, typeId: number, bytes: Uint8Array): string {
  return print(shapeOf(btf, typeId, bytes.length), bytes, 0);
}

class Reader {
  pos = 0;
  constructor(
    private readonly text: string,
    private readonly what: string,
  ) {}

  fail(expected: string): never {
    const at = this.text.slice(this.pos, this.pos + 20);
    throw new BpfError(
      `${this.what}: expected ${expected} at offset ${this.pos} of ${JSON.stringify(this.text)}${at ? ` (at ${JSON.stringify(at)})` : ""}`,
    );
  }

  skip(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] as string)) this.pos++;
  }

  expect(c: string): void {
    this.skip();
    if (this.text[this.pos] !== c) this.fail(`"${c}"`);
    this.pos++;
  }

  /** An integer as strtol(s, NULL, 0) reads it. */
  int(): bigint {
    this.skip();
    const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(this.text.slice(this.pos));
    if (!m) this.fail("an integer");
    this.pos += m[0].length;
    const digits = m[2] as string;
    const v = /^0[xX]/.test(digits)
      ? BigInt(digits)
      : digits.length > 1 && digits.startsWith("0")
        ? BigInt(`0o${digits.slice(1)}`)
        : BigInt(digits);
    return m[1] === "-" ? -v : v;
  }

  /** A double-quoted string (no escapes, as bcc's %[^"] reads it). */
  str(): string {
    this.expect('"');
    const end = this.text.indexOf('"', this.pos);
    if (end < 0) this.fail('a closing "');
    const s = this.text.slice(this.pos, end);
    this.pos = end + 1;
    return s;
  }

  end(): void {
    this.skip();
    if (this.pos !== this.text.length) this.fail("the end of the text");
  }
}

function scan(s: Shape, r: Reader, bytes: Uint8Array, offset: number): void {
  switch (s.k) {
    case "int":
      writeBits(bytes, offset, s, r.int());
      return;
    case "str": {
      const enc = new TextEncoder().encode(r.str());
      if (enc.length > s.len) r.fail(`a string of at most ${s.len} bytes`);
      bytes.set(enc, offset);
      return;
    }
    case "arr":
      r.expect("[");
      for (let i = 0; i < s.n; i++) scan(s.elem, r, bytes, offset + i * s.elemSize);
      r.expect("]");
      return;
    case "obj":
      r.expect("{");
      for (const f of s.fields) scan(f.shape, r, bytes, offset + f.offset);
      r.expect("}");
  }
}

/** bcc's text form read back into the `size` bytes of a value of `typeId`. */
export function scanfValue(
  btf: Btf | undefined,
  typeId: number,
  size: number,
  text: string,
  what: string,
): Uint8Array {
  const bytes = new Uint8Array(size);
  const r = new Reader(text, what);
  scan(shapeOf(btf, typeId, size), r, bytes, 0);
  r.end();
  return bytes;
}
