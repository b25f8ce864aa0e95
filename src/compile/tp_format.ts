/**
 * Parser for tracefs event `format` files
 * (`/sys/kernel/tracing/events/<category>/<event>/format`) and generator of
 * the C struct that a `TRACEPOINT_PROBE(category, event)` program receives as
 * `args`, laid out exactly like the kernel's trace record.
 *
 * A format file looks like
 *
 * ```text
 * name: sched_process_exec
 * ID: 365
 * format:
 * 	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
 * 	...
 * 	field:__data_loc char[] filename;	offset:8;	size:4;	signed:0;
 * 	field:pid_t pid;	offset:12;	size:4;	signed:1;
 *
 * print fmt: "filename=%s pid=%d", __get_str(filename), REC->pid
 * ```
 *
 * @module
 */

import { BpfError } from "../kernel/errors.js";

/** One `field:` line of a format file. */
export interface TpField {
  /** Field name (without any array suffix). */
  name: string;
  /**
   * C type as written, without the name and without array brackets, e.g.
   * `"const char *"`, `"char"`, `"__u8"`. For `__data_loc`/`__rel_loc` fields
   * this is the element type (`"char"` for `__data_loc char[] name`).
   */
  type: string;
  /** Array length: a number for `name[N]` (0 for `name[0]`), `"dynamic"` for `name[]` and `__data_loc`/`__rel_loc` arrays. */
  arrayLen?: number | "dynamic";
  /** The array length expression as written, when it was not a plain integer (e.g. `sizeof(struct sockaddr_in6)`). */
  arrayLenExpr?: string;
  /** Byte offset within the trace record. */
  offset: number;
  /** Size in bytes within the trace record. */
  size: number;
  /** The `signed:` key (false when the line has none). */
  signed: boolean;
  /** True for `__data_loc` and `__rel_loc` fields (a u32 holding length << 16 | offset). */
  dataLoc: boolean;
  /** True for `__rel_loc` fields (offset relative to the end of the field, not the record start). */
  relLoc: boolean;
}

/** A parsed `format` file. */
export interface TpFormat {
  /** Event name (the `name:` line). */
  name: string;
  /** Event id (the `ID:` line), usable as a perf event config. */
  id: number;
  /** All fields in file order, `common_*` fields included. */
  fields: TpField[];
  /** The `print fmt:` text, when present. */
  printFmt?: string;
}

const FIELD_RE =
  /^field(?: special)?:(.*?);\s*offset:\s*(\d+);\s*size:\s*(\d+);(?:\s*signed:\s*(-?\d+);)?\s*$/;

/**
 * Parse the text of a tracefs event `format` file.
 *
 * @throws BpfError naming the offending line when the text is not a format file.
 */
export function parseTpFormat(text: string): TpFormat {
  let name: string | undefined;
  let id: number | undefined;
  let printFmt: string | undefined;
  let inFormat = false;
  const fields: TpField[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const raw = (lines[n] as string).replace(/\r$/, "");
    const line = raw.trim();
    const where = `format file line ${n + 1}`;
    if (line === "") continue;
    if (line.startsWith("name:")) {
      name = line.slice(5).trim();
      if (name === "") throw new BpfError(`${where}: empty event name`);
      continue;
    }
    if (line.startsWith("ID:")) {
      const idText = line.slice(3).trim();
      if (!/^\d+$/.test(idText)) throw new BpfError(`${where}: bad event ID ${JSON.stringify(idText)}`);
      id = Number(idText);
      continue;
    }
    if (line === "format:") {
      inFormat = true;
      continue;
    }
    if (line.startsWith("print fmt:")) {
      // The print format is the rest of the file: a TP_printk() string with
      // an embedded newline is printed verbatim over several lines.
      printFmt = [raw.trimStart().slice(10), ...lines.slice(n + 1)].join("\n").trim();
      break;
    }
    if (line.startsWith("field")) {
      if (!inFormat) throw new BpfError(`${where}: field line outside the "format:" section`);
      fields.push(parseFieldLine(line, where));
      continue;
    }
    throw new BpfError(`${where}: unrecognized line ${JSON.stringify(raw)}`);
  }
  if (name === undefined) throw new BpfError('format file has no "name:" line');
  if (id === undefined) throw new BpfError(`format file for ${name} has no "ID:" line`);
  if (fields.length === 0) throw new BpfError(`format file for ${name} has no field lines`);
  const result: TpFormat = { name, id, fields };
  if (printFmt !== undefined) result.printFmt = printFmt;
  return result;
}

