/**
 * Source ranges of AST nodes in the translated text, macro-aware: where an
 * expression written through a macro can be replaced (a whole expansion, or
 * one macro argument used only for reads), and where it cannot.
 */
import { readFileSync } from "node:fs";
import { significant, type Token, tokenize } from "../tokenizer.js";
import type { JLoc, JNode } from "./ast.js";

interface MacroDef {
  name: string;
  params: string[] | undefined;
  bodyStart: number;
  bodyEnd: number;
  /** The parameter the body starts / ends with, if any. */
  firstParam: number;
  lastParam: number;
}

/** A file range [start, end) in the translated text; `arg` when it lies inside one macro argument. */
export interface FileRange {
  start: number;
  end: number;
  arg: boolean;
}

type Resolved =
  | { kind: "plain"; start: number; end: number }
  | { kind: "arg"; start: number; end: number; exp: number }
  | { kind: "body"; exp: number; sp: JLoc };

export class Sources {
  private readonly files = new Map<string, { text: string; toks: Token[] }>();
  private readonly mainSig: Token[];
  private readonly byStart = new Map<number, number>();
  private readonly ranges = new Map<JNode, FileRange | undefined>();

  constructor(
    readonly text: string,
    readonly srcPath: string,
  ) {
    this.mainSig = significant(tokenize(text));
    this.mainSig.forEach((t, i) => {
      this.byStart.set(t.start, i);
    });
  }

  private file(path: string): { text: string; toks: Token[] } | undefined {
    let f = this.files.get(path);
    if (!f) {
      let text: string;
      try {
        text = path === this.srcPath ? this.text : readFileSync(path, "utf8");
      } catch {
        return undefined;
      }
      f = { text, toks: tokenize(text).filter((t) => t.kind === "pp") };
      this.files.set(path, f);
    }
    return f;
  }

  /** The #define directive spelled at (file, offset). */
  defineAt(path: string | undefined, offset: number): MacroDef | undefined {
    if (path === undefined) return undefined;
    const f = this.file(path);
    const pp = f?.toks.find((t) => t.start <= offset && offset < t.end);
    if (!pp) return undefined;
    const m = /^#\s*define\s+([A-Za-z_]\w*)(\(([^)]*)\))?/.exec(pp.text);
    if (!m) return undefined;
    const params = m[2] !== undefined ? (m[3] as string).split(",").map((s) => s.trim()) : undefined;
    const bodyOffset = pp.start + m[0].length;
    // "x " keeps a leading '#' (stringizing) from reading as a directive.
    const body = significant(tokenize(`x ${pp.text.slice(m[0].length)}`)).slice(1);
    const first = body[0];
    const last = body[body.length - 1];
    if (!first || !last) return undefined;
    const p = params ?? [];
    return {
      name: m[1] as string,
      params,
      bodyStart: bodyOffset + first.start - 2,
      bodyEnd: bodyOffset + last.end - 2,
      firstParam: first.kind === "ident" ? p.indexOf(first.text) : -1,
      lastParam: last.kind === "ident" ? p.indexOf(last.text) : -1,
    };
  }

  /**
   * The macro invocation at `exp` (an offset in the translated text): its end
   * and its argument ranges. `functionLike` false: just the name.
   */
  private invocation(
    exp: number,
    functionLike: boolean,
  ): { end: number; args: Array<[number, number]> } | undefined {
    const i = this.byStart.get(exp);
    const nameTok = i === undefined ? undefined : this.mainSig[i];
    if (i === undefined || !nameTok || nameTok.kind !== "ident") return undefined;
    if (!functionLike) return { end: nameTok.end, args: [] };
    if (this.mainSig[i + 1]?.text !== "(") return undefined;
    const args: Array<[number, number]> = [];
    const push = (from: number, to: number, at: number): void => {
      if (to >= from) args.push([(this.mainSig[from] as Token).start, (this.mainSig[to] as Token).end]);
      else args.push([at, at]);
    };
    let depth = 0;
    let argStart = i + 2;
    for (let k = i + 1; k < this.mainSig.length; k++) {
      const t = this.mainSig[k] as Token;
      if (t.text === "(" || t.text === "[" || t.text === "{") depth++;
      else if (t.text === ")" || t.text === "]" || t.text === "}") {
        depth--;
        if (depth === 0) {
          push(argStart, k - 1, t.start);
          return { end: t.end, args };
        }
      } else if (t.text === "," && depth === 1) {
        push(argStart, k - 1, t.start);
        argStart = k + 1;
      }
    }
    return undefined;
  }

