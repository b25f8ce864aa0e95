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

function identifiers(text: string, into: Set<string>): void {
  for (const t of significant(tokenize(text))) {
    if (t.kind === "ident") into.add(t.text);
    else if (t.kind === "pp") {
      // Directives are one token: take the identifiers in their text too (macro bodies).
      for (const m of t.text.matchAll(/[A-Za-z_]\w*/g)) into.add(m[0]);
    }
  }
}

/** Identifiers of tsbpf's shim headers (read once per process). */
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
    walk(headersDir);
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
