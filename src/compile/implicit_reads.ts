/**
 * bcc's implicit kernel-memory reads: a bcc program dereferences kernel
 * pointers as if the memory were its own (`t->real_parent->tgid` with `t`
 * from bpf_get_current_task(), `sk->__sk_common.skc_dport` on a probe
 * argument); bcc rewrites each such read into a probe read, without which the
 * verifier rejects the program. This module does the same, driven by clang's
 * AST (JSON dump of the user's functions), never by text patterns.
 *
 * Which pointers are external (kernel memory the program may only read with
 * a helper) follows bcc's ProbeVisitor: arguments declared after ctx, the
 * result of bpf_get_current_task(), ctx->args[i] of raw tracepoints, the
 * registers of a pt_regs ctx and the fields of a (non-syscall) tracepoint
 * record, values read through external pointers, pointers stored in and
 * loaded back from maps, and every variable, cast, parameter of a static
 * helper or return value they flow into (a fixed point over the file).
 * Arguments whose declared type says `__user`, those of syscall__ programs
 * and pointers the program reads with bpf_probe_read_user are user memory:
 * never read implicitly.
 *
 * Reads happen exactly where clang converts an lvalue to an rvalue
 * (ImplicitCastExpr<LValueToRValue>); each one whose lvalue lies in external
 * memory becomes
 *   ({ typeof(0, E) __tsbpf_vN; bpf_probe_read_kernel(&__tsbpf_vN, sizeof(__tsbpf_vN), ADDR(E)); __tsbpf_vN; })
 * with ADDR built from the AST: ADDR(p->f) = &(VAL(p))->f,
 * ADDR(x.f) = &(ADDR(x))->f, ADDR(*p) = VAL(p), ADDR(p[i]) = &(VAL(p))[VAL(i)]
 * (bit-fields of kernel types go through BPF_CORE_READ_BITFIELD_PROBED).
 * Address-of, array decay, sizeof/typeof/offsetof operands, CO-RE builtins
 * (so BPF_CORE_READ and bpf_core_read), the source argument of bcc's generic
 * bpf_probe_read (bcc's own exception) and stores are left as written; the
 * address given to any other read helper is never read itself, only the
 * kernel pointers it is computed from. bpf_probe_read(_str) of a kernel
 * pointer becomes bpf_probe_read_kernel(_str). Every replacement
 * keeps the number of newlines of the text it replaces, so line numbers do
 * not move. Expressions that come from macros are rewritten at the expansion
 * site when they cover whole expansions (or one whole macro argument used
 * only for reads); a rewrite that would cut through a macro is reported and
 * left out, and the verifier has the last word.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Clang, runClang } from "./clang.js";
import { byteToIndex } from "./offsets.js";
import type { ProgramInfo } from "./rewriter.js";
import { significant, type Token, tokenize } from "./tokenizer.js";

/** Options of {@link rewriteImplicitReads}. */
export interface ImplicitReadsOptions {
  /** The translated C (the rewriter's output), line for line with the user's source. */
  translated: string;
  /** The clang to run. */
  clang: Clang;
  /**
   * The flags the compile uses (target, defines, -I, -include, user cflags),
   * without -c/-o and without the source path.
   */
  clangArgs: string[];
  /** The user's file name, for reports. */
  fileName: string;
  /** The programs the rewriter found (which functions are probes, their declared arguments). */
  programs: ProgramInfo[];
  /**
   * A file holding exactly `translated`, which clang parses (diagnostics and
   * AST locations name it). When omitted, one is written to a temporary directory.
   */
  srcPath?: string;
}

/** The output of {@link rewriteImplicitReads}. */
export interface ImplicitReadsResult {
  /** The text with every implicit read turned into a probe read (the input when nothing changed). */
  code: string;
  /** Number of replacements made (reads, plus bpf_probe_read calls mapped to bpf_probe_read_kernel). */
  rewrites: number;
  /** True when the AST pass did not run or could not be used (see `error`); `code` is then the input. */
  skipped: boolean;
  /**
   * Reads through external pointers that were left as written, each as
   * "file:line:col: reason" (a macro the rewrite would cut through, a bit-field of a
   * program-defined struct, ...). The verifier reports them if they are reached.
   */
  notes: string[];
  /** clang's output when the AST run failed (e.g. a type the vmlinux.h subset lacks). */
  error?: string;
  /** Milliseconds spent in clang (the AST dumps) and in the whole pass. */
  timing: { clangMs: number; totalMs: number };
}

/**
 * bcc's generic read: its source argument is left exactly as written (bcc's
 * whitelist), loads inside it included. Other helpers' arguments are ordinary
 * expressions: the address they are given is never itself read, but kernel
 * pointers loaded to compute it are (`req->rq_disk->disk_name`).
 */
const GENERIC_READ = /^bpf_probe_read(_str)?$/;
/**
 * Builtins whose arguments are not evaluated, or describe a field access for
 * CO-RE (BPF_CORE_READ and bpf_core_read go through __builtin_preserve_access_index).
 */
