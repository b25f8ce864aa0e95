/**
 * Reading clang's JSON AST of the user's functions: the node shapes, the
 * small accessors every other part uses, and the clang runs that dump the
 * functions (filtered by name, or whole for a small header).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Clang, type ClangRun, type PrestartedClang, runClang } from "../clang.js";
import { byteToIndex } from "../offsets.js";
import { significant, type Token, tokenize } from "../tokenizer.js";

export interface JLoc {
  offset?: number;
  file?: string;
  tokLen?: number;
  spellingLoc?: JLoc;
  expansionLoc?: JLoc;
  isMacroArgExpansion?: boolean;
}

export interface JType {
  qualType: string;
  desugaredQualType?: string;
}

export interface JNode {
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
export interface Fn {
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

export const children = (n: JNode): JNode[] => n.inner ?? [];
export const child = (n: JNode, i = 0): JNode | undefined => n.inner?.[i];
export const typeText = (n: JNode | undefined): string =>
  n?.type?.desugaredQualType ?? n?.type?.qualType ?? "";
export const isPointerType = (t: string): boolean => /\*\s*(const|volatile|restrict|__restrict)?\s*$/.test(t);

/** Strips parentheses and casts (not lvalue-to-rvalue conversions). */
export function stripCasts(n: JNode): JNode {
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
export function calleeName(call: JNode): string | undefined {
  let c = child(call);
  while (c && (c.kind === "ImplicitCastExpr" || c.kind === "ParenExpr")) c = child(c);
  return c?.kind === "DeclRefExpr" ? c.referencedDecl?.name : undefined;
}

/** The variable a map argument (`&m`, `(void *)&m`) names. */
export function mapNameOf(arg: JNode | undefined): string | undefined {
  if (!arg) return undefined;
  const s = stripCasts(arg);
  const inner = s.kind === "UnaryOperator" && s.opcode === "&" ? child(s) : s;
  const d = inner ? stripCasts(inner) : undefined;
  return d?.kind === "DeclRefExpr" ? d.referencedDecl?.name : undefined;
}

/** Names of the functions defined at the top level of the text. */
export function definedFunctions(text: string): string[] {
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
export async function dumpFunctions(
  clang: Clang,
  args: string[],
  srcPath: string,
  names: string[],
  warm?: () => PrestartedClang | undefined,
): Promise<{ decls: JNode[] } | { error: string }> {
  const base = [...args, "-fsyntax-only", "-Wno-everything", "-Xclang", "-ast-dump=json"];
  // The first run may go to a clang already started (its paths are absolute, so its directory does not matter).
  let first = true;
  const run = (a: string[]): Promise<ClangRun> => {
    const w = first ? warm?.() : undefined;
    first = false;
    return w ? w.run(a) : runClang(clang, a);
  };
  const filters = filtersFor(names);
  const texts = fileTexts();
  const small =
    !args.includes("-include-pch") &&
    vmlinuxHeaders(args).every((h) => h.endsWith(".h") && fileSize(h) < 1e6);
  if (small && filters.length > 2) {
    const r = await run([...base, srcPath]);
    if (r.code !== 0) return { error: r.stderr };
    return { decls: functionChunks(r.stdout, texts) };
  }
  const runs = await Promise.all(
    filters.map((f) => run([...base, "-Xclang", `-ast-dump-filter=${f}`, srcPath])),
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

/** vmlinux.h files in the -I directories of the flags (where kernel records are defined). */
export function vmlinuxHeaders(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const dir = a === "-I" ? args[i + 1] : a.startsWith("-I") ? a.slice(2) : undefined;
    if (dir !== undefined && existsSync(join(dir, "vmlinux.h"))) out.push(join(dir, "vmlinux.h"));
    if (a === "-include" && args[i + 1] !== undefined) out.push(args[i + 1] as string);
  }
  return out;
}
