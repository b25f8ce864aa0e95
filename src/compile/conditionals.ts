/**
 * The preprocessor's conditionals, resolved before the bcc dialect is
 * rewritten, as bcc (which rewrites after clang's preprocessor) sees them.
 * Programs define one function or map per #if branch, or open a function
 * with a different header in each branch and close it after #endif
 * (opensnoop's KRETFUNC_PROBE for kernels with and without syscall
 * wrappers): the rewriter must see one branch, the one clang will compile.
 *
 * Each #if/#ifdef/#ifndef/#elif is evaluated with what clang will know at
 * that point: its predefined macros and the -D/-U flags, tsbpf's generated
 * defines (LINUX_VERSION_CODE, KERNEL_VERSION, …), the kernel's
 * configuration (CONFIG_*), the macros of libbpf's headers and tsbpf's
 * kernel macros, and the program's own #defines and #undefs in order. The
 * branches not taken, and the directives of evaluated groups, become empty
 * lines (line numbers do not move). A condition that cannot be evaluated
 * (__has_include, a macro defined in a branch that could not be decided)
 * leaves its whole group as written, for clang to decide.
 */
import { type Token, tokenize } from "./tokenizer.js";

/** A macro as the evaluator knows it: object-like (params undefined) or function-like. */
export interface SimpleMacro {
  params?: string[];
  body: string;
}

/** Macros known before the program's first line; `unknown` names are defined but of unknown value. */
export interface MacroEnv {
  macros: Map<string, SimpleMacro>;
  /** Names that may or may not be defined (set by an undecided branch). */
  unknown: Set<string>;
  /** Macros looked up when `macros` lacks a name (the kernel macros: too many to copy). */
  base?: (name: string) => SimpleMacro | undefined;
  /** Names #undef'd since (they hide `base`). */
  removed?: Set<string>;
  /**
   * Told each name looked up whose value comes from before the program
   * (neither #defined nor #undef'd by it so far): lets a caller that left
   * something out of `macros`/`base` see whether a result could depend on
   * it (kernel_macros.ts: clang's predefined macros, loaded on demand).
   */
  probe?: (name: string) => void;
  /** Names the program has #defined or #undef'd so far (their values are its own). */
  touched?: Set<string>;
}

function lookup(env: MacroEnv, name: string): SimpleMacro | undefined {
  if (env.probe && !env.touched?.has(name)) env.probe(name);
  const m = env.macros.get(name);
  if (m || env.removed?.has(name)) return m;
  return env.base?.(name);
}

class Undecidable extends Error {}

const MAX_EXPANSIONS = 10_000;
const MAX_NESTING = 200;

/** Tokens of an expression text (no whitespace or comments). */
function exprTokens(text: string): Token[] {
  return tokenize(text).filter((t) => t.kind !== "space" && t.kind !== "comment");
}

/** Expands macros in the tokens, resolving `defined` first. */
function expand(tokens: Token[], env: MacroEnv, hide: Set<string> = new Set(), budget = { n: 0 }): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (++budget.n > MAX_EXPANSIONS) throw new Undecidable("macro expansion does not end");
    if (t.kind !== "ident") {
      out.push(t);
      continue;
    }
    if (t.text === "defined") {
      let name: string | undefined;
      if (tokens[i + 1]?.text === "(" && tokens[i + 3]?.text === ")") {
        name = tokens[i + 2]?.text;
        i += 3;
      } else {
        name = tokens[i + 1]?.text;
        i += 1;
      }
      if (name === undefined) throw new Undecidable("defined without a name");
      if (env.unknown.has(name)) throw new Undecidable(`${name} may or may not be defined`);
      out.push(num(lookup(env, name) ? 1n : 0n));
      continue;
    }
    if (/^__has_|^__is_identifier$/.test(t.text)) throw new Undecidable(`${t.text} is left to clang`);
    // <linux/kconfig.h>'s tests of a CONFIG_ option (built in: defined as 1;
    // a module: NAME_MODULE defined), whose definitions paste tokens.
    const kconfigTest = /^IS_(ENABLED|BUILTIN|MODULE|REACHABLE)$/.exec(t.text);
    if (kconfigTest && tokens[i + 1]?.text === "(" && tokens[i + 3]?.text === ")") {
      const option = tokens[i + 2]?.text ?? "";
      const builtin = lookup(env, option)?.body === "1";
      const module = lookup(env, `${option}_MODULE`)?.body === "1";
      const kind = kconfigTest[1];
      const v = kind === "BUILTIN" ? builtin : kind === "MODULE" ? module : builtin || module;
      out.push(num(v ? 1n : 0n));
      i += 3;
      continue;
    }
    if (env.unknown.has(t.text)) throw new Undecidable(`${t.text} may or may not be defined`);
    const m = hide.has(t.text) ? undefined : lookup(env, t.text);
    if (!m) {
      out.push(t);
      continue;
    }
    if (/#/.test(m.body)) throw new Undecidable(`${t.text} uses # or ##`);
    if (m.params === undefined) {
      out.push(...expand(exprTokens(m.body), env, new Set([...hide, t.text]), budget));
      continue;
    }
    if (tokens[i + 1]?.text !== "(") {
      out.push(t);
      continue;
    }
    // Arguments: split at top-level commas up to the matching ')'.
    const args: Token[][] = [[]];
    let depth = 0;
    let j = i + 2;
    for (; j < tokens.length; j++) {
      const x = tokens[j] as Token;
      if (x.text === "(") depth++;
      else if (x.text === ")") {
        if (depth === 0) break;
        depth--;
      } else if (x.text === "," && depth === 0) {
        args.push([]);
        continue;
      }
      (args[args.length - 1] as Token[]).push(x);
    }
    if (j >= tokens.length) throw new Undecidable(`unterminated call of ${t.text}`);
    const params = m.params;
    const body = exprTokens(m.body).flatMap((b) => {
      const k = b.kind === "ident" ? params.indexOf(b.text) : -1;
      return k >= 0 ? expand(args[k] ?? [], env, hide, budget) : [b];
    });
    out.push(...expand(body, env, new Set([...hide, t.text]), budget));
    i = j;
  }
  return out;
}