const UNEVALUATED_CALL =
  /^__builtin_(preserve_\w+|btf_type_id|constant_p|types_compatible_p|offsetof|object_size|dynamic_object_size)$/;
/** Explicit reads of kernel memory: what they write is kernel data (pointers in it are external). */
const KERNEL_READ = /^bpf_probe_read_kernel(_str)?$/;
/** Explicit reads of user memory: their source pointer is a user pointer. */
const USER_READ = /^(bpf_probe_read_user(_str)?|bpf_copy_from_user(_task)?)$/;

/**
 * Cheap pre-check: false only when nothing in the program can hold an
 * external pointer, so most programs (printk_sample, tracepoints reading
 * their own record) skip the AST pass altogether.
 */
export function needsImplicitReads(translated: string, programs: ProgramInfo[]): boolean {
  if (programs.some((p) => p.declaredArgs.length > 0 && !p.name.startsWith("syscall__"))) return true;
  if (/\bbpf_get_current_task(_btf)?\b|\bbpf_raw_tracepoint_args\b|\bPT_REGS_\w+|\bctx\s*->/.test(translated))
    return true;
  // Tracepoint records: their fields become pointers only through a cast or an explicit kernel read.
  return (
    /\bargs\s*->/.test(translated) &&
    /\*\s*\)|\bbpf_probe_read_kernel\b|\bbpf_core_read\b|\bBPF_CORE_READ\b/.test(translated)
  );
}

// ---------------------------------------------------------------------------
// clang's JSON AST

interface JLoc {
  offset?: number;
  file?: string;
  tokLen?: number;
  spellingLoc?: JLoc;
  expansionLoc?: JLoc;
  isMacroArgExpansion?: boolean;
}

interface JType {
  qualType: string;
  desugaredQualType?: string;
}

interface JNode {
  id?: string;
  kind: string;
  name?: string;
  loc?: JLoc;
  range?: { begin: JLoc; end: JLoc };
  type?: JType;
  valueCategory?: string;
  castKind?: string;
  opcode?: string;
  isArrow?: boolean;
  init?: string;
  value?: string;
  referencedDecl?: { id: string; kind: string; name?: string; type?: JType };
  inner?: JNode[];
}

/** A function defined in the user's file. */
interface Fn {
  name: string;
  node: JNode;
  params: JNode[];
  body: JNode;
}

/**
 * Fills in the "file" of every location (clang prints it only when it
 * changes), makes ids unique across clang runs, and turns clang's locations
 * (UTF-8 byte offsets and token lengths) into indexes of the JavaScript
 * strings of those files, which is what every offset here is compared with:
 * they differ wherever a comment or string before holds a non-ASCII character.
 */
function annotate(
  root: unknown,
  run: number,
  state: { file: string },
  textOf: (path: string) => string | undefined,
): void {
  const maps = new Map<string, ((byte: number) => number) | undefined>();
  const mapFor = (path: string): ((byte: number) => number) | undefined => {
    if (!maps.has(path)) {
      const text = textOf(path);
      maps.set(path, text === undefined ? undefined : byteToIndex(text));
    }
    return maps.get(path);
  };
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x);
      return;
    }
    if (v === null || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    if (typeof o.offset === "number") {
      if (typeof o.file === "string") state.file = o.file;
      else o.file = state.file;
      const m = mapFor(o.file as string);
      if (m) {
        const start = m(o.offset);
        if (typeof o.tokLen === "number") o.tokLen = m(o.offset + o.tokLen) - start;
        o.offset = start;
      }
    }
    if (typeof o.id === "string") o.id = `${run}/${o.id}`;
    for (const k of Object.keys(o)) {
      const c = o[k];
      if (c !== null && typeof c === "object") visit(c);
    }
  };
  visit(root);
}

/** File texts for annotate, read once per pass. */
function fileTexts(): (path: string) => string | undefined {
  const cache = new Map<string, string | undefined>();
  return (path) => {
    if (!cache.has(path)) {
      try {
        cache.set(path, readFileSync(path, "utf8"));
      } catch {
        cache.set(path, undefined);
      }
    }
    return cache.get(path);
  };
}

const children = (n: JNode): JNode[] => n.inner ?? [];
const child = (n: JNode, i = 0): JNode | undefined => n.inner?.[i];
const typeText = (n: JNode | undefined): string => n?.type?.desugaredQualType ?? n?.type?.qualType ?? "";
const isPointerType = (t: string): boolean => /\*\s*(const|volatile|restrict|__restrict)?\s*$/.test(t);

/** Strips parentheses and casts (not lvalue-to-rvalue conversions). */
function stripCasts(n: JNode): JNode {
  let cur = n;
  for (;;) {
    const c = child(cur);
    if (!c) return cur;
    if (cur.kind === "ParenExpr" || cur.kind === "CStyleCastExpr") cur = c;
    else if (cur.kind === "ImplicitCastExpr" && cur.castKind !== "LValueToRValue") cur = c;
    else return cur;
  }
}

