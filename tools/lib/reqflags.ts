/**
 * bcc's names of a block request's cmd_flags (biolatency -F): the operation
 * (low 8 bits) and the flags bcc names, their values read from the running
 * kernel's BTF (enum req_op, enum req_flag_bits) where it has them, else
 * bcc's own table.
 */
import type { BtfEnum, BtfEnum64 } from "../../src/btf/btf.js";
import { kernelBtf } from "../../src/kernel/kernel_btf.js";

const OP_NAMES: Record<string, string> = {
  REQ_OP_READ: "Read",
  REQ_OP_WRITE: "Write",
  REQ_OP_FLUSH: "Flush",
  REQ_OP_DISCARD: "Discard",
  REQ_OP_SECURE_ERASE: "SecureErase",
  REQ_OP_ZONE_RESET: "ZoneReset",
  REQ_OP_WRITE_SAME: "WriteSame",
  REQ_OP_WRITE_ZEROES: "WriteZeros",
};
/** bcc's req_opf table (its kernels' values). */
const BCC_OPS: Array<[number, string]> = [
  [0, "Read"],
  [1, "Write"],
  [2, "Flush"],
  [3, "Discard"],
  [5, "SecureErase"],
  [6, "ZoneReset"],
  [7, "WriteSame"],
  [9, "WriteZeros"],
];
/** The flags bcc names, in the order it prefixes them (the last one applied comes first). */
const FLAGS: Array<[string, number, string]> = [
  ["__REQ_SYNC", 11, "Sync"],
  ["__REQ_META", 12, "Metadata"],
  ["__REQ_FUA", 17, "ForcedUnitAccess"],
  ["__REQ_PRIO", 13, "Priority"],
  ["__REQ_NOMERGE", 14, "NoMerge"],
  ["__REQ_IDLE", 15, "Idle"],
  ["__REQ_RAHEAD", 19, "ReadAhead"],
  ["__REQ_BACKGROUND", 20, "Background"],
  ["__REQ_NOWAIT", 21, "NoWait"],
];

function enumValues(name: string): Map<string, number> {
  const out = new Map<string, number>();
  try {
    const btf = kernelBtf();
    for (const id of [...btf.findAllByName(name, "ENUM"), ...btf.findAllByName(name, "ENUM64")]) {
      for (const v of (btf.type(id) as BtfEnum | BtfEnum64).values) out.set(v.name, Number(v.value));
    }
  } catch {
    // no BTF: bcc's values
  }
  return out;
}

let table: { ops: Map<number, string>; flags: Array<[number, string]> } | undefined;

function load() {
  if (table) return table;
  const opVals = enumValues("req_op");
  const ops = new Map<number, string>();
  if (opVals.size > 0) {
    for (const [k, v] of opVals) if (OP_NAMES[k]) ops.set(v, OP_NAMES[k] as string);
  } else for (const [v, n] of BCC_OPS) ops.set(v, n);
  const bits = enumValues("req_flag_bits");
  const flags = FLAGS.map(([k, bit, n]): [number, string] => [2 ** (bits.get(k) ?? bit), n]);
  table = { ops, flags };
  return table;
}

/** bcc's flags_print: "Sync-Write", "ReadAhead-Read", … */
export function reqFlagsName(cmdFlags: number): string {
  const { ops, flags } = load();
  let desc = ops.get(cmdFlags & 0xff) ?? "Unknown";
  for (const [bit, name] of flags) if ((cmdFlags & bit) !== 0) desc = `${name}-${desc}`;
  return desc;
}

/** True when the request's operation is a write (REQ_OP_WRITE). */
export function isWrite(cmdFlags: number): boolean {
  return (cmdFlags & 0xff) === 1;
}