function num(v: bigint): Token {
  return { kind: "number", text: v.toString(), start: 0, end: 0, line: 0, column: 0 };
}

function parseNumber(text: string): bigint {
  const t = text.replace(/[uUlL]+$/, "");
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) return BigInt(t);
  if (/^0[bB][01]+$/.test(t)) return BigInt(t);
  if (/^0[0-7]*$/.test(t)) return t.length > 1 ? BigInt(`0o${t.slice(1)}`) : 0n;
  if (/^[1-9]\d*$/.test(t)) return BigInt(t);
  throw new Undecidable(`not an integer: ${text}`);
}

function charValue(text: string): bigint {
  const m = /^'(.*)'$/.exec(text);
  if (!m) throw new Undecidable(`not a character: ${text}`);
  const c = m[1] as string;
  const escapes: Record<string, number> = { n: 10, t: 9, r: 13, "0": 0, "\\": 92, "'": 39, '"': 34 };
  if (c.length === 1) return BigInt(c.charCodeAt(0));
  if (c.startsWith("\\") && c.length === 2 && escapes[c[1] as string] !== undefined)
    return BigInt(escapes[c[1] as string] as number);
  throw new Undecidable(`character ${text}`);
}

/** Binary operators by precedence, lowest first. */
const BINARY: string[][] = [
  ["||"],
  ["&&"],
  ["|"],
  ["^"],
  ["&"],
  ["==", "!="],
  ["<", ">", "<=", ">="],
  ["<<", ">>"],
  ["+", "-"],
  ["*", "/", "%"],
];

function apply(op: string, a: bigint, b: bigint): bigint {
  switch (op) {
    case "||":
      return a !== 0n || b !== 0n ? 1n : 0n;
    case "&&":
      return a !== 0n && b !== 0n ? 1n : 0n;
    case "|":
      return a | b;
    case "^":
      return a ^ b;
    case "&":
      return a & b;
    case "==":
      return a === b ? 1n : 0n;
    case "!=":
      return a !== b ? 1n : 0n;
    case "<":
      return a < b ? 1n : 0n;
    case ">":
      return a > b ? 1n : 0n;
    case "<=":
      return a <= b ? 1n : 0n;
    case ">=":
      return a >= b ? 1n : 0n;
    // The preprocessor computes in intmax_t: 64 bits, wrapping (a shift by 64 or more is undefined).
    case "<<":
    case ">>":
      if (b < 0n || b > 63n) throw new Undecidable(`shift by ${b}`);
      return BigInt.asIntN(64, op === "<<" ? a << b : a >> b);
    case "+":
      return BigInt.asIntN(64, a + b);
    case "-":
      return BigInt.asIntN(64, a - b);
    case "*":
      return BigInt.asIntN(64, a * b);
    case "/":
    case "%":
      if (b === 0n) throw new Undecidable("division by zero");
      return BigInt.asIntN(64, op === "/" ? a / b : a % b);
    default:
      throw new Undecidable(`operator ${op}`);
  }
}

