// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * bcc's packet headers: a socket filter or tc program walks a packet with a
 * cursor (`u8 *cursor = 0; struct ip_t *ip = cursor_advance(cursor,
 * sizeof(*ip));`), so `ip` holds the header's offset in the packet, not an
 * address, and `ip->ttl` means "the ttl field of the IP header at that
 * offset". bcc translates each read of a field of a struct marked
 * BPF_PACKET_HEADER (its <bcc/proto.h>, or the program's own) through a plain
 * pointer variable into bpf_dext_pkt(ctx, (u64)ip + BYTE, BIT, WIDTH), a
 * packet load whose value is in host order, and each assignment into
 * bpf_dins_pkt(ctx, ..., value); `ctx` is the function's first parameter.
 * Left as written, the program dereferences a small integer: clang, seeing a
 * null-based pointer, folds the program to nothing, and the verifier rejects
 * what is left.
 *
 * This module does the same on the translated text, token by token; the
 * fields' places come from the struct definitions, laid out as packed
 * structs are (bit-fields back to back, other members on the next byte),
 * with BIT counted from the most significant bit of the bytes at BYTE, as on
 * the wire. incr_cksum_l3/l4(&ip->field, old, new[, pseudo]) get the
 * function's first parameter too (tsbpf/prelude.h). Every edit keeps the
 * number of lines of what it replaces.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CompileError } from "../kernel/errors.js";
import { significant, type Token, tokenize } from "./tokenizer.js";

/** A field of a packet header: its first bit (from the struct's start) and its width in bits. */
export interface PacketField {
  bit: number;
  bits: number;
  /** An array member: not translated (bcc does not either). */
  array: boolean;
}

/** The packet header structs, by tag, each a map of its fields. */
export type PacketStructs = Map<string, Map<string, PacketField>>;

/** Sizes in bytes of the scalar types a packet header's fields are declared with. */
const SCALAR_BYTES = new Map<string, number>(
  (
    [
      [1, "char,signed char,unsigned char,u8,s8,__u8,__s8,int8_t,uint8_t,_Bool,bool"],
      [
        2,
        "short,short int,signed short,unsigned short,unsigned short int,u16,s16,__u16,__s16,__be16,__le16,int16_t,uint16_t",
      ],
      [4, "int,signed int,signed,unsigned int,unsigned,u32,s32,__u32,__s32,__be32,__le32,int32_t,uint32_t"],
      [
        8,
        "long,long int,unsigned long,unsigned long int,long long,long long int,unsigned long long,unsigned long long int,u64,s64,__u64,__s64,__be64,__le64,int64_t,uint64_t",
      ],
    ] as const
  ).flatMap(([bytes, names]) => names.split(",").map((n): [string, number] => [n, bytes])),
);

/** Source text with comments blanked (so that a regex over it never matches inside one). */
function withoutComments(text: string): string {
  let out = "";
  let at = 0;
  for (const t of tokenize(text)) {
    if (t.kind !== "comment") continue;
    out += text.slice(at, t.start) + t.text.replace(/[^\n]/g, " ");
    at = t.end;
  }
  return out + text.slice(at);
}

/**
 * The structs `struct NAME { ... } BPF_PACKET_HEADER;` of a text, laid out
 * as packed. A struct with a member of a type this does not know is left out.
 */
export function packetStructs(text: string, into: PacketStructs = new Map()): PacketStructs {
  const re = /\bstruct\s+(\w+)\s*\{([^{}]*)\}\s*BPF_PACKET_HEADER\s*;/g;
  for (const m of withoutComments(text).matchAll(re)) {
    const fields = layout(m[2] as string);
    if (fields) into.set(m[1] as string, fields);
  }
  return into;
}

/** Packed layout of a struct body: each bit-field at the next bit, each other member at the next byte. */
function layout(body: string): Map<string, PacketField> | undefined {
  const fields = new Map<string, PacketField>();
  let bit = 0;
  for (const decl of body.split(";")) {
    const d = decl.replace(/\s+/g, " ").trim();
    if (d === "") continue;
    // TYPE declarator[, declarator]...: the type is the words before the first declarator.
    const first = /^(.*?)\s*\b(\w+)\s*((?:\[\s*\d+\s*\])?\s*(?::\s*\d+)?)\s*(,.*)?$/.exec(d);
    if (!first) return undefined;
    const type = (first[1] as string).replace(/\s*\bconst\b\s*/g, " ").trim();
    const size = SCALAR_BYTES.get(type);
    if (size === undefined) return undefined;
    const declarators = [`${first[2]}${first[3]}`, ...((first[4] ?? "").split(",").slice(1) as string[])];
    for (const raw of declarators) {
      const m = /^\s*(\w+)\s*(?:\[\s*(\d+)\s*\])?\s*(?::\s*(\d+))?\s*$/.exec(raw);
      if (!m) return undefined;
      const [, name, count, width] = m as unknown as [string, string, string | undefined, string | undefined];
      if (width !== undefined) {
        fields.set(name, { bit, bits: Number(width), array: false });
        bit += Number(width);
      } else {
        bit = Math.ceil(bit / 8) * 8;
        const n = count === undefined ? 1 : Number(count);
        fields.set(name, { bit, bits: size * 8 * n, array: count !== undefined });
        bit += size * 8 * n;
      }
    }
  }
  return fields;
}