/** The name of the function a call calls (a function, or a helper's function-pointer variable). */
function calleeName(call: JNode): string | undefined {
  let c = child(call);
  while (c && (c.kind === "ImplicitCastExpr" || c.kind === "ParenExpr")) c = child(c);
  return c?.kind === "DeclRefExpr" ? c.referencedDecl?.name : undefined;
}

/** The variable a map argument (`&m`, `(void *)&m`) names. */
function mapNameOf(arg: JNode | undefined): string | undefined {
  if (!arg) return undefined;
  const s = stripCasts(arg);
  const inner = s.kind === "UnaryOperator" && s.opcode === "&" ? child(s) : s;
  const d = inner ? stripCasts(inner) : undefined;
  return d?.kind === "DeclRefExpr" ? d.referencedDecl?.name : undefined;
}

// ---------------------------------------------------------------------------
// Which values are external

/**
 * The external level of a value: 0 when the value is an external pointer (or
 * kernel data a pointer can be made of), k > 0 when dereferencing it k times
 * (through the program's own memory) gives one. Undefined: not external.
 */
type Level = number | undefined;

const minLevel = (a: Level, b: Level): Level => (a === undefined ? b : b === undefined ? a : Math.min(a, b));

/** What an lvalue designates: external memory, or own memory holding a value of some level. */
interface LvalueInfo {
  external: boolean;
  value: Level;
}

class Analysis {
  readonly vars = new Map<string, number>();
  /** Parameters whose level comes from a rule, never from call sites. */
  readonly fixed = new Set<string>();
  /** Variables used as user pointers. */
  readonly user = new Set<string>();
  readonly rets = new Map<string, number>();
  readonly maps = new Map<string, number>();
  private changed = false;

  constructor(private readonly fns: Map<string, Fn>) {}

  /** Runs the propagation to its fixed point. */
  solve(): void {
    for (let round = 0; round < 64; round++) {
      this.changed = false;
      for (const fn of this.fns.values()) this.walk(fn, fn.body);
      if (!this.changed) return;
    }
  }

  setVar(id: string | undefined, level: Level): void {
    if (id === undefined || level === undefined || this.user.has(id) || this.fixed.has(id)) return;
    const cur = this.vars.get(id);
    if (cur === undefined || level < cur) {
      this.vars.set(id, level);
      this.changed = true;
    }
  }

  private setIn(m: Map<string, number>, key: string, level: Level): void {
    if (level === undefined || level < 0) return;
    const cur = m.get(key);
    if (cur === undefined || level < cur) {
      m.set(key, level);
      this.changed = true;
    }
  }

  private markUser(arg: JNode | undefined): void {
    if (!arg) return;
    let s = stripCasts(arg);
    if (s.kind === "ImplicitCastExpr" && s.castKind === "LValueToRValue") s = stripCasts(child(s) ?? s);
    const id = s.kind === "DeclRefExpr" ? s.referencedDecl?.id : undefined;
    if (id !== undefined && !this.user.has(id)) {
      this.user.add(id);
      this.vars.delete(id);
      this.changed = true;
    }
  }

  /** Level of an rvalue. */
  level(n: JNode): Level {
    switch (n.kind) {
      case "ImplicitCastExpr": {
        const c = child(n);
        if (!c) return undefined;
        if (n.castKind === "LValueToRValue") {
          const l = this.lvalue(c);
          return l.external ? 0 : l.value;
        }
        if (n.castKind === "ArrayToPointerDecay") {
          const l = this.lvalue(c);
          return l.external ? 0 : l.value === undefined ? undefined : l.value + 1;
        }
        return this.level(c);
      }
      case "CStyleCastExpr":
      case "ParenExpr":
      case "ConstantExpr": {
        const c = child(n);
        return c ? this.level(c) : undefined;
      }
      case "UnaryOperator": {
        const c = child(n);
        if (!c) return undefined;
        if (n.opcode === "&") {
          const l = this.lvalue(c);
          return l.external ? 0 : l.value === undefined ? undefined : l.value + 1;
        }
        if (n.opcode === "++" || n.opcode === "--") return this.lvalue(c).value;
        if (n.opcode === "+" || n.opcode === "-" || n.opcode === "~") return this.level(c);
        return undefined;
      }
      case "BinaryOperator": {
        const [a, b] = children(n);
        if (!a || !b) return undefined;
        if (n.opcode === "=" || n.opcode === ",") return this.level(b);
        if (isPointerType(typeText(n))) {
          // pointer ± integer: the pointer's level (own pointer + kernel offset stays own)
          if (isPointerType(typeText(a))) return this.level(a);
          if (isPointerType(typeText(b))) return this.level(b);
          return undefined;
        }
        if (["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"].includes(n.opcode ?? "")) {
          if (isPointerType(typeText(a)) || isPointerType(typeText(b))) return undefined; // ptr - ptr
          return this.level(a) === 0 || this.level(b) === 0 ? 0 : undefined;
        }
        return undefined;
      }
      case "CompoundAssignOperator": {
        const c = child(n);
        return c ? this.lvalue(c).value : undefined;
      }
      case "ConditionalOperator": {
        const [, a, b] = children(n);
        return minLevel(a ? this.level(a) : undefined, b ? this.level(b) : undefined);
      }
      case "BinaryConditionalOperator": {
        const cs = children(n);
        const a = cs[0];
        const b = cs[cs.length - 1];
        return minLevel(a ? this.level(a) : undefined, b ? this.level(b) : undefined);
      }
      case "StmtExpr": {
        const body = child(n);
        const last = body ? children(body)[children(body).length - 1] : undefined;
        return last && last.valueCategory !== undefined ? this.level(last) : undefined;
      }
      case "CallExpr": {
        const name = calleeName(n);
        if (name === undefined) return undefined;
        if (name === "bpf_get_current_task" || name === "bpf_get_current_task_btf") return 0;
        if (name === "bpf_map_lookup_elem" || name === "bpf_map_lookup_percpu_elem") {
          const m = mapNameOf(child(n, 1));
          const l = m === undefined ? undefined : this.maps.get(m);
          return l === undefined ? undefined : l + 1;
        }
        return this.rets.get(name);
      }
      default:
        return undefined;
    }
  }