/** Evaluates an expanded #if expression (precedence climbing; unknown identifiers are 0, as in C). */
function evaluate(tokens: Token[]): bigint {
  let pos = 0;
  // Nesting (parentheses, unary operators, ?:) deeper than this is left to clang, not to the JS stack.
  let nesting = 0;
  const peek = (): string | undefined => tokens[pos]?.text;
  const primary = (): bigint => {
    if (++nesting > MAX_NESTING) throw new Undecidable(`nested deeper than ${MAX_NESTING}`);
    try {
      return primaryAt();
    } finally {
      nesting--;
    }
  };
  const primaryAt = (): bigint => {
    const t = tokens[pos++];
    if (!t) throw new Undecidable("expression ends early");
    if (t.text === "(") {
      const v = ternary();
      if (tokens[pos++]?.text !== ")") throw new Undecidable("missing )");
      return v;
    }
    if (t.text === "!") return primary() === 0n ? 1n : 0n;
    if (t.text === "~") return ~primary();
    if (t.text === "-") return -primary();
    if (t.text === "+") return primary();
    if (t.kind === "number") return parseNumber(t.text);
    if (t.kind === "char") return charValue(t.text);
    if (t.kind === "ident") {
      if (peek() === "(") throw new Undecidable(`${t.text}(…) is not a macro tsbpf knows`);
      return 0n;
    }
    throw new Undecidable(`unexpected ${t.text}`);
  };
  const binary = (level: number): bigint => {
    if (level >= BINARY.length) return primary();
    let v = binary(level + 1);
    const ops = BINARY[level] as string[];
    while (peek() !== undefined && ops.includes(peek() as string)) {
      const op = tokens[pos++]?.text as string;
      v = apply(op, v, binary(level + 1));
    }
    return v;
  };
  const ternary = (): bigint => {
    if (++nesting > MAX_NESTING) throw new Undecidable(`nested deeper than ${MAX_NESTING}`);
    try {
      return ternaryAt();
    } finally {
      nesting--;
    }
  };
  const ternaryAt = (): bigint => {
    const c = binary(0);
    if (peek() !== "?") return c;
    pos++;
    const a = ternary();
    if (tokens[pos++]?.text !== ":") throw new Undecidable("missing : in ?:");
    const b = ternary();
    return c !== 0n ? a : b;
  };
  const v = ternary();
  if (pos !== tokens.length) throw new Undecidable(`unexpected ${tokens[pos]?.text}`);
  return v;
}

/** Whether `#if <expr>` holds (throws Undecidable when tsbpf cannot tell). */
export function evaluateCondition(expr: string, env: MacroEnv): boolean {
  return evaluate(expand(exprTokens(expr), env)) !== 0n;
}

/** A #define's parts, or undefined when the text is not one. */
function parseDefine(rest: string): { name: string; macro: SimpleMacro } | undefined {
  const m = /^([A-Za-z_]\w*)(\(([^)]*)\))?\s*(.*)$/s.exec(rest.trim());
  if (!m) return undefined;
  const params =
    m[2] === undefined
      ? undefined
      : (m[3] as string)
          .split(",")
          .map((p) => p.trim())
          .filter(Boolean);
  return { name: m[1] as string, macro: { body: (m[4] as string).trim(), ...(params ? { params } : {}) } };
}

/** The directive's text with comments and line continuations removed. */
function directiveText(t: Token): string {
  return t.text
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/\/\/.*$/gm, "")
    .replace(/\\\r?\n/g, " ")
    .trim();
}

interface Branch {
  /** The directive opening the branch (#if/#ifdef/#ifndef/#elif…/#else). */
  head: Token;
  name: string;
  rest: string;
}

interface GroupShape {
  branches: Branch[];
  endif: Token | undefined;
}

/** Each conditional group's branches, keyed by the offset of its opening directive. */
function groupShapes(pp: Token[]): Map<number, GroupShape> {
  const shapes = new Map<number, GroupShape>();
  const open: GroupShape[] = [];
  for (const t of pp) {
    const d = /^#\s*(\w+)\s*(.*)$/s.exec(directiveText(t));
    if (!d) continue;
    const name = d[1] as string;
    const rest = d[2] ?? "";
    if (name === "if" || name === "ifdef" || name === "ifndef") {
      const g: GroupShape = { branches: [{ head: t, name, rest }], endif: undefined };
      shapes.set(t.start, g);
      open.push(g);
    } else if (name === "elif" || name === "elifdef" || name === "elifndef" || name === "else") {
      open[open.length - 1]?.branches.push({ head: t, name, rest });
    } else if (name === "endif") {
      const g = open.pop();
      if (g) g.endif = t;
    }
  }
  return shapes;
}

/**
 * Whether the source opens a conditional group (#if, #ifdef, #ifndef): when
 * it does not, {@link resolveConditionals} looks no macro up and returns the
 * text as it is, so the macros it would need can be left unmade.
 */