/** Whether a translated text may use packet headers (the pass below has work to do). */
export function usesPacketHeaders(text: string): boolean {
  return /\bBPF_PACKET_HEADER\b|\bbcc\/proto\.h\b|\bincr_cksum_l[34]\b/.test(text);
}

let protoStructs: PacketStructs | undefined;

/** The structs of tsbpf's own <bcc/proto.h> (read once). */
function ownProtoStructs(headersDir: string): PacketStructs {
  protoStructs ??= packetStructs(readFileSync(join(headersDir, "bcc", "proto.h"), "utf8"));
  return protoStructs;
}

const COMPOUND = new Set(["+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="]);
const CLOSERS = new Set([";", ",", ")", "]", "}"]);
const UNEVALUATED = new Set(["sizeof", "typeof", "__typeof__", "__typeof", "_Alignof", "__alignof__"]);

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The result of {@link rewritePacketHeaders}. */
export interface PacketRewrite {
  code: string;
  /** Field reads and writes translated. */
  rewrites: number;
}

/**
 * Translates packet header field accesses (see the module comment).
 *
 * @throws CompileError for a field access it cannot translate (an array
 * member, `++`/`--`), which would otherwise compile to a wrong program.
 */
export function rewritePacketHeaders(
  translated: string,
  headersDir: string,
  fileName: string,
): PacketRewrite {
  const structs = packetStructs(translated, new Map(ownProtoStructs(headersDir)));
  const toks = significant(tokenize(translated)).filter((t) => t.kind !== "pp");
  const edits: Edit[] = [];
  let rewrites = 0;
  const fail = (t: Token, message: string): never => {
    const text = `${fileName}:${t.line}:${t.column}: error: ${message}`;
    throw new CompileError(text, [
      { file: fileName, line: t.line, column: t.column, severity: "error", message },
    ]);
  };
  for (const fn of functions(toks)) {
    const ctx = firstParameter(toks, fn.params, fn.body);
    const vars = packetVariables(toks, fn.params, fn.end, structs);
    for (let i = fn.body; i < fn.end; i++) {
      const t = toks[i] as Token;
      if (t.kind === "ident" && (t.text === "incr_cksum_l3" || t.text === "incr_cksum_l4")) {
        if (toks[i + 1]?.text !== "(" || ctx === undefined) continue;
        edits.push({ start: t.start, end: (toks[i + 1] as Token).end, text: `__tsbpf_${t.text}(${ctx}, ` });
        continue;
      }
      const struct = t.kind === "ident" ? vars.get(t.text) : undefined;
      if (!struct || toks[i + 1]?.text !== "->") continue;
      const prev = toks[i - 1];
      if (prev && (prev.text === "->" || prev.text === ".")) continue;
      if (
        prev &&
        (UNEVALUATED.has(prev.text) || (prev.text === "(" && UNEVALUATED.has(toks[i - 2]?.text ?? "")))
      )
        continue;
      if (prev?.text === "&" && !isOperandEnd(toks, i - 2)) continue; // an address: the field's offset
      const fieldTok = toks[i + 2];
      const field = fieldTok?.kind === "ident" ? structs.get(struct)?.get(fieldTok.text) : undefined;
      if (!fieldTok || !field) continue;
      const access = `${t.text}->${fieldTok.text}`;
      if (ctx === undefined)
        fail(
          t,
          `packet header field ${access} in a function without parameters: its first must be the packet`,
        );
      const next = toks[i + 3];
      if (field.array)
        fail(
          fieldTok,
          `packet header field ${access} is an array: read its bytes with load_byte(${ctx}, offset)`,
        );
      if (next && (next.text === "++" || next.text === "--"))
        fail(
          next,
          `packet header field ${access}${next.text} is not translated: write ${access} = ${access} ${next.text[0]} 1`,
        );
      if (prev && (prev.text === "++" || prev.text === "--"))
        fail(
          prev,
          `packet header field ${prev.text}${access} is not translated: write ${access} = ${access} ${prev.text[0]} 1`,
        );
      const place = `${ctx}, (u64)${t.text} + ${field.bit >> 3}, ${field.bit & 7}, ${field.bits}`;
      const span = (end: number, text: string): Edit => ({
        start: t.start,
        end,
        text: text + "\n".repeat(newlines(translated.slice(t.start, end))),
      });
      rewrites++;
      if (next && (next.text === "=" || COMPOUND.has(next.text))) {
        const rhsEnd = expressionEnd(toks, i + 4);
        const value = next.text === "=" ? "" : `bpf_dext_pkt(${place}) ${next.text.slice(0, -1)} `;
        edits.push(span(toks[i + 4]?.start ?? next.end, `bpf_dins_pkt(${place}, ${value}(`));
        edits.push({ start: rhsEnd, end: rhsEnd, text: "))" });
      } else {
        edits.push(span(fieldTok.end, `bpf_dext_pkt(${place})`));
      }
    }
  }
  if (edits.length === 0) return { code: translated, rewrites: 0 };
  edits.sort((a, b) => a.start - b.start || a.end - b.end);
  let code = "";
  let at = 0;
  for (const e of edits) {
    code += translated.slice(at, e.start) + e.text;
    at = Math.max(at, e.end);
  }
  return { code: code + translated.slice(at), rewrites };
}