  private resolve(l: JLoc): Resolved | undefined {
    if (!l.spellingLoc) {
      if (l.file !== this.srcPath || l.offset === undefined) return undefined;
      return { kind: "plain", start: l.offset, end: l.offset + (l.tokLen ?? 0) };
    }
    const sp = l.spellingLoc;
    const ex = l.expansionLoc;
    if (!ex || ex.file !== this.srcPath || ex.offset === undefined || sp.offset === undefined)
      return undefined;
    if (l.isMacroArgExpansion || ex.isMacroArgExpansion) {
      if (sp.file !== this.srcPath) return undefined;
      return { kind: "arg", start: sp.offset, end: sp.offset + (sp.tokLen ?? 0), exp: ex.offset };
    }
    return { kind: "body", exp: ex.offset, sp };
  }

  /** The macro whose body spells `r`, if it is the one invoked at r's expansion site. */
  private bodyDef(r: { exp: number; sp: JLoc }): MacroDef | undefined {
    const def = this.defineAt(r.sp.file, r.sp.offset ?? -1);
    if (!def) return undefined;
    const i = this.byStart.get(r.exp);
    return i !== undefined && this.mainSig[i]?.text === def.name ? def : undefined;
  }

  /**
   * The text a node covers in the translated file, or undefined when it is not
   * one contiguous piece of the user's text (part of a macro body, across
   * macro arguments, or in a header).
   */
  range(n: JNode): FileRange | undefined {
    if (this.ranges.has(n)) return this.ranges.get(n);
    const r = this.computeRange(n);
    this.ranges.set(n, r);
    return r;
  }

  private computeRange(n: JNode): FileRange | undefined {
    if (!n.range) return undefined;
    const b = this.resolve(n.range.begin);
    const e = this.resolve(n.range.end);
    if (!b || !e) return undefined;
    if (b.kind === "plain" && e.kind === "plain")
      return b.start < e.end ? { start: b.start, end: e.end, arg: false } : undefined;
    if (b.kind === "arg" && e.kind === "arg") {
      if (b.exp !== e.exp || b.start > e.start) return undefined;
      // Both ends inside the same argument of the invocation (a macro with arguments is function-like).
      const inv = this.invocation(b.exp, true);
      const inArg = inv?.args.find(([s, x]) => s <= b.start && e.end <= x);
      return inArg ? { start: b.start, end: e.end, arg: true } : undefined;
    }
    // Otherwise each end must be a boundary of a whole expansion (or plain text).
    const bodyDef = b.kind === "body" ? this.bodyDef(b) : e.kind === "body" ? this.bodyDef(e) : undefined;
    let start: number | undefined;
    let end: number | undefined;
    if (b.kind === "plain") start = b.start;
    else if (b.kind === "body") {
      const def = this.bodyDef(b);
      if (def && def.bodyStart === b.sp.offset) start = b.exp;
    } else {
      // An argument token: the start of the expansion when the body starts with that argument.
      const def = e.kind === "body" && e.exp === b.exp ? bodyDef : this.macroAt(b.exp);
      const inv = def ? this.invocation(b.exp, def.params !== undefined) : undefined;
      if (def && inv && def.firstParam >= 0 && inv.args[def.firstParam]?.[0] === b.start) start = b.exp;
    }
    if (e.kind === "plain") end = e.end;
    else if (e.kind === "body") {
      const def = this.bodyDef(e);
      const inv = def ? this.invocation(e.exp, def.params !== undefined) : undefined;
      if (def && inv && def.bodyEnd === (e.sp.offset ?? -1) + (e.sp.tokLen ?? 0)) end = inv.end;
    } else {
      const def = b.kind === "body" && b.exp === e.exp ? bodyDef : this.macroAt(e.exp);
      const inv = def ? this.invocation(e.exp, def.params !== undefined) : undefined;
      if (def && inv && def.lastParam >= 0 && inv.args[def.lastParam]?.[1] === e.end) end = inv.end;
    }
    if (start === undefined || end === undefined || start >= end) return undefined;
    return { start, end, arg: false };
  }

  /** The definition of the macro invoked at `exp`, among the #defines of the translated text. */
  private macroAt(exp: number): MacroDef | undefined {
    const i = this.byStart.get(exp);
    const name = i === undefined ? undefined : this.mainSig[i]?.text;
    if (name === undefined) return undefined;
    let found: MacroDef | undefined;
    for (const t of this.file(this.srcPath)?.toks ?? []) {
      if (t.start > exp) break;
      const d = /^#\s*define\s+([A-Za-z_]\w*)/.exec(t.text);
      if (d?.[1] === name) found = this.defineAt(this.srcPath, t.start);
    }
    return found;
  }

  /** 1-based line and column of an offset in the translated text. */
  position(offset: number): { line: number; column: number } {
    const before = this.text.slice(0, offset);
    const nl = before.lastIndexOf("\n");
    return { line: before.split("\n").length, column: offset - nl };
  }
}
