/**
 * Turning the reads the analysis found into edits of the text (one per
 * range, none overlapping partially) and emitting the rewritten text.
 */

import { significant, tokenize } from "../tokenizer.js";
import { GENERIC_READ, UNEVALUATED_CALL } from "./analysis.js";
import { calleeName, child, children, type Fn, type JNode } from "./ast.js";
import type { Bitfields } from "./bitfields.js";
import type { FileRange, Sources } from "./sources.js";

/** One read through external memory: the LValueToRValue cast and the lvalue it reads. */
export interface Site {
  cast: JNode;
  lvalue: JNode;
  range: FileRange;
}

/** A replacement of one range of the text: reads (one per occurrence of a macro argument) or a rename. */
export interface Edit {
  start: number;
  end: number;
  sites: Site[];
  rename?: string;
}

export class SiteFailure extends Error {
  constructor(
    readonly edit: Edit,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export const newlines = (s: string): number => {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
};

export class Emitter {
  private readonly siteByNode = new Map<JNode, Edit>();
  private readonly temps = new Map<string, number>();
  private readonly texts = new Map<Edit, string>();
  private nextTemp = 1;
  emitted = 0;

  constructor(
    private readonly src: Sources,
    private readonly bitfields: Bitfields,
    private readonly edits: Edit[],
  ) {
    for (const e of edits) for (const s of e.sites) this.siteByNode.set(s.cast, e);
  }

  /** The whole text with every edit applied. */
  run(): string {
    return this.emitRange(0, this.src.text.length, true);
  }

  /**
   * The text of [start, end) with the outermost edits inside it applied. At
   * the top level each edit is followed by the newlines of the text it
   * replaced that it does not hold itself, so lines stay where they were.
   */
  private emitRange(start: number, end: number, top = false): string {
    let out = "";
    let cursor = start;
    for (const e of this.edits) {
      if (e.start < cursor || e.end > end || e.start < start) continue;
      let text = this.editText(e);
      if (top) {
        const pad = newlines(this.src.text.slice(e.start, e.end)) - newlines(text);
        if (pad < 0) throw new SiteFailure(e, "the rewrite would move line numbers");
        text += "\n".repeat(pad);
      }
      out += this.src.text.slice(cursor, e.start) + text;
      cursor = e.end;
    }
    return out + this.src.text.slice(cursor, end);
  }

  private editText(e: Edit): string {
    const done = this.texts.get(e);
    if (done !== undefined) return done;
    let text: string;
    if (e.rename !== undefined) text = e.rename;
    else {
      const texts = e.sites.map((s) => this.readText(e, s));
      if (texts.some((t) => t !== texts[0]))
        throw new SiteFailure(e, "a macro argument read in different ways by its expansion");
      text = texts[0] as string;
    }
    this.texts.set(e, text);
    this.emitted++;
    return text;
  }

  private temp(e: Edit): string {
    const key = `${e.start}:${e.end}`;
    let n = this.temps.get(key);
    if (n === undefined) {
      n = this.nextTemp++;
      this.temps.set(key, n);
    }
    return `__tsbpf_v${n}`;
  }

  /** The original text of an expression, one line, for typeof(). */
  private orig(r: FileRange): string {
    return significant(tokenize(this.src.text.slice(r.start, r.end)))
      .map((t) => t.text)
      .join(" ");
  }

  private readText(e: Edit, s: Site): string {
    const v = this.temp(e);
    const ty = `typeof(0, ${this.orig(s.range)})`;
    const bf = this.bitfieldAccess(e, s.lvalue);
    if (bf) {
      return (
        `({ __auto_type ${v}p = ${bf.ptr}; ${ty} ${v} = (${ty})BPF_CORE_READ_BITFIELD_PROBED(${v}p, ${bf.field}); ` +
        `${v}; })`
      );
    }
    const addr = this.addr(e, s.lvalue);
    return `({ ${ty} ${v}; bpf_probe_read_kernel((void *)&${v}, sizeof(${v}), (const void *)${addr}); ${v}; })`;
  }

  /** For `p->f` / `x.f` naming a bit-field: the pointer to the record and the field. */
  private bitfieldAccess(e: Edit, l: JNode): { ptr: string; field: string } | undefined {
    let n = l;
    while (n.kind === "ParenExpr" && child(n)) n = child(n) as JNode;
    if (n.kind !== "MemberExpr" || !n.name || !child(n)) return undefined;
    const bf = this.bitfields.of(n);
    if (!bf.bitfield) return undefined;
    if (!bf.kernel)
      throw new SiteFailure(
        e,
        `bit-field ${n.name} of a struct the program defines (no CO-RE relocation for it)`,
      );
    return { ptr: this.memberPointer(e, n), field: n.name };
  }

  /** A pointer to the record a member is accessed in, skipping anonymous members (C reaches through them). */
  private memberPointer(e: Edit, m: JNode): string {
    let base = child(m) as JNode;
    let arrow = m.isArrow === true;
    while (!arrow && base.kind === "MemberExpr" && base.name === "" && child(base)) {
      arrow = base.isArrow === true;
      base = child(base) as JNode;
    }
    return arrow ? `(${this.value(e, base)})` : this.addr(e, base);
  }

  /** ADDR(l): a pointer to the external lvalue l. */
  private addr(e: Edit, l: JNode): string {
    switch (l.kind) {
      case "ParenExpr":
      case "ImplicitCastExpr": {
        const c = child(l);
        if (c) return this.addr(e, c);
        break;
      }
      case "MemberExpr":
        if (l.name) return `(&${this.memberPointer(e, l)}->${l.name})`;
        break;
      case "UnaryOperator":
        if (l.opcode === "*" && child(l)) return `(${this.value(e, child(l) as JNode)})`;
        break;
      case "ArraySubscriptExpr": {
        const [a, b] = children(l);
        if (a && b) return `(&(${this.value(e, a)})[${this.value(e, b)}])`;
        break;
      }
      default:
        break;
    }
    throw new SiteFailure(e, `cannot take the address of a ${l.kind}`);
  }

  /** The text of an rvalue (or lvalue) operand, with the edits inside it applied. */
  private value(e: Edit, n: JNode): string {
    const nested = this.siteByNode.get(n);
    if (nested) return this.editText(nested);
    const r = this.src.range(n);
    if (r && r.start >= e.start && r.end <= e.end && !(r.start === e.start && r.end === e.end))
      return this.emitRange(r.start, r.end);
    // Inside a macro body: rebuild the few node kinds that can be.
    const c = child(n);
    switch (n.kind) {
      case "ParenExpr":
        if (c) return `(${this.value(e, c)})`;
        break;
      case "ImplicitCastExpr":
        if (c) return this.value(e, c);
        break;
      case "DeclRefExpr":
        if (n.referencedDecl?.name) return n.referencedDecl.name;
        break;
      case "IntegerLiteral":
        if (n.value !== undefined) return n.value;
        break;
      case "MemberExpr":
        if (c) return n.name ? `${this.value(e, c)}${n.isArrow ? "->" : "."}${n.name}` : this.value(e, c);
        break;
      default:
        break;
    }
    throw new SiteFailure(e, "the expression is part of a macro's body");
  }
}

/** Nodes by the text range they cover (to find every expansion of one macro argument). */
export function buildRangeIndex(
  fns: Map<string, Fn>,
  src: Sources,
): Map<string, Array<{ node: JNode; parent?: JNode; excluded: boolean }>> {
  const index = new Map<string, Array<{ node: JNode; parent?: JNode; excluded: boolean }>>();
  const visit = (n: JNode, parent: JNode | undefined, excluded: boolean): void => {
    const ex =
      excluded ||
      n.kind === "UnaryExprOrTypeTraitExpr" ||
      n.kind === "OffsetOfExpr" ||
      n.kind === "GenericSelectionExpr" ||
      (n.kind === "CallExpr" && UNEVALUATED_CALL.test(calleeName(n) ?? ""));
    const r = n.range ? src.range(n) : undefined;
    if (r?.arg) {
      const key = `${r.start}:${r.end}`;
      const list = index.get(key) ?? [];
      index.set(key, list);
      list.push({ node: n, parent, excluded: ex });
    }
    const generic = n.kind === "CallExpr" && GENERIC_READ.test(calleeName(n) ?? "");
    children(n).forEach((c, i) => {
      visit(c, n, ex || (generic && i === 3));
    });
  };
  for (const fn of fns.values()) visit(fn.body, undefined, false);
  return index;
}

/** The edits for the enabled sites: one per range, none overlapping partially. */
export function buildEdits(
  sites: Site[],
  disabled: Set<Site>,
  kernelCallees: Map<number, { end: number; name: string }>,
  src: Sources,
  rangeIndex: Map<string, Array<{ node: JNode; parent?: JNode; excluded: boolean }>>,
  note: (offset: number, reason: string) => void,
): Edit[] {
  const byRange = new Map<string, Edit>();
  for (const s of sites) {
    if (disabled.has(s)) continue;
    if (s.range.start < 0) {
      disabled.add(s);
      const at = s.cast.range?.begin.expansionLoc?.offset ?? s.cast.range?.begin.offset ?? 0;
      note(at, "it is part of a macro's expansion that cannot be rewritten at its call site");
      continue;
    }
    const key = `${s.range.start}:${s.range.end}`;
    const e = byRange.get(key);
    if (e) e.sites.push(s);
    else byRange.set(key, { start: s.range.start, end: s.range.end, sites: [s] });
  }
  // A macro argument is rewritten once for all its uses: each must be a read (or unevaluated).
  for (const [key, e] of byRange) {
    if (!e.sites[0]?.range.arg) continue;
    const lvalues = new Set(e.sites.map((s) => s.lvalue));
    const ok = (rangeIndex.get(key) ?? []).every(
      ({ node, parent, excluded }) =>
        excluded ||
        lvalues.has(node) ||
        node.valueCategory !== "lvalue" ||
        (parent !== undefined && sameRange(src, parent, node) && parent.valueCategory === "lvalue"),
    );
    if (!ok) {
      note(e.start, "a macro argument that the macro also uses other than by reading it");
      for (const s of e.sites) disabled.add(s);
      byRange.delete(key);
    }
  }
  for (const [start, { end, name }] of kernelCallees) {
    const key = `${start}:${end}`;
    if (!byRange.has(key)) byRange.set(key, { start, end, sites: [], rename: name });
  }
  const edits = [...byRange.values()].sort((a, b) => a.start - b.start || b.end - a.end);
  // Partial overlaps cannot be nested: keep the first.
  const out: Edit[] = [];
  const open: Edit[] = [];
  for (const e of edits) {
    while (open.length > 0 && (open[open.length - 1] as Edit).end <= e.start) open.pop();
    const top = open[open.length - 1];
    if (top && e.end > top.end) {
      note(e.start, "it overlaps another rewrite (macro)");
      for (const s of e.sites) disabled.add(s);
      continue;
    }
    out.push(e);
    open.push(e);
  }
  return out;
}

function sameRange(src: Sources, a: JNode, b: JNode): boolean {
  const ra = src.range(a);
  const rb = src.range(b);
  return ra !== undefined && rb !== undefined && ra.start === rb.start && ra.end === rb.end;
}
