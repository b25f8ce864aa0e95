/**
 * Kernel macros as a table: each #define with the identifiers its body
 * names, so that a program gets exactly the macros it uses (and the ones
 * those use), not thousands of them. The table is made from the system's
 * UAPI headers (uapi_macros.ts), tsbpf's hand-written shims for
 * kernel-internal headers (headers/linux/dcache.h, net/inet_sock.h, …) and
 * values read from this kernel's BTF (btf_macros.ts).
 */

/** One macro definition. */
export interface MacroDef {
  name: string;
  /** "(a, b)" for a function-like macro, "" for an object-like one. */
  params: string;
  /** The replacement text, on one line, comments removed. */
  body: string;
  /** Identifiers the body names (parameters excluded). */
  deps: string[];
  /** Where it came from, for messages ("linux/limits.h", "BTF: dentry.d_iname"). */
  origin: string;
  /** Prefixes the body pastes to (`__tsbpf_placeholder_##v`): the macros named so may be needed. */
  pasted?: string[];
}

const IDENT = /(?<!\w)[A-Za-z_]\w*/g;

/** Comments out of a directive's text, continuation lines joined. */
function flatten(directive: string): string {
  return directive
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/\/\/.*$/gm, "")
    .replace(/\\\r?\n/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** A macro from "NAME(params) body" / "NAME body" (the text after #define). */
export function macro(definition: string, origin: string): MacroDef | undefined {
  const m = /^([A-Za-z_]\w*)(\([^)]*\))?\s*(.*)$/.exec(definition.trim());
  if (!m) return undefined;
  const name = m[1] as string;
  const params = m[2] ?? "";
  const body = (m[3] ?? "").trim();
  const own = new Set<string>([...(params.match(IDENT) ?? []), "__VA_ARGS__", "defined"]);
  const deps = [
    ...new Set((body.replace(/"(?:[^"\\]|\\.)*"/g, "").match(IDENT) ?? []).filter((d) => !own.has(d))),
  ];
  const pasted = [...body.matchAll(/([A-Za-z_]\w*)\s*##/g)].map((p) => p[1] as string);
  return { name, params, body, deps, origin, ...(pasted.length ? { pasted } : {}) };
}

/**
 * The #define and #undef directives of a text, continuation lines joined.
 * Line-based (much faster than tokenizing whole headers): a block comment's
 * characters count as spaces, so a directive inside one is not taken. Only
 * the lines that a comment touches are rewritten so (libbpf's
 * bpf_helper_defs.h is 170 KB of mostly comments).
 */
function directives(text: string): string[] {
  if (!text.includes("#")) return [];
  // The block comments, as [start, end) offsets.
  const comments: number[] = [];
  const re = /\/\*[\s\S]*?\*\//g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) comments.push(m.index, m.index + m[0].length);
  const lines = text.split("\n");
  const starts: number[] = [];
  for (let i = 0, at = 0; i < lines.length; i++) {
    starts.push(at);
    at += (lines[i] as string).length + 1;
  }
  let c = 0; // the first comment that ends after the line asked for (lines are asked for in order)
  const line = (i: number): string => {
    const text0 = lines[i] as string;
    const start = starts[i] as number;
    const end = start + text0.length;
    while (c < comments.length && (comments[c + 1] as number) <= start) c += 2;
    if (c >= comments.length || (comments[c] as number) >= end) return text0;
    let out = "";
    let pos = start;
    for (let k = c; k < comments.length && (comments[k] as number) < end; k += 2) {
      const from = Math.max(comments[k] as number, start);
      const to = Math.min(comments[k + 1] as number, end);
      out += text.slice(pos, from) + " ".repeat(to - from);
      pos = to;
    }
    return out + text.slice(pos, end);
  };
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let l = line(i);
    if (!/^\s*#\s*(define|undef)\b/.test(l)) continue;
    while (/\\\r?$/.test(l) && i + 1 < lines.length) l = `${l.replace(/\\\r?$/, " ")}${line(++i)}`;
    out.push(l);
  }
  return out;
}

/** Every #define of a header's text, in order; #undef removes an earlier one. */
export function parseDefines(text: string, origin: string): MacroDef[] {
  const out = new Map<string, MacroDef>();
  for (const directive of directives(text)) {
    const d = /^#\s*(define|undef)\s+(.*)$/s.exec(flatten(directive.trim()));
    if (!d) continue;
    if (d[1] === "undef") {
      out.delete((d[2] as string).trim());
      continue;
    }
    const m = macro(d[2] as string, origin);
    if (m && !out.has(m.name)) out.set(m.name, m);
  }
  return [...out.values()];
}

/** What macroClosure needs of a table: lookup by name, and every name (for pasted prefixes, rarely). */
export interface MacroLookup {
  get(name: string): MacroDef | undefined;
  keys(): Iterable<string>;
  /** The names starting with `prefix` (when given, used instead of filtering keys()). */
  keysWithPrefix?(prefix: string): Iterable<string>;
}

/** The definitions `seeds` need: the macros they name and, transitively, the macros those name. */
export function macroClosure(table: MacroLookup, seeds: Iterable<string>): MacroDef[] {
  const picked = new Map<string, MacroDef>();
  const todo = [...seeds];
  while (todo.length > 0) {
    const n = todo.pop() as string;
    if (picked.has(n)) continue;
    const m = table.get(n);
    if (!m) continue;
    picked.set(n, m);
    for (const d of m.deps) if (!picked.has(d)) todo.push(d);
    for (const p of m.pasted ?? [])
      for (const k of table.keysWithPrefix ? table.keysWithPrefix(p) : table.keys())
        if (k.startsWith(p) && !picked.has(k)) todo.push(k);
  }
  return [...picked.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * C text defining the macros, each only if not defined already (by libbpf's
 * headers, the prelude or a -D flag), so that those keep precedence.
 */
export function emitMacros(defs: readonly MacroDef[]): string {
  return defs
    .map((m) => `#ifndef ${m.name}\n#define ${m.name}${m.params}${m.body ? ` ${m.body}` : ""}\n#endif`)
    .join("\n");
}
