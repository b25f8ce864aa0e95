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
 *
 * The pass is split by job: ast.ts reads clang's JSON, analysis.ts finds the
 * external values and the reads through them, sources.ts maps nodes to text
 * ranges through macros, emitter.ts edits the text, bitfields.ts answers
 * which members are bit-fields.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Clang, PrestartedClang } from "../clang.js";
import type { ProgramInfo } from "../rewriter.js";
import { analyse } from "./analysis.js";
import { children, definedFunctions, dumpFunctions, type Fn } from "./ast.js";
import { Bitfields } from "./bitfields.js";
import { buildEdits, buildRangeIndex, Emitter, newlines, type Site, SiteFailure } from "./emitter.js";
import { Sources } from "./sources.js";

export { filtersFor } from "./ast.js";

/** Options of {@link rewriteImplicitReads}. */
export interface ImplicitReadsOptions {
  /** The translated C (the rewriter's output), line for line with the user's source. */
  translated: string;
  /** The clang to run. */
  clang: Clang;
  /** A clang already started, for the first of the AST dumps (taken only if the pass runs clang). */
  prestarted?: () => PrestartedClang | undefined;
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
 * The casts the maps dialect writes itself (maps_dialect.ts): a map's address
 * given to a helper, and the value pointer of a map lookup. Neither points to
 * kernel memory, so they say nothing about the program's own casts.
 */
const DIALECT_CASTS =
  /\(void \*\)&\w+|\(\s*[\w\s]+\*+\s*\)\s*(?=bpf_(?:map_lookup_elem|\w+_storage_get|get_local_storage)\s*\()/g;

/**
 * Cheap pre-check: false only when nothing in the program can hold an
 * external pointer, so most programs (printk_sample, tracepoints reading
 * their own record) skip the AST pass altogether, and with it a clang run
 * (100-200 ms of a first compile).
 *
 * `recordPointers` are the pointer-typed fields of the non-syscall tracepoint
 * records the program uses (`struct mm_struct *mm`, `const void *skbaddr`):
 * such a field is kernel memory as it stands.
 */
export function needsImplicitReads(
  translated: string,
  programs: ProgramInfo[],
  recordPointers: Iterable<string> = [],
): boolean {
  if (programs.some((p) => p.declaredArgs.length > 0 && !p.name.startsWith("syscall__"))) return true;
  if (/\bbpf_get_current_task(_btf)?\b|\bbpf_raw_tracepoint_args\b|\bPT_REGS_\w+|\bctx\s*->/.test(translated))
    return true;
  if (!/\bargs\s*->/.test(translated)) return false;
  // Tracepoint records: a pointer field of the record, or any other field made
  // a pointer by a cast of the program's own or read with an explicit kernel read.
  const fields = [...recordPointers].filter((f) => /^\w+$/.test(f));
  if (fields.length > 0 && new RegExp(`\\bargs\\s*->\\s*(?:${fields.join("|")})\\b`).test(translated))
    return true;
  return /\*\s*\)|\bbpf_probe_read_kernel\b|\bbpf_core_read\b|\bBPF_CORE_READ\b/.test(
    translated.replace(DIALECT_CASTS, ""),
  );
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
    const { cacheSubdir } = await import("../cache.js");
    tmpDir = mkdtempSync(join(cacheSubdir("tmp"), "ast-"));
    srcPath = join(tmpDir, "prog.c");
    writeFileSync(srcPath, translated, { flag: "wx" }); // in a private (0700) directory of its own
  }
  try {
    const tc = performance.now();
    const dumped = await dumpFunctions(opts.clang, opts.clangArgs, srcPath, names, opts.prestarted);
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
    const { sites, kernelCallees } = analyse(fns, opts.programs, src);
    const notes: string[] = [];
    const note = (offset: number, reason: string): void => {
      const p = src.position(offset);
      notes.push(`${opts.fileName}:${p.line}:${p.column}: kernel memory read left as written: ${reason}`);
    };

    // Group the sites into edits by range; drop those that cannot be edited.
    const disabled = new Set<Site>();
    const rangeIndex = buildRangeIndex(fns, src);
    const bitfields = new Bitfields(translated, srcPath);
    for (let attempt = 0; attempt < 1000; attempt++) {
      const edits = buildEdits(sites, disabled, kernelCallees, src, rangeIndex, note);
      const emitter = new Emitter(src, bitfields, edits);
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
      rmSync(tmpDir, { recursive: true, force: true });
    }
  }
}
