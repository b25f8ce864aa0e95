/**
 * A vmlinux.h cut to the kernel types one program names. clang parses the
 * full 2.8 MB header in ~0.24 s; the subset (typically 20–30 KB) in a few
 * ms, which is most of a cold compile (measured on 6.18 with clang 14).
 * Types are picked by the identifiers of the program, tsbpf's own headers
 * and what libbpf's headers need; btf_dump adds their dependencies, and
 * struct members named in the program are followed (BPF_CORE_READ chains).
 * When a program needs a type this misses, the compile is retried against
 * the full header, so the subset can only make a compile faster.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { VMLINUX_BTF } from "../kernel/kernel_info.js";
import { native } from "../native.js";
import { significant, tokenize } from "./tokenizer.js";

/** vmlinux types libbpf's bpf_helpers.h / bpf_tracing.h use (found by compiling them against subsets). */
const LIBBPF_NEEDS = [
  "__u8",
  "__u16",
  "__u32",
  "__u64",
  "__s8",
  "__s16",
  "__s32",
  "__s64",
  "__be16",
  "__be32",
  "__wsum",
  "pt_regs",
  "user_pt_regs",
  "user_regs_struct",
];

let ownHeaderNames: string[] | undefined;

/** Adds the identifiers of C text (macro bodies of directives included) to `into`. */
export function identifiers(text: string, into: Set<string>): void {
  for (const t of significant(tokenize(text))) {
    if (t.kind === "ident") into.add(t.text);
    else if (t.kind === "pp") {
      // Directives are one token: take the identifiers in their text too (macro bodies).
      for (const m of t.text.matchAll(/[A-Za-z_]\w*/g)) into.add(m[0]);
    }
  }
}

/**
 * Identifiers of tsbpf's own included headers (tsbpf/, bcc/; read once per
 * process). The kernel-macro shims are not among them: the macros a program
 * uses are in its generated header, whose text is one of the subset's inputs.
 */
function headerNames(headersDir: string): string[] {
  if (ownHeaderNames === undefined) {
    const names = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir)) {
        const p = join(dir, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (e.endsWith(".h")) identifiers(readFileSync(p, "utf8"), names);
      }
    };
    for (const d of ["tsbpf", "bcc"]) walk(join(headersDir, d));
    ownHeaderNames = [...names];
  }
  return ownHeaderNames;
}

/** The subset vmlinux.h for a program whose translated text (and generated header) are given. */
export function subsetVmlinuxHeader(
  texts: string[],
  headersDir: string,
  exclude: Iterable<string> = [],
): { header: string; types: number } {
  const names = new Set<string>(LIBBPF_NEEDS);
  for (const n of headerNames(headersDir)) names.add(n);
  for (const t of texts) identifiers(t, names);
  for (const n of exclude) names.delete(n);
  const { header, types } = native().btfDumpSubset(VMLINUX_BTF, [...names]);
  return { header, types };
}

/**
 * Frees the kernel's BTF that subsetVmlinuxHeader (and the bitfield reads)
 * keep indexed in the addon between calls, 2.6 MB on 6.18: a compile calls it
 * once the types' last reader is done, before clang runs (a first compile's
 * memory peaks then), since a tracer compiles once and then runs for hours; a
 * later compile indexes again (~10 ms).
 */
export function releaseKernelTypes(): void {
  native().btfCacheRelease();
}

/**
 * The header without the kernel's definitions of the types the program
 * defines itself ("struct X", "union X", "enum X", "typedef X", as
 * RewriteResult.definedTypes lists them): a struct or union becomes a forward
 * declaration (kernel types may point to it), or, when a kernel type holds it
 * by value, is renamed X___kernel; the rest goes. btf_dump writes
 * each top-level definition from column 0 to a "};" or "} NAME;" line at
 * column 0, and a typedef of a named type on one line.
 */
export function withoutTypes(
  header: string,
  defined: Iterable<string>,
): { header: string; removed: string[] } {
  const drop = new Set(defined);
  if (drop.size === 0) return { header, removed: [] };
  // A struct or union that some kernel type holds by value cannot become a
  // forward declaration (that kernel type would be incomplete): the kernel's
  // keeps its definition under a CO-RE flavour name (X___kernel, which
  // libbpf matches to the kernel's X), and the program's X is its own.
  const byValue = [...drop].filter((t) => {
    const m = /^(struct|union) (\w+)$/.exec(t);
    return m !== null && new RegExp(`^\\t+${m[1]} ${m[2]} [^*]`, "m").test(header);
  });
  const renamed: string[] = [];
  if (byValue.length > 0) {
    const alt = byValue.map((t) => t.split(" ")[1]).join("|");
    header = header.replace(
      new RegExp(`\\b(struct|union) (${alt})\\b`, "g"),
      (_m, kind: string, name: string) => {
        if (!byValue.includes(`${kind} ${name}`)) return `${kind} ${name}`;
        if (!renamed.includes(`${kind} ${name}`)) renamed.push(`${kind} ${name}`);
        return `${kind} ${name}___kernel`;
      },
    );
    for (const t of byValue) drop.delete(t);
  }
  const lines = header.split("\n");
  const out: string[] = [];
  const removed: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const block = /^(struct|union|enum) (\w+) \{$/.exec(line);
    if (block && drop.has(`${block[1]} ${block[2]}`)) {
      while (i < lines.length && lines[i] !== "};") i++;
      if (block[1] !== "enum") out.push(`${block[1]} ${block[2]};`);
      removed.push(`${block[1]} ${block[2]}`);
      continue;
    }
    if (/^typedef (struct|union|enum) \{$/.test(line)) {
      let j = i + 1;
      while (j < lines.length && !/^\} \w+;$/.test(lines[j] as string)) j++;
      const name = /^\} (\w+);$/.exec(lines[j] ?? "")?.[1];
      if (name !== undefined && drop.has(`typedef ${name}`)) {
        removed.push(`typedef ${name}`);
        i = j;
        continue;
      }
    } else if (line.startsWith("typedef ") && line.endsWith(";")) {
      const name = (/\(\*\s*(\w+)\)\s*\(/.exec(line) ?? /(\w+)(\[[^\]]*\])*;$/.exec(line))?.[1];
      if (name !== undefined && drop.has(`typedef ${name}`)) {
        removed.push(`typedef ${name}`);
        continue;
      }
    }
    out.push(line);
  }
  return { header: out.join("\n"), removed: [...removed, ...renamed] };
}