/** Whether (), [] and {} pair up in the text, with no ';' outside them. */
function balanced(text: string): boolean {
  const open: string[] = [];
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  for (const c of text) {
    if (c === "(" || c === "[" || c === "{") open.push(c);
    else if (c in pairs && open.pop() !== pairs[c]) return false;
    else if (c === ";" && open.length === 0) return false;
  }
  return open.length === 0;
}

function parseFieldLine(line: string, where: string): TpField {
  const m = FIELD_RE.exec(line);
  if (!m) {
    throw new BpfError(
      `${where}: malformed field line ${JSON.stringify(line)} (expected "field:<type> <name>; offset:N; size:N; signed:N;")`,
    );
  }
  const decl = (m[1] ?? "").trim().replace(/\s+/g, " ");
  const offset = Number(m[2]);
  const size = Number(m[3]);
  const signed = m[4] !== undefined && m[4] !== "0";

  // "<type> <name>" or "<type> <name>[len]" (possibly several dimensions).
  const dm = /^(.*?)\s*\b([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)$/.exec(decl);
  if (!dm || (dm[1] ?? "").trim() === "") {
    throw new BpfError(`${where}: cannot split ${JSON.stringify(decl)} into a type and a field name`);
  }
  let type = (dm[1] ?? "").trim();
  const fieldName = dm[2] ?? "";
  const dims = dm[3] ?? "";
  // The type goes into C as written: one declaration's type, brackets balanced.
  if (!balanced(type)) {
    throw new BpfError(
      `${where}: ${JSON.stringify(type)} is not a C type tsbpf can declare field ${fieldName} with`,
    );
  }

  let dataLoc = false;
  let relLoc = false;
  const loc = /^__(data|rel)_loc\b\s*(.*)$/.exec(type);
  if (loc) {
    dataLoc = true;
    relLoc = loc[1] === "rel";
    type = (loc[2] ?? "").replace(/\s*(?:\[[^\]]*\]\s*)*$/, "").trim();
    if (type === "") throw new BpfError(`${where}: ${loc[0]} field ${fieldName} has no element type`);
    return { name: fieldName, type, arrayLen: "dynamic", offset, size, signed, dataLoc, relLoc };
  }

  const field: TpField = { name: fieldName, type, offset, size, signed, dataLoc, relLoc };
  if (dims !== "") {
    const parts = [...dims.matchAll(/\[([^\]]*)\]/g)].map((x) => (x[1] ?? "").trim());
    if (parts.length === 1 && parts[0] === "") {
      field.arrayLen = "dynamic";
    } else {
      const values = parts.map(evalArrayLen);
      const exprs = parts.filter((_, k) => values[k] === undefined);
      if (exprs.length === 0) {
        field.arrayLen = values.reduce((acc: number, v) => acc * (v ?? 1), 1);
      } else {
        // e.g. __u8 saddr[sizeof(struct sockaddr_in6)] on older kernels:
        // derive the element count from the byte size and the element size.
        const elem = knownType(type)?.size;
        if (elem === undefined || size % elem !== 0) {
          throw new BpfError(
            `${where}: cannot determine the length of array ${fieldName}${dims.trim()} ` +
              `(element type ${JSON.stringify(type)} has no known size)`,
          );
        }
        field.arrayLenExpr = exprs.join(" * ");
        field.arrayLen = size / elem;
      }
    }
  }
  return field;
}

/** Evaluate an array length like `16`, `0x10`, `(16 + 1)`, `4 * 2`; undefined otherwise. */
function evalArrayLen(expr: string): number | undefined {
  if (!/^[\s\d+\-*/()xXa-fA-FuUlL]+$/.test(expr)) return undefined;
  const tokens = expr.match(/0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|[+\-*/()]/g);
  if (!tokens || tokens.join("") !== expr.replace(/\s+/g, "")) return undefined;
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const primary = (): number | undefined => {
    const t = tokens[pos++];
    if (t === undefined) return undefined;
    if (t === "(") {
      const v = sum();
      if (tokens[pos++] !== ")") return undefined;
      return v;
    }
    if (t === "-") {
      const v = primary();
      return v === undefined ? undefined : -v;
    }
    const lit = t.replace(/[uUlL]+$/, "");
    if (!/^(?:0[xX][0-9a-fA-F]+|\d+)$/.test(lit)) return undefined;
    return Number(lit);
  };
  const product = (): number | undefined => {
    let v = primary();
    while (v !== undefined && (peek() === "*" || peek() === "/")) {
      const op = tokens[pos++];
      const r = primary();
      if (r === undefined || (op === "/" && r === 0)) return undefined;
      v = op === "*" ? v * r : Math.trunc(v / r);
    }
    return v;
  };
  const sum = (): number | undefined => {
    let v = product();
    while (v !== undefined && (peek() === "+" || peek() === "-")) {
      const op = tokens[pos++];
      const r = product();
      if (r === undefined) return undefined;
      v = op === "+" ? v + r : v - r;
    }
    return v;
  };
  const v = sum();
  if (v === undefined || pos !== tokens.length || !Number.isSafeInteger(v) || v < 0) return undefined;
  return v;
}

