// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Questions about the running kernel's types, answered from its BTF: bcc
 * tools use them to choose code paths (task_struct.__state since 5.14 vs
 * state before).
 */
import { Btf, type BtfComposite, type BtfEnum, type BtfEnum64 } from "../btf/btf.js";
import { kernelBtfBytes, missingKernelBtf } from "./kernel_info.js";

let vmlinux: Btf | undefined;

/**
 * The kernel's BTF, read once per process and decoded lazily
 * (Btf.parseLazy): a lookup by name reads the raw bytes (or, after a few,
 * an index of the names, ~15 ms on 6.18's 126,000 types) and decodes only
 * the types it finds, instead of a full parse (~150 ms); all() decodes
 * everything.
 */
export function kernelBtf(): Btf {
  if (vmlinux === undefined) {
    let raw: Uint8Array;
    try {
      raw = kernelBtfBytes();
    } catch {
      throw missingKernelBtf();
    }
    vmlinux = Btf.parseLazy(raw);
  }
  return vmlinux;
}

/** Members of a struct/union, anonymous members' members included (as C lets you name them). */
function memberNames(btf: Btf, id: number, into: Set<string>, depth = 0): void {
  const t = btf.type(btf.resolve(id));
  if ((t.kind !== "STRUCT" && t.kind !== "UNION") || depth > 8) return;
  for (const m of (t as BtfComposite).members) {
    if (m.name === "") memberNames(btf, m.type, into, depth + 1);
    else into.add(m.name);
  }
}

/** True when the kernel's `struct name` (or union) has a member `field` (bcc's kernel_struct_has_field). */
export function kernelStructHasField(name: string, field: string): boolean {
  const btf = kernelBtf();
  const ids = [...btf.findAllByName(name, "STRUCT"), ...btf.findAllByName(name, "UNION")];
  for (const id of ids) {
    const names = new Set<string>();
    memberNames(btf, id, names);
    if (names.has(field)) return true;
  }
  return false;
}

/** True when the kernel's `enum name` has the enumerator `value` (bcc's kernel_enum_has_val). */
export function kernelEnumHasVal(name: string, value: string): boolean {
  const btf = kernelBtf();
  for (const id of [...btf.findAllByName(name, "ENUM"), ...btf.findAllByName(name, "ENUM64")]) {
    const t = btf.type(id) as BtfEnum | BtfEnum64;
    if (t.values.some((v) => v.name === value)) return true;
  }
  return false;
}