  /** What an lvalue designates. */
  lvalue(n: JNode): LvalueInfo {
    const through = (p: JNode | undefined): LvalueInfo => {
      const l = p ? this.level(p) : undefined;
      if (l === 0) return { external: true, value: 0 };
      return { external: false, value: l === undefined ? undefined : l - 1 };
    };
    switch (n.kind) {
      case "DeclRefExpr": {
        const id = n.referencedDecl?.id;
        return { external: false, value: id === undefined ? undefined : this.vars.get(id) };
      }
      case "ParenExpr":
      case "ImplicitCastExpr": {
        const c = child(n);
        return c ? this.lvalue(c) : { external: false, value: undefined };
      }
      case "MemberExpr": {
        const c = child(n);
        if (!c) return { external: false, value: undefined };
        return n.isArrow ? through(c) : this.lvalue(c);
      }
      case "UnaryOperator":
        return n.opcode === "*" ? through(child(n)) : { external: false, value: undefined };
      case "ArraySubscriptExpr":
        return through(subscriptBase(n));
      default:
        return { external: false, value: undefined };
    }
  }

  /** Records that `lhs` (an lvalue) now holds a value of `level`. */
  private assignTo(lhs: JNode, level: Level): void {
    if (level === undefined) return;
    switch (lhs.kind) {
      case "DeclRefExpr":
        this.setVar(lhs.referencedDecl?.id, level);
        return;
      case "ParenExpr":
      case "ImplicitCastExpr": {
        const c = child(lhs);
        if (c) this.assignTo(c, level);
        return;
      }
      case "MemberExpr": {
        const c = child(lhs);
        if (!c) return;
        if (lhs.isArrow) this.assignThrough(c, level + 1);
        else this.assignTo(c, level);
        return;
      }
      case "UnaryOperator":
        if (lhs.opcode === "*") {
          const c = child(lhs);
          if (c) this.assignThrough(c, level + 1);
        }
        return;
      case "ArraySubscriptExpr": {
        const b = subscriptBase(lhs);
        if (b) this.assignThrough(b, level + 1);
        return;
      }
      default:
        return;
    }
  }

  /** Records that the pointer value `p` now has `level` (k ≥ 1: it points at own memory holding level k-1). */
  private assignThrough(p: JNode, level: number): void {
    const s = stripCasts(p);
    const c = child(s);
    if (!c) return;
    if (s.kind === "ImplicitCastExpr" && s.castKind === "LValueToRValue") this.assignTo(c, level);
    else if (s.kind === "ImplicitCastExpr" && s.castKind === "ArrayToPointerDecay")
      this.assignTo(c, level - 1);
    else if (s.kind === "UnaryOperator" && s.opcode === "&") this.assignTo(c, level - 1);
  }

  private walk(fn: Fn, n: JNode): void {
    switch (n.kind) {
      case "VarDecl": {
        const init =
          n.init !== undefined ? children(n).find((c) => c.valueCategory !== undefined) : undefined;
        if (init) this.setVar(n.id, this.level(init));
        break;
      }
      case "BinaryOperator":
        if (n.opcode === "=") {
          const [l, r] = children(n);
          if (l && r) this.assignTo(l, this.level(r));
        }
        break;
      case "ReturnStmt": {
        const c = child(n);
        if (c) this.setIn(this.rets, fn.name, this.level(c));
        break;
      }
      case "CallExpr":
        this.call(n);
        break;
      default:
        break;
    }
    for (const c of children(n)) this.walk(fn, c);
  }