/**
 * Kernel annotations that may appear in format-file types but mean nothing
 * (or something unsupported) to a BPF compile: sparse address spaces and
 * x86's per-CPU segment qualifiers (`void __seg_gs * ptr`).
 */
const STRIP_QUALIFIERS =
  /\b(?:__seg_gs|__seg_fs|__percpu|__user|__kernel|__iomem|__rcu|__force|__bitwise|__private)\b/g;

interface KnownType {
  size: number;
  signed: boolean;
}

const KNOWN_TYPES = new Map<string, KnownType>();
function addTypes(size: number, signed: boolean, names: string[]): void {
  for (const n of names) KNOWN_TYPES.set(n, { size, signed });
}
addTypes(1, true, ["char", "signed char", "s8", "__s8", "int8_t"]);
addTypes(1, false, ["unsigned char", "u8", "__u8", "uint8_t", "bool", "_Bool"]);
addTypes(2, true, ["short", "short int", "signed short", "signed short int", "s16", "__s16", "int16_t"]);
addTypes(2, false, [
  "unsigned short",
  "unsigned short int",
  "short unsigned int",
  "u16",
  "__u16",
  "uint16_t",
  "__le16",
  "__be16",
  "umode_t",
]);
addTypes(4, true, [
  "int",
  "signed",
  "signed int",
  "s32",
  "__s32",
  "int32_t",
  "pid_t",
  "key_serial_t",
  "clockid_t",
  "mqd_t",
  "key_t",
  "rwf_t",
  "timer_t",
]);
addTypes(4, false, [
  "unsigned",
  "unsigned int",
  "u32",
  "__u32",
  "uint32_t",
  "__le32",
  "__be32",
  "uid_t",
  "gid_t",
  "qid_t",
  "dev_t",
  "gfp_t",
  "fmode_t",
]);
addTypes(8, true, [
  "long",
  "long int",
  "signed long",
  "signed long int",
  "long long",
  "long long int",
  "signed long long",
  "signed long long int",
  "s64",
  "__s64",
  "int64_t",
  "ssize_t",
  "loff_t",
  "off_t",
  "time64_t",
  "ktime_t",
  "time_t",
  "intptr_t",
  "ptrdiff_t",
  "__kernel_old_time_t",
]);
addTypes(8, false, [
  "unsigned long",
  "unsigned long int",
  "long unsigned int",
  "unsigned long long",
  "unsigned long long int",
  "long long unsigned int",
  "u64",
  "__u64",
  "uint64_t",
  "__le64",
  "__be64",
  "size_t",
  "uintptr_t",
  "ino_t",
  "sector_t",
  "blkcnt_t",
  "aio_context_t",
]);

