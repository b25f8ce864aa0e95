/**
 * Which values are external (kernel memory the program may only read with a
 * helper), as a fixed point over the file, and the reads through them.
 */
import type { ProgramInfo } from "../rewriter.js";
import {
  calleeName,
  child,
  children,
  type Fn,
  isPointerType,
  type JNode,
  mapNameOf,
  stripCasts,
  typeText,
} from "./ast.js";
import type { Site } from "./emitter.js";
import type { Sources } from "./sources.js";

/**
 * bcc's generic read: its source argument is left exactly as written (bcc's
 * whitelist), loads inside it included. Other helpers' arguments are ordinary
 * expressions: the address they are given is never itself read, but kernel
 * pointers loaded to compute it are (`req->rq_disk->disk_name`).
 */
export const GENERIC_READ = /^bpf_probe_read(_str)?$/;
/**
 * Builtins whose arguments are not evaluated, or describe a field access for
 * CO-RE (BPF_CORE_READ and bpf_core_read go through __builtin_preserve_access_index).
 */
export const UNEVALUATED_CALL =
  /^__builtin_(preserve_\w+|btf_type_id|constant_p|types_compatible_p|offsetof|object_size|dynamic_object_size)$/;
/** Explicit reads of kernel memory: what they write is kernel data (pointers in it are external). */
const KERNEL_READ = /^bpf_probe_read_kernel(_str)?$/;
/** Explicit reads of user memory: their source pointer is a user pointer. */
const USER_READ = /^(bpf_probe_read_user(_str)?|bpf_copy_from_user(_task)?)$/;

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

/** The programs' ctx and declared arguments, the fixed point, then the reads and the renames. */
export function analyse(
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