  private call(n: JNode): void {
    const name = calleeName(n);
    if (name === undefined) return;
    const args = children(n).slice(1);
    const callee = this.fns.get(name);
    if (callee) {
      args.forEach((a, i) => {
        this.setVar(callee.params[i]?.id, this.level(a));
      });
      return;
    }
    if (name === "bpf_map_update_elem" || name === "bpf_map_push_elem") {
      const m = mapNameOf(args[0]);
      const v = args[name === "bpf_map_update_elem" ? 2 : 1];
      const l = v ? this.level(v) : undefined;
      if (m !== undefined && l !== undefined && l >= 1) this.setIn(this.maps, m, l - 1);
      return;
    }
    if (name === "bpf_map_pop_elem" || name === "bpf_map_peek_elem") {
      const m = mapNameOf(args[0]);
      const l = m === undefined ? undefined : this.maps.get(m);
      if (l !== undefined && args[1]) this.assignThrough(args[1], l + 1);
      return;
    }
    if (
      KERNEL_READ.test(name) ||
      ((name === "bpf_probe_read" || name === "bpf_probe_read_str") && args[2] && this.level(args[2]) === 0)
    ) {
      // What an explicit kernel read stores is kernel data: pointers in it are external.
      if (args[0]) this.assignThrough(args[0], 1);
      return;
    }
    if (USER_READ.test(name)) this.markUser(args[2]);
  }
}

/** The pointer operand of `a[b]` (usually a, but `i[p]` is C too). */
function subscriptBase(n: JNode): JNode | undefined {
  const [a, b] = children(n);
  if (a && isPointerType(typeText(a))) return a;
  if (b && isPointerType(typeText(b))) return b;
  return a;
}

// ---------------------------------------------------------------------------
// Source ranges (macro-aware)

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
interface FileRange {
  start: number;
  end: number;
  arg: boolean;
}

type Resolved =
  | { kind: "plain"; start: number; end: number }
  | { kind: "arg"; start: number; end: number; exp: number }
  | { kind: "body"; exp: number; sp: JLoc };

class Sources {
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

// ---------------------------------------------------------------------------
// Bit-fields (clang's JSON does not mark them on the MemberExpr)

class Records {
  private readonly cache = new Map<string, { body: string; kernel: boolean } | null>();

  constructor(
    private readonly sources: Sources,
    private readonly headers: string[],
  ) {}

  /** Whether `field` of the record type `type` is a bit-field, and whether the record is a kernel type. */
  bitfield(type: string, field: string): { bitfield: boolean; kernel: boolean } {
    const rec = this.body(type);
    if (!rec || field === "") return { bitfield: false, kernel: rec?.kernel ?? true };
    // Top-level declarators of the body: "name : N" (commas allowed: "unsigned a:1, b:2").
    let depth = 0;
    let flat = "";
    for (const ch of rec.body) {
      if (ch === "{") depth++;
      else if (ch === "}") depth--;
      else if (depth === 0) flat += ch;
    }
    const re = new RegExp(`(^|[\\s,*])${field}\\s*:\\s*\\d`);
    return { bitfield: re.test(flat), kernel: rec.kernel };
  }

  private body(type: string): { body: string; kernel: boolean } | undefined {
    const key = type.replace(/\b(const|volatile)\b/g, "").trim();
    if (this.cache.has(key)) return this.cache.get(key) ?? undefined;
    const found = this.find(key);
    this.cache.set(key, found ?? null);
    return found;
  }

  private find(key: string): { body: string; kernel: boolean } | undefined {
    const at = /\bat (.+):(\d+):(\d+)\)$/.exec(key);
    if (at) {
      const [, path, line, col] = at;
      const text = this.read(path as string);
      if (text === undefined) return undefined;
      const lines = text.split("\n");
      let off = 0;
      for (let i = 0; i < Number(line) - 1; i++) off += (lines[i]?.length ?? 0) + 1;
      off += Number(col) - 1;
      const body = braces(text, text.indexOf("{", off));
      return body === undefined ? undefined : { body, kernel: !this.isMain(path as string) };
    }
    const m = /^(struct|union)\s+(\w+)$/.exec(key);
    if (!m) return undefined;
    const re = new RegExp(`\\b${m[1]}\\s+${m[2]}\\s*(__attribute__\\s*\\(\\([^)]*\\)\\)\\s*)?\\{`);
    for (const path of [this.sources.srcPath, ...this.headers]) {
      const text = this.read(path);
      if (text === undefined) continue;
      // btf_dump writes "struct name {" at the start of a line: find that first (the full header is 3 MB).
      const fast = text.indexOf(`\n${key} {\n`);
      const hit = fast >= 0 ? { index: fast + 1, 0: `${key} {` } : re.exec(text);
      if (hit) {
        const body = braces(text, hit.index + hit[0].length - 1);
        if (body !== undefined) return { body, kernel: !this.isMain(path) };
      }
    }
    return undefined;
  }

  private isMain(path: string): boolean {
    return path === this.sources.srcPath;
  }

  private readonly texts = new Map<string, string | undefined>();
  private read(path: string): string | undefined {
    if (path === this.sources.srcPath) return this.sources.text;
    if (!this.texts.has(path)) {
      try {
        this.texts.set(path, readFileSync(path, "utf8"));
      } catch {
        this.texts.set(path, undefined);
      }
    }
    return this.texts.get(path);
  }
}

/** The text between the brace at `open` and its match. */
function braces(text: string, open: number): string | undefined {
  if (open < 0 || text[open] !== "{") return undefined;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}") {
      depth--;
      if (depth === 0) return text.slice(open + 1, i);
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Rewriting

