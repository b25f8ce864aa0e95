/**
 * Kernel macros whose values this kernel's BTF knows, so that they are this
 * kernel's and not a guess: array lengths (DNAME_INLINE_LEN is the length of
 * the dentry's inline name, DISK_NAME_LEN of gendisk.disk_name) and the
 * block layer's request flags (REQ_OP_BITS, REQ_OP_MASK and each REQ_*
 * flag from enum req_flag_bits). A name the BTF cannot answer is left out,
 * and the compile then says it is unknown.
 *
 * Each is found by name (Btf.findAllByName, Btf.findEnumerator), so that a
 * lazily read BTF (Btf.parseLazy) decodes only the few types they need; and
 * {@link isBtfMacroName} tells, without the BTF, which names can be one, so
 * that a program naming none never reads it.
 */
import type { Btf, BtfArray, BtfComposite, BtfEnum, BtfEnum64 } from "../btf/btf.js";
import { kernelBtf } from "../kernel/kernel_btf.js";
import { type MacroDef, macro } from "./macros.js";

/** The member `path` ("a.b") of struct `name`, following anonymous members. */
function member(btf: Btf, name: string, path: string): number | undefined {
  let ids = btf.findAllByName(name, "STRUCT");
  for (const part of path.split(".")) {
    let found: number | undefined;
    const search = (id: number, depth: number): void => {
      const t = btf.type(btf.resolve(id));
      if ((t.kind !== "STRUCT" && t.kind !== "UNION") || depth > 8 || found !== undefined) return;
      for (const m of (t as BtfComposite).members) {
        if (m.name === part) {
          found = m.type;
          return;
        }
        if (m.name === "") search(m.type, depth + 1);
      }
    };
    for (const id of ids) search(id, 0);
    if (found === undefined) return undefined;
    ids = [found];
  }
  return ids[0];
}

/** Number of elements of an array member (through typedefs), if it is one. */
function arrayLength(btf: Btf, struct: string, path: string): number | undefined {
  const id = member(btf, struct, path);
  if (id === undefined) return undefined;
  const t = btf.type(btf.resolve(id));
  return t.kind === "ARRAY" ? (t as BtfArray).nelems : undefined;
}

/** Size in bytes of a member's type (a union such as dentry.d_shortname). */
function memberSize(btf: Btf, struct: string, path: string): number | undefined {
  const id = member(btf, struct, path);
  if (id === undefined) return undefined;
  const t = btf.type(btf.resolve(id));
  return t.kind === "STRUCT" || t.kind === "UNION" ? (t as BtfComposite).size : undefined;
}

/** The value of enumerator `value` in any enum of the BTF (the first enum, by id, that has it). */
function enumValue(btf: Btf, value: string): bigint | undefined {
  const e = btf.findEnumerator(value);
  return e === undefined ? undefined : BigInt(e.value);
}

/** The enumerators of the named enum. */
function enumerators(btf: Btf, name: string): Array<{ name: string; value: bigint }> {
  const id = btf.findByName(name, "ENUM") ?? btf.findByName(name, "ENUM64");
  if (id === undefined) return [];
  return (btf.type(id) as BtfEnum | BtfEnum64).values.map((v) => ({ name: v.name, value: BigInt(v.value) }));
}

/** Names {@link btfMacros} can define; a superset (REQ_* is any name so spelled). */
const FIXED = new Set(["DNAME_INLINE_LEN", "DISK_NAME_LEN", "TASK_COMM_LEN", "REQ_OP_BITS", "REQ_OP_MASK"]);

/**
 * True when `name` may be one of the macros {@link btfMacros} derives: a
 * name for which this is false never is, so looking it up needs no BTF.
 */
export function isBtfMacroName(name: string): boolean {
  return FIXED.has(name) || /^REQ_\w+$/.test(name);
}

