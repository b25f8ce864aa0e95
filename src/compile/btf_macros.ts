/**
 * Kernel macros whose values this kernel's BTF knows, so that they are this
 * kernel's and not a guess: array lengths (DNAME_INLINE_LEN is the length of
 * the dentry's inline name, DISK_NAME_LEN of gendisk.disk_name) and the
 * block layer's request flags (REQ_OP_BITS, REQ_OP_MASK and each REQ_*
 * flag from enum req_flag_bits). A name the BTF cannot answer is left out,
 * and the compile then says it is unknown.
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

/** The value of enumerator `value` in any enum of the BTF. */
function enumValue(btf: Btf, value: string): bigint | undefined {
  for (const t of btf.all()) {
    if (t.kind !== "ENUM" && t.kind !== "ENUM64") continue;
    const v = (t as BtfEnum | BtfEnum64).values.find((x) => x.name === value);
    if (v) return BigInt(v.value);
  }
  return undefined;
}

/** The enumerators of the named enum. */
function enumerators(btf: Btf, name: string): Array<{ name: string; value: bigint }> {
  const id = btf.findByName(name, "ENUM") ?? btf.findByName(name, "ENUM64");
  if (id === undefined) return [];
  return (btf.type(id) as BtfEnum | BtfEnum64).values.map((v) => ({ name: v.name, value: BigInt(v.value) }));
}

/** The macros derived from `btf` (the running kernel's by default). */
export function btfMacros(btf: Btf = kernelBtf()): MacroDef[] {
  const out: MacroDef[] = [];
  const add = (definition: string, origin: string): void => {
    const m = macro(definition, `BTF: ${origin}`);
    if (m) out.push(m);
  };

  // linux/dcache.h: the inline name of a dentry (d_iname; a union
  // d_shortname since 6.14, whose size is the same length).
  const dname = arrayLength(btf, "dentry", "d_iname") ?? memberSize(btf, "dentry", "d_shortname");
  if (dname !== undefined) add(`DNAME_INLINE_LEN ${dname}`, "dentry.d_iname");

  // linux/blkdev.h (linux/genhd.h before 5.18): the disk name.
  const disk = arrayLength(btf, "gendisk", "disk_name");
  if (disk !== undefined) add(`DISK_NAME_LEN ${disk}`, "gendisk.disk_name");

  // linux/sched.h: an enum in BTF since 5.x; from task_struct.comm before.
  if (enumValue(btf, "TASK_COMM_LEN") === undefined) {
    const comm = arrayLength(btf, "task_struct", "comm");
    if (comm !== undefined) add(`TASK_COMM_LEN ${comm}`, "task_struct.comm");
  }

  // linux/blk_types.h: the low REQ_OP_BITS bits of a request's cmd_flags are
  // the operation (enum req_op), the flags follow: the first flag's bit
  // number (__REQ_FAILFAST_DEV) is REQ_OP_BITS, and each REQ_X is the bit
  // __REQ_X of enum req_flag_bits.
  const flags = enumerators(btf, "req_flag_bits");
  const first = flags.find((f) => f.name === "__REQ_FAILFAST_DEV");
  if (first !== undefined) {
    add(`REQ_OP_BITS ${first.value}`, "enum req_flag_bits.__REQ_FAILFAST_DEV");
    add("REQ_OP_MASK ((1U << REQ_OP_BITS) - 1)", "enum req_flag_bits");
    for (const f of flags) {
      const m = /^__REQ_(\w+)$/.exec(f.name);
      if (!m || m[1] === "NR_BITS" || enumValue(btf, `REQ_${m[1]}`) !== undefined) continue;
      add(`REQ_${m[1]} (1ULL << ${f.value})`, `enum req_flag_bits.${f.name}`);
    }
  }
  return out;
}
