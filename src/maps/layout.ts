// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * bcc's decode_table: the layout of a map's key and value as text, read from
 * the object's BTF (bcc reads its own type descriptions of the C).
 */
import { readFileSync } from "node:fs";
import type { Btf } from "../btf/btf.js";
import { mapTypeName } from "../kernel/constants.js";
import type { TableInfo } from "./table.js";

/** Options of BPF.decodeTable. */
export interface DecodeTableOptions {
  /** Prefix each member with "[offset +size] " in bytes ("[offset,bit +bits bit]" for bitfields), bcc's sizeinfo. */
  sizeInfo?: boolean;
}

/** The map's id, from /proc/self/fdinfo (Linux 4.13+); 0 when the kernel does not say. */
export function mapIdOf(fd: number): number {
  try {
    const m = /^map_id:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Strips typedefs and qualifiers. */
function canonical(btf: Btf, id: number): number {
  return btf.resolve(id);
}

/** bcc's spelling of a member's type: "struct", "union", "char[16]", "unsigned int". */
function typeName(btf: Btf, id: number): string {
  const t = btf.type(canonical(btf, id));
  if (t.kind === "STRUCT" || t.kind === "UNION") return t.kind.toLowerCase();
  if (t.kind === "ARRAY") return `${btf.cName(canonical(btf, t.type))}[${t.nelems}]`;
  return btf.cName(t.id);
}

function sizeDesc(on: boolean, offset: number, size: number): string {
  return on ? `[${offset} +${size}] ` : "";
}

/** The lines of a struct's or union's members, nested ones expanded. */
function memberLines(btf: Btf, id: number, indent: string, base: number, sizeInfo: boolean): string[] {
  const t = btf.type(canonical(btf, id));
  if (t.kind !== "STRUCT" && t.kind !== "UNION") return [];
  const out: string[] = [];
  let anon = 0;
  for (const m of t.members) {
    const name = m.name === "" ? `__anon${anon++}` : m.name;
    const mt = btf.type(canonical(btf, m.type));
    const byteOff = base + Math.floor(m.bitOffset / 8);
    if (m.bitfieldSize > 0) {
      const desc = sizeInfo ? `[${byteOff},${m.bitOffset % 8} +${m.bitfieldSize} bit]` : "";
      out.push(`${indent}${desc}${typeName(btf, m.type)} ${name}:${m.bitfieldSize};`);
    } else if (mt.kind === "STRUCT" || mt.kind === "UNION") {
      out.push(`${indent}${sizeDesc(sizeInfo, byteOff, mt.size)}${typeName(btf, m.type)} {`);
      out.push(...memberLines(btf, m.type, `${indent}  `, byteOff, sizeInfo));
      out.push(`${indent}} ${name};`);
    } else {
      const size = btf.sizeOf(m.type);
      out.push(`${indent}${sizeDesc(sizeInfo, byteOff, size)}${typeName(btf, m.type)} ${name};`);
    }
  }
  return out;
}

/** The lines of the key or the value: "  <type> key;", or a struct expanded. */
function partLines(
  btf: Btf | undefined,
  typeId: number,
  size: number,
  label: string,
  sizeInfo: boolean,
): string[] {
  if (!btf || typeId === 0) return size === 0 ? [] : [`  unsigned char[${size}] ${label};`];
  const t = btf.type(canonical(btf, typeId));
  if (t.kind === "STRUCT" || t.kind === "UNION")
    return [`  ${t.kind.toLowerCase()} {`, ...memberLines(btf, typeId, "    ", 0, sizeInfo), `  } ${label};`];
  return [`  ${typeName(btf, typeId)} ${label};`];
}

/**
 * The text bcc's decode_table returns: "Layout of BPF map NAME (type HASH,
 * FD n, ID m):", then the key's and the value's types, structs member by
 * member. Unlike bcc, sizeInfo also covers members of nested structs.
 */
export function describeLayout(info: TableInfo, opts: DecodeTableOptions = {}): string {
  const sizeInfo = opts.sizeInfo ?? false;
  const head = `Layout of BPF map ${info.name} (type ${mapTypeName(info.mapType)}, FD ${info.fd}, ID ${mapIdOf(info.fd)}):`;
  return [
    head,
    ...partLines(info.btf, info.keyTypeId, info.keySize, "key", sizeInfo),
    ...partLines(info.btf, info.valueTypeId, info.valueSize, "value", sizeInfo),
  ].join("\n");
}