/** True when a name {@link isBtfMacroName} accepts may start with `prefix`. */
export function btfMacroNameMayStartWith(prefix: string): boolean {
  return (
    [...FIXED].some((n) => n.startsWith(prefix)) || "REQ_".startsWith(prefix) || prefix.startsWith("REQ_")
  );
}

/** The macros derived from `btf` (the running kernel's by default). */
export function btfMacros(btf: Btf = kernelBtf()): MacroDef[] {
  return [...derive(btf)];
}

/**
 * The macro `name` as {@link btfMacros} derives it (the last of that name,
 * as a table made from the list keeps it), reading only what that name
 * needs; undefined when the BTF cannot answer it or no such macro exists.
 */
export function btfMacro(name: string, btf: Btf = kernelBtf()): MacroDef | undefined {
  if (!isBtfMacroName(name)) return undefined;
  let found: MacroDef | undefined;
  for (const m of derive(btf, name)) if (m.name === name) found = m;
  return found;
}

/** The derived macros in order; with `only`, just those that can be named so. */
function* derive(btf: Btf, only?: string): Generator<MacroDef> {
  const want = (name: string): boolean => only === undefined || only === name;
  const make = (definition: string, origin: string): MacroDef | undefined =>
    macro(definition, `BTF: ${origin}`);

  // linux/dcache.h: the inline name of a dentry (d_iname; a union
  // d_shortname since 6.14, whose size is the same length).
  if (want("DNAME_INLINE_LEN")) {
    const dname = arrayLength(btf, "dentry", "d_iname") ?? memberSize(btf, "dentry", "d_shortname");
    const m = dname !== undefined ? make(`DNAME_INLINE_LEN ${dname}`, "dentry.d_iname") : undefined;
    if (m) yield m;
  }

  // linux/blkdev.h (linux/genhd.h before 5.18): the disk name.
  if (want("DISK_NAME_LEN")) {
    const disk = arrayLength(btf, "gendisk", "disk_name");
    const m = disk !== undefined ? make(`DISK_NAME_LEN ${disk}`, "gendisk.disk_name") : undefined;
    if (m) yield m;
  }

  // linux/sched.h: an enum in BTF since 5.x; from task_struct.comm before.
  if (want("TASK_COMM_LEN") && enumValue(btf, "TASK_COMM_LEN") === undefined) {
    const comm = arrayLength(btf, "task_struct", "comm");
    const m = comm !== undefined ? make(`TASK_COMM_LEN ${comm}`, "task_struct.comm") : undefined;
    if (m) yield m;
  }

  // linux/blk_types.h: the low REQ_OP_BITS bits of a request's cmd_flags are
  // the operation (enum req_op), the flags follow: the first flag's bit
  // number (__REQ_FAILFAST_DEV) is REQ_OP_BITS, and each REQ_X is the bit
  // __REQ_X of enum req_flag_bits.
  if (only !== undefined && !only.startsWith("REQ_")) return;
  const flags = enumerators(btf, "req_flag_bits");
  const first = flags.find((f) => f.name === "__REQ_FAILFAST_DEV");
  if (first === undefined) return;
  const bits = want("REQ_OP_BITS")
    ? make(`REQ_OP_BITS ${first.value}`, "enum req_flag_bits.__REQ_FAILFAST_DEV")
    : undefined;
  if (bits) yield bits;
  const mask = want("REQ_OP_MASK")
    ? make("REQ_OP_MASK ((1U << REQ_OP_BITS) - 1)", "enum req_flag_bits")
    : undefined;
  if (mask) yield mask;
  for (const f of flags) {
    const m = /^__REQ_(\w+)$/.exec(f.name);
    if (!m || m[1] === "NR_BITS" || !want(`REQ_${m[1]}`) || enumValue(btf, `REQ_${m[1]}`) !== undefined)
      continue;
    const d = make(`REQ_${m[1]} (1ULL << ${f.value})`, `enum req_flag_bits.${f.name}`);
    if (d) yield d;
  }
}