/** One read through external memory: the LValueToRValue cast and the lvalue it reads. */
interface Site {
  cast: JNode;
  lvalue: JNode;
  range: FileRange;
}

/** A replacement of one range of the text: reads (one per occurrence of a macro argument) or a rename. */
interface Edit {
  start: number;
  end: number;
  sites: Site[];
  rename?: string;
}

class SiteFailure extends Error {
  constructor(
    readonly edit: Edit,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const newlines = (s: string): number => {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
};

class Emitter {
  private readonly siteByNode = new Map<JNode, Edit>();
  private readonly temps = new Map<string, number>();
  private readonly texts = new Map<Edit, string>();
  private nextTemp = 1;
  emitted = 0;

  constructor(
    private readonly src: Sources,
    private readonly records: Records,
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
    if (n.kind !== "MemberExpr" || !n.name) return undefined;
    const base = child(n);
    if (!base) return undefined;
    const rec = n.isArrow ? typeText(base).replace(/\*\s*$/, "") : typeText(base);
    const bf = this.records.bitfield(rec.trim(), n.name);
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

// ---------------------------------------------------------------------------
// The pass

/** Names of the functions defined at the top level of the text. */
function definedFunctions(text: string): string[] {
  const sig = significant(tokenize(text));
  const out: string[] = [];
  let depth = 0;
  for (let i = 0; i < sig.length; i++) {
    const t = sig[i] as Token;
    if (t.kind === "pp") continue;
    if (t.text === "{") {
      if (depth === 0 && sig[i - 1]?.text === ")") {
        let d = 0;
        for (let k = i - 1; k >= 0; k--) {
          const x = sig[k] as Token;
          if (x.text === ")") d++;
          else if (x.text === "(" && --d === 0) {
            const name = sig[k - 1];
            if (name?.kind === "ident") out.push(name.text);
            // A function defined by a macro (libbpf's BPF_PROG(name, args…)): its first argument.
            const first = sig[k + 1];
            if (
              name &&
              /^[A-Z][A-Z0-9_]*$/.test(name.text) &&
              first?.kind === "ident" &&
              sig[k + 2]?.text === ","
            )
              out.push(first.text);
            break;
          }
        }
      }
      depth++;
    } else if (t.text === "}") depth--;
  }
  return [...new Set(out)];
}

/** Longest substring common to two names. */
function commonSubstring(x: string, y: string): string {
  const [a, b] = x.length <= y.length ? [x, y] : [y, x];
  for (let len = a.length; len > 0; len--) {
    for (let i = 0; i + len <= a.length; i++) {
      const sub = a.slice(i, i + len);
      if (b.includes(sub)) return sub;
    }
  }
  return "";
}

/**
 * Filters that together match every name (clang takes one filter per run):
 * names containing another are covered by it, and names sharing at least 5
 * characters are merged into their common part.
 */
export function filtersFor(names: string[]): string[] {
  let list = [...new Set(names)];
  for (;;) {
    list = list.filter((n) => !list.some((m) => m !== n && n.includes(m)));
    let merged = false;
    for (let i = 0; i < list.length && !merged; i++) {
      for (let j = i + 1; j < list.length && !merged; j++) {
        const common = commonSubstring(list[i] as string, list[j] as string);
        if (common.length >= 5) {
          list = [...list.filter((_, k) => k !== i && k !== j), common];
          merged = true;
        }
      }
    }
    if (!merged) return list;
  }
}

/**
 * The top-level declarations clang dumps for the user's functions (and
 * possibly a few more), locations annotated.
 *
 * Against a small vmlinux.h (the subset a compile tries first) one unfiltered
 * dump costs about what one filtered run does, and only the function
 * definitions in it are parsed; one or two filtered runs (-ast-dump-filter,
 * in parallel) are cheaper still, and the only way against the full header
 * (or its PCH), whose whole dump would be hundreds of MB.
 */
async function dumpFunctions(
  clang: Clang,
  args: string[],
  srcPath: string,
  names: string[],
): Promise<{ decls: JNode[] } | { error: string }> {
  const base = [...args, "-fsyntax-only", "-Wno-everything", "-Xclang", "-ast-dump=json"];
  const filters = filtersFor(names);
  const texts = fileTexts();
  const small =
    !args.includes("-include-pch") &&
    vmlinuxHeaders(args).every((h) => h.endsWith(".h") && fileSize(h) < 1e6);
  if (small && filters.length > 2) {
    const r = await runClang(clang, [...base, srcPath]);
    if (r.code !== 0) return { error: r.stderr };
    return { decls: functionChunks(r.stdout, texts) };
  }
  const runs = await Promise.all(
    filters.map((f) => runClang(clang, [...base, "-Xclang", `-ast-dump-filter=${f}`, srcPath])),
  );
  const failed = runs.find((r) => r.code !== 0);
  if (failed) return { error: failed.stderr };
  const decls: JNode[] = [];
  runs.forEach((r, run) => {
    const out = r.stdout.trim();
    if (out === "") return;
    // Each match is dumped as its own object.
    const objs = JSON.parse(`[${out.replace(/\n\}\n\{\n/g, "\n},\n{\n")}]`) as JNode[];
    annotate(objs, run, { file: "" }, texts);
    decls.push(...objs);
  });
  return { decls };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * The function definitions of a whole-translation-unit JSON dump, parsed one
 * by one: the top-level declarations are the objects at indentation 4, and
 * the file a location is in is the last "file" clang printed before it.
 */
function functionChunks(out: string, texts: (path: string) => string | undefined): JNode[] {
  const starts: number[] = [];
  for (let i = out.indexOf("\n    {\n"); i >= 0; i = out.indexOf("\n    {\n", i + 1)) starts.push(i + 1);
  const files: Array<{ at: number; file: string }> = [];
  for (const m of out.matchAll(/"offset": \d+,\s*"file": ("(?:[^"\\]|\\.)*")/g))
    files.push({ at: m.index ?? 0, file: JSON.parse(m[1] as string) as string });
  const decls: JNode[] = [];
  let f = 0;
  let file = "";
  starts.forEach((start, k) => {
    while (f < files.length && (files[f] as { at: number }).at < start)
      file = (files[f++] as { file: string }).file;
    const head = out.slice(start, start + 120);
    if (!head.includes('"kind": "FunctionDecl"')) return;
    const end = k + 1 < starts.length ? (starts[k + 1] as number) : out.lastIndexOf("\n  ]");
    const text = out.slice(start, end).replace(/,\s*$/, "");
    if (!text.includes('"kind": "CompoundStmt"')) return;
    const node = JSON.parse(text) as JNode;
    annotate(node, 0, { file }, texts);
    decls.push(node);
  });
  return decls;
}

/** Runs the AST pass: see the module comment. */
export async function rewriteImplicitReads(opts: ImplicitReadsOptions): Promise<ImplicitReadsResult> {
  const t0 = performance.now();
  const { translated } = opts;
  const unchanged = (extra: Partial<ImplicitReadsResult> = {}): ImplicitReadsResult => ({
    code: translated,
    rewrites: 0,
    skipped: true,
    notes: [],
    timing: { clangMs: 0, totalMs: performance.now() - t0 },
    ...extra,
  });
  const names = definedFunctions(translated);
  if (names.length === 0) return unchanged();

  let srcPath = opts.srcPath;
  let tmpDir: string | undefined;
  if (srcPath === undefined) {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { cacheSubdir } = await import("./cache.js");
    tmpDir = mkdtempSync(join(cacheSubdir("tmp"), "ast-"));
    srcPath = join(tmpDir, "prog.c");
    writeFileSync(srcPath, translated);
  }
  try {
    const tc = performance.now();
    const dumped = await dumpFunctions(opts.clang, opts.clangArgs, srcPath, names);
    const clangMs = performance.now() - tc;
    if ("error" in dumped)
      return unchanged({ error: dumped.error, timing: { clangMs, totalMs: performance.now() - t0 } });
    const fns = new Map<string, Fn>();
    for (const o of dumped.decls) {
      if (o.kind !== "FunctionDecl" || !o.name) continue;
      if (o.loc?.file !== srcPath && o.loc?.expansionLoc?.file !== srcPath) continue;
      const body = children(o).find((c) => c.kind === "CompoundStmt");
      if (!body || fns.has(o.name)) continue;
      fns.set(o.name, {
        name: o.name,
        node: o,
        params: children(o).filter((c) => c.kind === "ParmVarDecl"),
        body,
      });
    }
    if (fns.size === 0) return unchanged({ timing: { clangMs, totalMs: performance.now() - t0 } });

    const src = new Sources(translated, srcPath);
    const headers = vmlinuxHeaders(opts.clangArgs);
    const { sites, kernelCallees } = analyse(fns, opts.programs, src);
    const notes: string[] = [];
    const note = (offset: number, reason: string): void => {
      const p = src.position(offset);
      notes.push(`${opts.fileName}:${p.line}:${p.column}: kernel memory read left as written: ${reason}`);
    };

    // Group the sites into edits by range; drop those that cannot be edited.
    const disabled = new Set<Site>();
    const rangeIndex = buildRangeIndex(fns, src);
    const records = new Records(src, headers);
    for (let attempt = 0; attempt < 1000; attempt++) {
      const edits = buildEdits(sites, disabled, kernelCallees, src, rangeIndex, note);
      const emitter = new Emitter(src, records, edits);
      try {
        const code = emitter.run();
        if (newlines(code) !== newlines(translated))
          throw new Error("implicit reads: line count changed (bug)");
        return {
          code,
          rewrites: emitter.emitted,
          skipped: false,
          notes: [...new Set(notes)],
          timing: { clangMs, totalMs: performance.now() - t0 },
        };
      } catch (err) {
        if (!(err instanceof SiteFailure)) throw err;
        note(err.edit.start, err.reason);
        for (const s of err.edit.sites) disabled.add(s);
        if (err.edit.rename !== undefined) kernelCallees.delete(err.edit.start);
      }
    }
    return unchanged({ notes: [...new Set(notes)], timing: { clangMs, totalMs: performance.now() - t0 } });
  } finally {
    if (tmpDir) {
      const { rmSync } = await import("node:fs");
      rmSync(tmpDir, { recursive: true, force: true });
    }
  }
}

/** vmlinux.h files in the -I directories of the flags (where kernel records are defined). */
function vmlinuxHeaders(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const dir = a === "-I" ? args[i + 1] : a.startsWith("-I") ? a.slice(2) : undefined;
    if (dir !== undefined && existsSync(join(dir, "vmlinux.h"))) out.push(join(dir, "vmlinux.h"));
    if (a === "-include" && args[i + 1] !== undefined) out.push(args[i + 1] as string);
  }
  return out;
}

/** The programs' ctx and declared arguments, the fixed point, then the reads and the renames. */
function analyse(
  fns: Map<string, Fn>,
  programs: ProgramInfo[],
  src: Sources,
): { sites: Site[]; kernelCallees: Map<number, { end: number; name: string }> } {
  const paramText = (p: JNode): string => {
    const b = p.range?.begin.offset;
    const e = p.range?.end;
    return b === undefined || e?.offset === undefined ? "" : src.text.slice(b, e.offset + (e.tokLen ?? 0));
  };
  const seed = (an: Analysis, withRegs: boolean): void => {
    for (const fn of fns.values()) {
      for (const p of fn.params)
        if (p.id !== undefined && /\b__user\b/.test(paramText(p))) an.fixed.add(p.id);
      const prog = programs.find(
        (p) =>
          p.name === fn.name ||
          p.variants.tracepoint === fn.name ||
          (p.declaredArgs.length > 0 && fn.name === `____${p.name}`),
      );
      if (!prog) continue;
      const ctx = fn.params[0];
      if (ctx?.id !== undefined) {
        const t = typeText(ctx)
          .replace(/\bconst\b/g, "")
          .replace(/\s+/g, " ")
          .trim();
        const ctxLevel =
          t === "struct bpf_raw_tracepoint_args *" ||
          (/^struct tracepoint__\w+ \*$/.test(t) && !t.startsWith("struct tracepoint__syscalls__")) ||
          (withRegs && t === "struct pt_regs *")
            ? 1
            : undefined;
        if (ctxLevel !== undefined) an.vars.set(ctx.id, ctxLevel);
        an.fixed.add(ctx.id);
      }
      if (fn.name === `____${prog.name}`) {
        for (const p of fn.params.slice(1)) {
          if (p.id === undefined) continue;
          // syscall__ arguments are user-space pointers; __user ones too.
          if (!prog.name.startsWith("syscall__") && !an.fixed.has(p.id)) an.vars.set(p.id, 0);
          an.fixed.add(p.id);
        }
      }
    }
    an.solve();
  };
  const an = new Analysis(fns);
  seed(an, true);
  // bpf_probe_read → bpf_probe_read_kernel only for pointers known to be kernel ones
  // (the registers of a pt_regs ctx may be user pointers: a kprobe on a syscall).
  let strong = an;
  if (/\bbpf_probe_read(_str)?\s*\(/.test(src.text)) {
    strong = new Analysis(fns);
    seed(strong, false);
  }

  const sites: Site[] = [];
  const kernelCallees = new Map<number, { end: number; name: string }>();
  const visit = (n: JNode): void => {
    if (
      n.kind === "UnaryExprOrTypeTraitExpr" ||
      n.kind === "OffsetOfExpr" ||
      n.kind === "GenericSelectionExpr"
    )
      return;
    if (n.kind === "CallExpr") {
      const name = calleeName(n) ?? "";
      if (UNEVALUATED_CALL.test(name)) return;
      if (GENERIC_READ.test(name)) {
        const arg = child(n, 3);
        if (arg && strong.level(arg) === 0) {
          // bcc's bpf_probe_read of a kernel pointer: bpf_probe_read_kernel (5.5+).
          let callee = child(n);
          while (callee && callee.kind !== "DeclRefExpr") callee = child(callee);
          const r = callee ? src.range(callee) : undefined;
          if (r && !r.arg)
            kernelCallees.set(r.start, { end: r.end, name: name.replace("read", "read_kernel") });
        }
        children(n).forEach((c, i) => {
          if (i !== 3) visit(c);
        });
        return;
      }
    }
    if (n.kind === "ImplicitCastExpr" && n.castKind === "LValueToRValue") {
      const l = child(n);
      if (l && an.lvalue(l).external) {
        // `(x)` in a macro body reading its argument x: the read is x's.
        let lv = l;
        while (lv.kind === "ParenExpr" && !src.range(lv) && child(lv)) lv = child(lv) as JNode;
        const range = src.range(lv);
        sites.push({ cast: n, lvalue: lv, range: range ?? { start: -1, end: -1, arg: false } });
      }
    }
    for (const c of children(n)) visit(c);
  };
  for (const fn of fns.values()) visit(fn.body);
  return { sites, kernelCallees };
}

/** Nodes by the text range they cover (to find every expansion of one macro argument). */
function buildRangeIndex(
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
function buildEdits(
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
