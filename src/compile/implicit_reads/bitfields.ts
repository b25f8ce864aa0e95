/**
 * Whether a member access names a bit-field, which clang's JSON does not say
 * on the MemberExpr. A kernel record answers from the kernel's BTF (the BTF
 * vmlinux.h was generated from), looked up by the addon's cached index; the
 * program's own records (which the BTF does not know) from their definition
 * in the program's text.
 */
import { VMLINUX_BTF } from "../../kernel/kernel_info.js";
import { native } from "../../native.js";
import { significant, type Token, tokenize } from "../tokenizer.js";
import { child, type JNode, typeText } from "./ast.js";

/** The answer for one member access. */
export interface BitfieldAnswer {
  bitfield: boolean;
  /** False when the record is one the program defines (no CO-RE relocation can reach it). */
  kernel: boolean;
}

/** A struct or union the program defines: its body's tokens (braces excluded). */
interface OwnRecord {
  start: number;
  body: Token[];
}

/**
 * clang's spellings of an anonymous record type: "struct (unnamed struct at
 * FILE:LINE:COL)", "struct sk_buff::(anonymous at FILE:LINE:COL)".
 */
const ANONYMOUS = /\((?:unnamed|anonymous)(?: struct| union)? at (.+):(\d+):(\d+)\)$/;

export class Bitfields {
  private own: { byName: Map<string, OwnRecord>; byStart: OwnRecord[] } | undefined;
  private readonly cache = new Map<string, number>();

  constructor(
    private readonly text: string,
    private readonly srcPath: string,
  ) {}

  /** For the MemberExpr `m` (`p->f`, `x.f`): is f a bit-field, and of which kind of record. */
  of(m: JNode): BitfieldAnswer {
    const path = [m.name ?? ""];
    let node = m;
    for (let depth = 0; depth < 16; depth++) {
      const base = unparen(child(node));
      if (!base) break;
      const type = recordType(node, base);
      const anon = ANONYMOUS.exec(type);
      if (anon) {
        if (anon[1] === this.srcPath)
          return this.ownAnswer(this.ownAt(Number(anon[2]), Number(anon[3])), path);
        // A member of an anonymous kernel record: ask about the path from the named record around it.
        if (base.kind !== "MemberExpr" || node.isArrow) break;
        if (base.name) path.unshift(base.name);
        node = base;
        continue;
      }
      const named = /^(?:(struct|union)\s+)?(\w+)$/.exec(type);
      if (!named) break;
      const own = this.ownRecords().byName.get(named[2] as string);
      if (own) return this.ownAnswer(own, path);
      return { bitfield: this.kernelWidth(named[1] ?? "", named[2] as string, path) > 0, kernel: true };
    }
    return { bitfield: false, kernel: true };
  }

  /** The width of the kernel member reached by `path` from `kind name`; -1 when the BTF lacks it. */
  private kernelWidth(kind: string, name: string, path: string[]): number {
    const key = `${kind} ${name}.${path.join(".")}`;
    let width = this.cache.get(key);
    if (width === undefined) {
      try {
        width = native().btfBitfield(VMLINUX_BTF, kind, name, path);
      } catch {
        width = -1; // no kernel BTF: then no kernel record either
      }
      this.cache.set(key, width);
    }
    return width;
  }

  private ownAnswer(rec: OwnRecord | undefined, path: string[]): BitfieldAnswer {
    // Only a member of the record itself is looked at: a program's records nest rarely.
    const field = path.length === 1 ? path[0] : undefined;
    return {
      bitfield: rec !== undefined && field !== undefined && declaresBitfield(rec.body, field),
      kernel: false,
    };
  }

  /** The program's record whose definition starts at (or is the first to start after) line:col. */
  private ownAt(line: number, col: number): OwnRecord | undefined {
    let offset = 0;
    for (let l = 1; l < line && offset >= 0; l++) offset = this.text.indexOf("\n", offset) + 1;
    offset += col - 1;
    return this.ownRecords().byStart.find((r) => r.start >= offset);
  }

  /** Every struct or union body in the program's text, by tag and typedef name. */
  private ownRecords(): { byName: Map<string, OwnRecord>; byStart: OwnRecord[] } {
    if (this.own) return this.own;
    const sig = significant(tokenize(this.text)).filter((t) => t.kind !== "pp");
    const byName = new Map<string, OwnRecord>();
    const byStart: OwnRecord[] = [];
    for (let i = 0; i < sig.length; i++) {
      const kw = sig[i] as Token;
      if (kw.text !== "struct" && kw.text !== "union") continue;
      const tag = sig[i + 1]?.kind === "ident" ? sig[i + 1] : undefined;
      const open = tag ? i + 2 : i + 1;
      if (sig[open]?.text !== "{") continue;
      const close = matching(sig, open);
      if (close < 0) continue;
      const rec = { start: kw.start, body: sig.slice(open + 1, close) };
      byStart.push(rec);
      if (tag) byName.set(tag.text, rec);
      // typedef struct { … } name;
      if (sig[i - 1]?.text === "typedef" && sig[close + 1]?.kind === "ident")
        byName.set((sig[close + 1] as Token).text, rec);
    }
    this.own = { byName, byStart };
    return this.own;
  }
}

const unparen = (n: JNode | undefined): JNode | undefined => {
  let x = n;
  while (x?.kind === "ParenExpr") x = child(x);
  return x;
};

/** The record type a member is looked up in: the base's type, or what it points to for `->`. */
function recordType(member: JNode, base: JNode): string {
  const t = typeText(base);
  return (member.isArrow ? t.replace(/\*\s*$/, "") : t).replace(/\b(const|volatile)\b/g, "").trim();
}

/** The index of the brace matching the one at `open`, or -1. */
function matching(sig: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < sig.length; i++) {
    const t = (sig[i] as Token).text;
    if (t === "{") depth++;
    else if (t === "}" && --depth === 0) return i;
  }
  return -1;
}

/** Whether the body declares `field` with a width ("unsigned a: 3, b: 5;"), at its own level. */
function declaresBitfield(body: Token[], field: string): boolean {
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const t = (body[i] as Token).text;
    if (t === "{" || t === "(" || t === "[") depth++;
    else if (t === "}" || t === ")" || t === "]") depth--;
    else if (depth === 0 && t === field && body[i + 1]?.text === ":") return true;
  }
  return false;
}