function newlines(s: string): number {
  let n = 0;
  for (const c of s) if (c === "\n") n++;
  return n;
}

const TYPE_WORDS = new Set([
  "void",
  "char",
  "short",
  "int",
  "long",
  "unsigned",
  "signed",
  "const",
  "volatile",
  "_Bool",
  "bool",
]);

/**
 * Whether token `at` ends an operand, so that a `&` after it is binary, not
 * the address-of operator: an identifier, a number, `]`, or a `)` that does
 * not close a cast (`(u64)&ip->hchecksum`).
 */
function isOperandEnd(toks: Token[], at: number): boolean {
  const t = toks[at];
  if (t === undefined) return false;
  if (t.text !== ")") return t.kind === "ident" || t.kind === "number" || t.text === "]";
  let open = at;
  for (let d = 0; open >= 0; open--) {
    const x = (toks[open] as Token).text;
    if (x === ")") d++;
    else if (x === "(" && --d === 0) break;
  }
  const inner = toks.slice(open + 1, at);
  const isType = inner.every(
    (x, k) =>
      x.text === "*" ||
      TYPE_WORDS.has(x.text) ||
      /^(?:__)?[us](?:8|16|32|64)$|_t$/.test(x.text) ||
      ["struct", "union", "enum"].includes(inner[k - 1]?.text ?? "") ||
      ["struct", "union", "enum"].includes(x.text),
  );
  return !(inner.length > 0 && isType);
}

/** The offset just past the expression starting at token `from` (up to a closer at its own depth). */
function expressionEnd(toks: Token[], from: number): number {
  let depth = 0;
  for (let i = from; i < toks.length; i++) {
    const t = toks[i] as Token;
    if (t.text === "(" || t.text === "[" || t.text === "{") depth++;
    else if (depth > 0 && (t.text === ")" || t.text === "]" || t.text === "}")) depth--;
    else if (depth === 0 && CLOSERS.has(t.text)) return t.start;
  }
  return (toks[toks.length - 1] as Token).end;
}

/** Function definitions at file scope: their parameter list's "(", their body's "{" and the index past its "}". */
function functions(toks: Token[]): Array<{ params: number; body: number; end: number }> {
  const out: Array<{ params: number; body: number; end: number }> = [];
  let depth = 0;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] as Token;
    if (t.text === "{") {
      if (depth === 0 && toks[i - 1]?.text === ")") {
        let open = i - 1;
        for (let d = 0; open >= 0; open--) {
          const x = (toks[open] as Token).text;
          if (x === ")") d++;
          else if (x === "(" && --d === 0) break;
        }
        let end = i + 1;
        for (let d = 1; end < toks.length && d > 0; end++) {
          const x = (toks[end] as Token).text;
          if (x === "{") d++;
          else if (x === "}") d--;
        }
        out.push({ params: open, body: i + 1, end });
        i = end - 1;
        continue;
      }
      depth++;
    } else if (t.text === "}") depth = Math.max(0, depth - 1);
  }
  return out;
}

/** The name of a function's first parameter (bcc's packet argument), if it has one. */
function firstParameter(toks: Token[], params: number, body: number): string | undefined {
  let name: string | undefined;
  for (let i = params + 1, depth = 0; i < body; i++) {
    const t = toks[i] as Token;
    if (t.text === "(" || t.text === "[") depth++;
    else if (t.text === ")" || t.text === "]") {
      if (depth-- === 0) break;
    } else if (depth === 0 && t.text === ",") break;
    else if (depth === 0 && t.kind === "ident" && t.text !== "void") name = t.text;
  }
  return name;
}

/** Variables and parameters declared `struct PKT *name` in a function, by name, with their struct. */
function packetVariables(
  toks: Token[],
  from: number,
  to: number,
  structs: PacketStructs,
): Map<string, string> {
  const vars = new Map<string, string>();
  for (let i = from; i + 3 < to; i++) {
    if ((toks[i] as Token).text !== "struct") continue;
    const tag = (toks[i + 1] as Token).text;
    if (!structs.has(tag) || (toks[i + 2] as Token).text !== "*") continue;
    const name = toks[i + 3] as Token;
    const after = toks[i + 4]?.text ?? "";
    if (name.kind === "ident" && ["=", ";", ",", ")"].includes(after)) vars.set(name.text, tag);
  }
  return vars;
}
