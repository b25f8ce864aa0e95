// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * A writer of raw BTF: the inverse of {@link Btf.parse}. It takes types in the
 * parser's own shape (id 0 void, then one type per id) and lays out the
 * header, the type section and a deduplicated string section, as
 * include/uapi/linux/btf.h and Documentation/bpf/btf.rst describe them.
 *
 * Used to emit the small BTF that stands in for the kernel's in CO-RE
 * relocations (min_core.ts); anything {@link Btf.parse} reads, this writes.
 */
import { BtfError } from "../kernel/errors.js";
import { BTF_KIND, BTF_MAGIC, type BtfType } from "./btf.js";

const HEADER_LEN = 24;

/** Interns strings into a BTF string section (offset 0 is ""). */
class StringTable {
  private readonly offsets = new Map<string, number>([["", 0]]);
  private readonly chunks: Uint8Array[] = [new Uint8Array(1)];
  private size = 1;
  private static readonly encoder = new TextEncoder();

  add(s: string): number {
    const hit = this.offsets.get(s);
    if (hit !== undefined) return hit;
    const bytes = StringTable.encoder.encode(s);
    if (bytes.includes(0)) throw new BtfError(`BTF string ${JSON.stringify(s)} contains a NUL byte`);
    const off = this.size;
    const chunk = new Uint8Array(bytes.length + 1);
    chunk.set(bytes);
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.offsets.set(s, off);
    return off;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

/** Bytes a type takes in the type section: the 12-byte header plus what follows it. */
function typeBytes(t: BtfType): number {
  switch (t.kind) {
    case "INT":
    case "VAR":
    case "DECL_TAG":
      return 16;
    case "ARRAY":
      return 24;
    case "STRUCT":
    case "UNION":
      return 12 + 12 * t.members.length;
    case "ENUM":
      return 12 + 8 * t.values.length;
    case "ENUM64":
      return 12 + 12 * t.values.length;
    case "FUNC_PROTO":
      return 12 + 8 * t.params.length;
    case "DATASEC":
      return 12 + 12 * t.vars.length;
    default:
      return 12;
  }
}

function vlenOf(n: number, t: BtfType): number {
  if (n > 0xffff)
    throw new BtfError(`BTF type ${t.id} (${t.kind} ${t.name}) has ${n} entries, more than 65535`);
  return n;
}

/**
 * Encodes `types` as raw BTF. `types[i]` is type id i and `types[0]` must be
 * void; every reference must be a valid index. Little-endian unless told
 * otherwise (write the byte order of the BTF the types came from).
 */
export function encodeBtf(types: readonly BtfType[], littleEndian = true): Uint8Array {
  if (types[0]?.kind !== "VOID") throw new BtfError("encodeBtf: types[0] must be void");
  const strings = new StringTable();
  let typeLen = 0;
  for (let i = 1; i < types.length; i++) {
    const t = types[i] as BtfType;
    if (t.id !== i) throw new BtfError(`encodeBtf: the type at index ${i} has id ${t.id}`);
    typeLen += typeBytes(t);
  }
  const typeSec = new DataView(new ArrayBuffer(typeLen));
  const le = littleEndian;
  const n = types.length;
  const ref = (from: BtfType, id: number): number => {
    if (!Number.isInteger(id) || id < 0 || id >= n)
      throw new BtfError(`encodeBtf: type ${from.id} (${from.kind}) refers to missing type ${id}`);
    return id;
  };
  let p = 0;
  const u32 = (v: number) => {
    typeSec.setUint32(p, v >>> 0, le);
    p += 4;
  };
  const head = (t: BtfType, vlen: number, kflag: boolean, sizeOrType: number) => {
    u32(strings.add(t.name));
    u32(((kflag ? 1 : 0) << 31) | (BTF_KIND[t.kind] << 24) | vlen);
    u32(sizeOrType);
  };
  for (let i = 1; i < n; i++) {
    const t = types[i] as BtfType;
    switch (t.kind) {
      case "VOID":
        throw new BtfError(`encodeBtf: void can only be type 0 (found at ${i})`);
      case "INT": {
        head(t, 0, false, t.size);
        const enc = (t.signed ? 1 : 0) | (t.char ? 2 : 0) | (t.bool ? 4 : 0);
        u32((enc << 24) | ((t.bitOffset & 0xff) << 16) | (t.bits & 0xff));
        break;
      }
      case "PTR":
      case "TYPEDEF":
      case "VOLATILE":
      case "CONST":
      case "RESTRICT":
      case "TYPE_TAG":
        head(t, 0, false, ref(t, t.type));
        break;
      case "ARRAY":
        head(t, 0, false, 0);
        u32(ref(t, t.type));
        u32(ref(t, t.indexType));
        u32(t.nelems);
        break;
      case "STRUCT":
      case "UNION": {
        const kflag = t.members.some((m) => m.bitfieldSize !== 0);
        head(t, vlenOf(t.members.length, t), kflag, t.size);
        for (const m of t.members) {
          u32(strings.add(m.name));
          u32(ref(t, m.type));
          if (kflag) {
            if (m.bitOffset > 0xffffff || m.bitfieldSize > 0xff)
              throw new BtfError(`encodeBtf: member ${m.name} of ${t.name} does not fit a bitfield offset`);
            u32((m.bitfieldSize << 24) | m.bitOffset);
          } else u32(m.bitOffset);
        }
        break;
      }
      case "ENUM":
        head(t, vlenOf(t.values.length, t), t.signed, t.size);
        for (const v of t.values) {
          u32(strings.add(v.name));
          u32(v.value);
        }
        break;
      case "ENUM64":
        head(t, vlenOf(t.values.length, t), t.signed, t.size);
        for (const v of t.values) {
          const bits = BigInt.asUintN(64, v.value);
          u32(strings.add(v.name));
          u32(Number(bits & 0xffffffffn));
          u32(Number(bits >> 32n));
        }
        break;
      case "FWD":
        head(t, 0, t.union, 0);
        break;
      case "FUNC":
        head(t, t.linkage, false, ref(t, t.type));
        break;
      case "FUNC_PROTO":
        head(t, vlenOf(t.params.length, t), false, ref(t, t.returnType));
        for (const prm of t.params) {
          u32(strings.add(prm.name));
          u32(ref(t, prm.type));
        }
        break;
      case "VAR":
        head(t, 0, false, ref(t, t.type));
        u32(t.linkage);
        break;
      case "DATASEC":
        head(t, vlenOf(t.vars.length, t), false, t.size);
        for (const v of t.vars) {
          u32(ref(t, v.type));
          u32(v.offset);
          u32(v.size);
        }
        break;
      case "FLOAT":
        head(t, 0, false, t.size);
        break;
      case "DECL_TAG":
        head(t, 0, false, ref(t, t.type));
        typeSec.setInt32(p, t.componentIdx, le);
        p += 4;
        break;
    }
  }
  const strSec = strings.bytes();
  const out = new Uint8Array(HEADER_LEN + typeLen + strSec.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, BTF_MAGIC, le);
  dv.setUint8(2, 1); // version
  dv.setUint8(3, 0); // flags
  dv.setUint32(4, HEADER_LEN, le);
  dv.setUint32(8, 0, le); // type_off
  dv.setUint32(12, typeLen, le);
  dv.setUint32(16, typeLen, le); // str_off
  dv.setUint32(20, strSec.length, le);
  out.set(new Uint8Array(typeSec.buffer), HEADER_LEN);
  out.set(strSec, HEADER_LEN + typeLen);
  return out;
}