/** Natural size/signedness of a scalar type on a 64-bit kernel, if known. */
function knownType(type: string): KnownType | undefined {
  const t = type
    .replace(/\b(?:const|volatile)\b/g, " ")
    .replace(STRIP_QUALIFIERS, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (t.endsWith("*")) return { size: 8, signed: false };
  if (/^enum\b/.test(t)) return { size: 4, signed: false };
  return KNOWN_TYPES.get(t);
}

/**
 * The name of the struct bcc's `TRACEPOINT_PROBE(category, event)` passes as
 * `args`: `tracepoint__<category>__<event>`, without the `struct` keyword.
 */
export function tpStructName(category: string, event: string): string {
  for (const [what, v] of [
    ["category", category],
    ["event", event],
  ] as const) {
    if (!/^\w+$/.test(v)) {
      throw new BpfError(`tracepoint ${what} ${JSON.stringify(v)} is not usable in a C identifier`);
    }
  }
  return `tracepoint__${category}__${event}`;
}

/**
 * Emit the C definition of `struct tracepoint__<category>__<event>`, the
 * `args` type of `TRACEPOINT_PROBE(category, event)`, matching the kernel's
 * record layout given by `fmt`.
 *
 * As in bcc, the 8-byte common header becomes `u64 __do_not_use__;` and the
 * `common_*` fields are otherwise omitted; `__data_loc` fields become
 * `int data_loc_<name>;` (what bcc's `TP_DATA_LOC_READ*` macros read) and
 * `__rel_loc` fields `int rel_loc_<name>;` (their offset is relative to the
 * field's end, so the data_loc macros must not be used with them). Arrays
 * keep their length; `name[]` and `name[0]` become zero-length arrays.
 * Like bcc, a scalar of a standard C/kernel type whose size in the record
 * differs from its natural size (syscall arguments are all 8 bytes wide,
 * e.g. `int dfd; size:8`) is emitted as the `s`/`u` integer of the record's
 * size, signed per the C type name; enums whose size is not 4 likewise
 * (signed per the `signed:` key). Syscall arguments of other types that are
 * 8 bytes wide are wrapped as `union { T name; u64 __raw_name; };`.
 * Gaps between fields are filled with explicit `char __pad_<offset>[n];`
 * members, `__attribute__((packed))` is added when a field sits at an offset
 * its type's natural alignment would not allow, and the struct is followed
 * by `_Static_assert`s on every member's offset and size, so a layout
 * mismatch fails at compile time.
 *
 * Types are emitted as written in the format file and are expected to come
 * from a generated vmlinux.h (plus bcc's `u8..u64`/`s8..s64`).
 *
 * @throws BpfError when fields overlap or intrude into the 8-byte common header.
 */
export function tpArgsStruct(category: string, event: string, fmt: TpFormat): string {
  const sname = tpStructName(category, event);
  const full = `struct ${sname}`;
  const label = `tracepoint ${category}:${event}`;
  const members: string[] = ["u64 __do_not_use__;"];
  const checks: { member: string; offset: number; size: number | undefined; field: string }[] = [];
  let cursor = 8;
  let packed = false;
  const fields = fmt.fields.filter((f) => !f.name.startsWith("common_"));
  const isSyscall = category === "syscalls";
  for (const f of fields) {
    if (f.offset < cursor) {
      throw new BpfError(
        cursor === 8 && members.length === 1
          ? `${label}: field ${f.name} at offset ${f.offset} overlaps the 8-byte common header`
          : `${label}: field ${f.name} at offset ${f.offset} overlaps the previous field (which ends at ${cursor})`,
      );
    }
    if (f.offset > cursor) {
      members.push(`char __pad_${cursor}[${f.offset - cursor}];`);
    }
    let decl: string;
    let member = f.name;
    let checkSize: number | undefined = f.size;
    let align: number | undefined;
    if (f.dataLoc) {
      member = `${f.relLoc ? "rel_loc" : "data_loc"}_${f.name}`;
      decl = `int ${member};`;
      align = 4;
    } else if (f.arrayLen !== undefined) {
      const len = f.arrayLen === "dynamic" ? 0 : f.arrayLen;
      decl = `${declare(f.type, f.name)}[${len}];`;
      align = knownType(f.type)?.size;
    } else {
      const known = knownType(f.type);
      const isEnum = /^\s*enum\b/.test(f.type);
      if (known && known.size !== f.size && [1, 2, 4, 8].includes(f.size)) {
        const signed = isEnum ? f.signed : known.signed;
        decl = `${signed ? "s" : "u"}${f.size * 8} ${f.name};`;
        align = f.size;
      } else if (!known && isSyscall && f.size === 8) {
        decl = `union { ${declare(f.type, f.name)}; u64 __raw_${f.name}; };`;
        checkSize = undefined;
        align = undefined;
      } else {
        decl = `${declare(f.type, f.name)};`;
        align = known?.size;
      }
    }
    if (align !== undefined && align > 0 && f.offset % Math.min(align, 8) !== 0) packed = true;
    members.push(decl);
    checks.push({ member, offset: f.offset, size: checkSize, field: f.name });
    cursor = f.offset + f.size;
  }

  let out = `${full} {\n`;
  for (const m of members) out += `\t${m}\n`;
  out += packed ? "} __attribute__((packed));\n" : "};\n";
  for (const c of checks) {
    out +=
      `_Static_assert(__builtin_offsetof(${full}, ${c.member}) == ${c.offset}, ` +
      `"${label}: field ${c.field} must be at offset ${c.offset} as in its format file");\n`;
    if (c.size !== undefined) {
      out +=
        `_Static_assert(sizeof(((${full} *)0)->${c.member}) == ${c.size}, ` +
        `"${label}: field ${c.field} must be ${c.size} byte${c.size === 1 ? "" : "s"} as in its format file");\n`;
    }
  }
  return out;
}

/** `type name` for a member declaration, without a space between a trailing `*` and the name. */
function declare(type: string, name: string): string {
  const t = type.replace(STRIP_QUALIFIERS, " ").replace(/\s+/g, " ").replace(/\s+\*/g, " *").trim();
  return t.endsWith("*") ? `${t}${name}` : `${t} ${name}`;
}