export function hasConditionals(src: string): boolean {
  if (!src.includes("#")) return false;
  for (const t of tokenize(src)) {
    if (t.kind !== "pp") continue;
    const d = /^#\s*(\w+)/.exec(directiveText(t));
    if (d && (d[1] === "if" || d[1] === "ifdef" || d[1] === "ifndef")) return true;
  }
  return false;
}

/**
 * The source with the branches clang would not compile, and the directives
 * of every decided conditional, blanked (newlines kept). `initial` is the
 * macro state before the program's first line; it is not changed.
 */
export function resolveConditionals(
  src: string,
  initial: MacroEnv,
): { text: string; decided: number; undecided: number } {
  const env: MacroEnv = {
    macros: new Map(initial.macros),
    unknown: new Set(initial.unknown),
    removed: new Set(initial.removed),
    ...(initial.base ? { base: initial.base } : {}),
    ...(initial.probe ? { probe: initial.probe, touched: new Set(initial.touched) } : {}),
  };
  const pp = tokenize(src).filter((t) => t.kind === "pp");
  const shapes = groupShapes(pp);
  const blank: Array<[number, number]> = [];
  let decided = 0;
  let undecided = 0;
  /** Open groups: true while the current branch is compiled (undecided groups: always true). */
  const stack: Array<{ decided: boolean; active: boolean; shape: GroupShape; taken: number }> = [];
  const active = (): boolean => stack.every((g) => g.active);
  const inUndecided = (): boolean => stack.some((g) => !g.decided);

  const holds = (b: Branch): boolean | undefined => {
    try {
      if (b.name === "else") return true;
      if (b.name === "if" || b.name === "elif") return evaluateCondition(b.rest, env);
      const id = b.rest.trim();
      if (env.unknown.has(id)) return undefined;
      return (lookup(env, id) !== undefined) === (b.name === "ifdef" || b.name === "elifdef");
    } catch (err) {
      if (err instanceof Undecidable) return undefined;
      throw err;
    }
  };

  for (const t of pp) {
    const d = /^#\s*(\w+)\s*(.*)$/s.exec(directiveText(t));
    if (!d) continue;
    const name = d[1] as string;
    const rest = d[2] ?? "";
    const shape = shapes.get(t.start);
    if (shape) {
      // Opening a group: inside a blanked branch it is blanked with it; else
      // find the branch taken, unless a condition before it is undecidable.
      if (!active()) {
        stack.push({ decided: true, active: false, shape, taken: -1 });
        continue;
      }
      let taken = -1;
      let known = !inUndecided();
      for (let k = 0; known && k < shape.branches.length; k++) {
        const h = holds(shape.branches[k] as Branch);
        if (h === undefined) known = false;
        else if (h) {
          taken = k;
          break;
        }
      }
      if (!known || shape.endif === undefined) {
        undecided++;
        stack.push({ decided: false, active: true, shape, taken: -1 });
        continue;
      }
      decided++;
      // Blank every branch but the taken one, and every directive of the group.
      const heads = shape.branches.map((b) => b.head);
      for (let k = 0; k < heads.length; k++) {
        const head = heads[k] as Token;
        const next = (heads[k + 1] ?? shape.endif) as Token;
        blank.push([head.start, head.end]);
        if (k !== taken) blank.push([head.end, next.start]);
      }
      blank.push([shape.endif.start, shape.endif.end]);
      stack.push({ decided: true, active: taken === 0, shape, taken });
      continue;
    }
    const top = stack[stack.length - 1];
    if (name === "elif" || name === "elifdef" || name === "elifndef" || name === "else") {
      if (top?.decided) {
        const k = top.shape.branches.findIndex((b) => b.head === t);
        top.active = k === top.taken;
      }
      continue;
    }
    if (name === "endif") {
      stack.pop();
      continue;
    }
    if ((name === "define" || name === "undef") && active()) {
      const def = name === "define" ? parseDefine(rest) : undefined;
      const macroName = def?.name ?? rest.trim().split(/\s+/)[0] ?? "";
      env.touched?.add(macroName);
      if (inUndecided()) env.unknown.add(macroName);
      else {
        env.unknown.delete(macroName);
        if (def) {
          env.macros.set(def.name, def.macro);
          env.removed?.delete(def.name);
        } else {
          env.macros.delete(macroName);
          env.removed?.add(macroName);
        }
      }
    }
  }

  blank.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let out = "";
  let last = 0;
  for (const [s0, e] of blank) {
    const s = Math.max(s0, last);
    if (e <= s) continue;
    out += src.slice(last, s) + src.slice(s, e).replace(/[^\n]/g, "");
    last = e;
  }
  out += src.slice(last);
  return { text: out, decided, undecided };
}
