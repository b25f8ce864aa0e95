/**
 * The header layer that BTF lacks: the kernel macros a program uses, for its
 * generated header. Three sources, later ones winning on a name they share:
 *  1. the system's UAPI headers (uapi_macros.ts);
 *  2. tsbpf's hand-written shims for kernel-internal headers, one file per
 *     kernel header they stand in for (headers/linux/dcache.h,
 *     headers/net/inet_sock.h, …), written from the documented meaning;
 *  3. values read from this kernel's BTF (btf_macros.ts);
 *  4. the kernel's configuration (CONFIG_*, as autoconf.h has them).
 * A program gets the macros it names and the ones those name, never one it
 * defines itself (a function, variable, type or #define of its own wins, as
 * the kernel's header would not be there to clash in a bcc program that
 * avoided it).
 *
 * A source is read only when a lookup may need it, so that a cold compile
 * pays for what the program uses: the BTF for a name that a BTF macro can
 * have (btf_macros.ts: isBtfMacroName), the configuration for CONFIG_*, and
 * the UAPI macros (a preprocessor run over ~900 headers, a second or more)
 * only when a name the lookups reach is #defined in a UAPI header (a text
 * scan for the names, learnt and cached name by name: uapi_macros.ts,
 * UapiNames) and is not one of this kernel's BTF. The passes over the macros
 * are synchronous: {@link withKernelMacros} runs one, settles the names it
 * reached, and when one needs the UAPI macros, loads them and runs it again.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { kernelConfig } from "../kernel/kconfig.js";
import { kernelBtf } from "../kernel/kernel_btf.js";
import { kernelBtfId } from "../kernel/kernel_info.js";
import { btfMacro, btfMacroNameMayStartWith, btfMacros, isBtfMacroName } from "./btf_macros.js";
import { cacheSubdir, hashKey, readCached, writeAtomic } from "./cache.js";
import { type Clang, runClang } from "./clang.js";
import { hasConditionals, type MacroEnv, resolveConditionals, type SimpleMacro } from "./conditionals.js";
import { headerStamps } from "./headers_dir.js";
import { identifiers } from "./kernel_types.js";
import { emitMacros, type MacroDef, type MacroLookup, macro, macroClosure, parseDefines } from "./macros.js";
import { cachedUapiMacros, type UapiMacros, type UapiNames, uapiMacros, uapiNames } from "./uapi_macros.js";

/** Directories of the headers dir that are real headers (force-included or #included), not macro shims. */
const INCLUDED = new Set(["tsbpf", "bcc"]);

function shimFiles(headersDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) {
        if (!(dir === headersDir && INCLUDED.has(e))) walk(p);
      } else if (e.endsWith(".h")) out.push(p);
    }
  };
  walk(headersDir);
  return out;
}

/** The hand-written shims' macros (parsed once per set of header files, then cached). */
let shims: MacroDef[] | undefined;
export function shimMacros(headersDir: string): MacroDef[] {
  if (shims) return shims;
  const path = join(
    cacheSubdir("macros"),
    `shims-${hashKey(headersDir, ...headerStamps(headersDir)).slice(0, 24)}.json`,
  );
  const hit = readCached(path);
  if (hit) {
    shims = JSON.parse(hit.toString("utf8")) as MacroDef[];
    return shims;
  }
  shims = [];
  for (const f of shimFiles(headersDir))
    shims.push(...parseDefines(readFileSync(f, "utf8"), relative(headersDir, f)));
  writeAtomic(path, JSON.stringify(shims));
  return shims;
}

/**
 * The BTF-derived macros (btf_macros.ts), one name at a time: each is made
 * from the kernel's BTF (read lazily, by name) the first time a program
 * names it, and kept in a cache file per kernel, name → definition or null.
 */
class BtfMacroCache {
  private made: Map<string, MacroDef | null> | undefined;
  private readonly path = join(
    cacheSubdir("macros"),
    `btf-${hashKey("btf-macros-2", kernelBtfId()).slice(0, 24)}.json`,
  );

  private read(): Map<string, MacroDef | null> {
    const hit = readCached(this.path);
    return new Map(
      hit ? Object.entries(JSON.parse(hit.toString("utf8")) as Record<string, MacroDef | null>) : [],
    );
  }

  get(name: string): MacroDef | undefined {
    this.made ??= this.read();
    let m = this.made.get(name);
    if (m === undefined) {
      m = btfMacro(name) ?? null;
      this.made.set(name, m);
      // Another process may have made other names meanwhile: keep theirs too.
      const all = this.read();
      for (const [k, v] of this.made) all.set(k, v);
      writeAtomic(this.path, JSON.stringify(Object.fromEntries(all)));
    }
    return m ?? undefined;
  }

  /** Every BTF macro's name (all of them made: for a name pasted together, rarely). */
  names(): string[] {
    return btfMacros().map((m) => m.name);
  }
}

/** Where a {@link KernelMacros} table reads its sources, each when first needed. */
export interface KernelMacroSources {
  /** tsbpf's hand-written shims' macros. */
  shims: () => MacroDef[];
  /** The macro this kernel's BTF gives `name` (asked only for a name isBtfMacroName accepts). */
  btf: (name: string) => MacroDef | undefined;
  /** Every name `btf` can answer. */
  btfNames: () => string[];
  /** The kernel configuration: CONFIG_* name → value (read for a CONFIG_* name). */
  kconfig: () => Map<string, string>;
  /** What is known of the names the UAPI headers #define (uapi_macros.ts). */
  uapiNames: () => Pick<UapiNames, "has" | "withPrefix" | "learn">;
  /** True for a name of this kernel's BTF (a type or enum constant): the UAPI macros drop those. */
  kernelName: (name: string) => boolean;
  /** The UAPI macros when the cache has them, else undefined (no preprocessor run). */
  cachedUapi: () => UapiMacros | undefined;
  /** The UAPI macros (the slow source: a preprocessor run when the cache lacks them). */
  uapi: () => Promise<UapiMacros>;
}

/**
 * Every kernel macro tsbpf knows for this kernel, looked up by name: this
 * kernel's BTF first, then tsbpf's shims, the kernel configuration and the
 * UAPI headers. Each source is read when a lookup first needs it. The UAPI
 * macros, the slow one, are loaded only through {@link KernelMacros.loadUapi}
 * (unless the cache has them); until then a lookup of a name they may define
 * answers undefined and records the name: in {@link KernelMacros.pending}
 * when a UAPI header #defines it, in {@link KernelMacros.unknown} when that
 * is not known yet. {@link withKernelMacros} settles both.
 */
export class KernelMacros implements MacroLookup {
  private shimTable: Map<string, MacroDef> | undefined;
  private kconfigTable: Map<string, string> | undefined;
  private uapi: UapiMacros | undefined;
  private uapiTried = false;
  private uapiLoading: Promise<void> | undefined;
  private readonly made = new Map<string, MacroDef | undefined>();
  /** Names looked up that the UAPI macros, not loaded, would define. */
  readonly pending = new Set<string>();
  /** Names looked up that the UAPI headers may #define: not known yet (UapiNames.learn). */
  readonly unknown = new Set<string>();
  /** Prefixes whose UAPI names were asked for (a macro pasting tokens) and are not known yet. */
  readonly unknownPrefixes = new Set<string>();

  constructor(private readonly sources: KernelMacroSources) {}

  private shims(): Map<string, MacroDef> {
    if (!this.shimTable) {
      this.shimTable = new Map();
      for (const m of this.sources.shims()) this.shimTable.set(m.name, m);
    }
    return this.shimTable;
  }

  private kconfig(): Map<string, string> {
    this.kconfigTable ??= this.sources.kconfig();
    return this.kconfigTable;
  }

  /** The UAPI macros if loaded, or in the cache (then loaded, cheaply). */
  private uapiTable(): UapiMacros | undefined {
    if (!this.uapi && !this.uapiTried) {
      this.uapiTried = true;
      this.uapi = this.sources.cachedUapi();
    }
    return this.uapi;
  }

  /** Whether the UAPI macros are loaded (or in the cache, so loaded on the next lookup). */
  get uapiLoaded(): boolean {
    return this.uapiTable() !== undefined;
  }

  /** Loads the UAPI macros (once; concurrent callers share the load). */
  loadUapi(): Promise<void> {
    this.uapiLoading ??= this.sources.uapi().then((u) => {
      this.uapi = u;
    });
    return this.uapiLoading;
  }

  /**
   * Settles names and prefixes that lookups recorded as {@link unknown} and
   * {@link unknownPrefixes} (one scan of the UAPI headers for them): returns
   * those that a UAPI header #defines and that are not one of this kernel's
   * BTF names, which only the UAPI macros can answer.
   */
  settle(unknown: Iterable<string>, prefixes: Iterable<string>): string[] {
    const names = this.sources.uapiNames();
    const check = [...unknown];
    const pres = [...prefixes];
    if (check.length === 0 && pres.length === 0) return [];
    names.learn(check, pres);
    for (const p of pres) check.push(...(names.withPrefix(p) ?? []));
    return check.filter((n) => names.has(n) && this.uapiCandidate(n));
  }

  /** Whether the UAPI macros would answer for `name`: nothing before them does, and it is not a BTF name. */
  private uapiCandidate(name: string): boolean {
    if (isBtfMacroName(name) && this.sources.btf(name)) return false;
    if (this.shims().has(name)) return false;
    if (name.startsWith("CONFIG_") && this.kconfig().has(name)) return false;
    return !this.sources.kernelName(name);
  }

  get(name: string): MacroDef | undefined {
    // BTF, then the shims (the BTF's value wins over a shim's guess).
    if (isBtfMacroName(name)) {
      const b = this.sources.btf(name);
      if (b) return b;
    }
    const s = this.shims().get(name);
    if (s) return s;
    if (this.made.has(name)) return this.made.get(name);
    // Every configuration name is CONFIG_* (=m options too: CONFIG_X_MODULE).
    const v = name.startsWith("CONFIG_") ? this.kconfig().get(name) : undefined;
    let m: MacroDef | undefined;
    if (v !== undefined) m = macro(`${name} ${v}`, "kernel configuration");
    else {
      const uapi = this.uapiTable();
      if (uapi) m = uapi.get(name);
      else {
        const defined = this.sources.uapiNames().has(name);
        if (defined === undefined) {
          this.unknown.add(name);
          return undefined;
        }
        if (defined && !this.sources.kernelName(name)) {
          this.pending.add(name);
          return undefined;
        }
      }
    }
    this.made.set(name, m);
    return m;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Every name (the UAPI macros loaded for it: for a macro that pastes tokens, use keysWithPrefix). */
  keys(): Iterable<string> {
    const uapi = this.uapiTable();
    if (!uapi) this.pending.add("");
    return new Set([
      ...this.sources.btfNames(),
      ...this.shims().keys(),
      ...this.kconfig().keys(),
      ...(uapi ? uapi.keys() : []),
    ]);
  }

  /** The names starting with `prefix` (of the UAPI headers' while their macros are not loaded: get() tells which need them). */
  keysWithPrefix(prefix: string): Iterable<string> {
    const out = new Set<string>();
    if (btfMacroNameMayStartWith(prefix))
      for (const n of this.sources.btfNames()) if (n.startsWith(prefix)) out.add(n);
    for (const n of this.shims().keys()) if (n.startsWith(prefix)) out.add(n);
    if ("CONFIG_".startsWith(prefix) || prefix.startsWith("CONFIG_"))
      for (const n of this.kconfig().keys()) if (n.startsWith(prefix)) out.add(n);
    const uapi = this.uapiTable();
    if (uapi) {
      for (const n of uapi.keys()) if (n.startsWith(prefix)) out.add(n);
    } else {
      const known = this.sources.uapiNames().withPrefix(prefix);
      if (known === undefined) this.unknownPrefixes.add(prefix);
      else for (const n of known) out.add(n);
    }
    return out;
  }
}

/** The sources of this kernel's macros. */
function kernelSources(clang: Clang, headersDir: string): KernelMacroSources {
  const btf = new BtfMacroCache();
  return {
    shims: () => shimMacros(headersDir),
    btf: (name) => btf.get(name),
    btfNames: () => btf.names(),
    kconfig: () => kernelConfig().config,
    uapiNames,
    kernelName: (name) => kernelBtf().hasName(name),
    cachedUapi: cachedUapiMacros,
    uapi: () => uapiMacros(clang),
  };
}

let table: KernelMacros | undefined;

/** The kernel macros of this kernel (one table per process; its sources are read as lookups need them). */
export function kernelMacroTable(clang: Clang, headersDir: string): KernelMacros {
  table ??= new KernelMacros(kernelSources(clang, headersDir));
  return table;
}

/**
 * Runs `pass`, a synchronous function of the kernel macros it looks up, and
 * returns its result. When it looked up names that the UAPI headers may
 * #define, those are settled (KernelMacros.settle); when one needs the UAPI
 * macros, they are loaded and a second run's result returned. Without such a
 * name, the first run saw exactly what the full table would have answered.
 */
export async function withKernelMacros<T>(table: KernelMacros, pass: (t: KernelMacros) => T): Promise<T> {
  const first = speculate(table, pass);
  if (first.exact || first.settle()) return first.result;
  await table.loadUapi();
  return pass(table);
}

/**
 * Runs `pass` as withKernelMacros does, without settling the names it
 * recorded: `exact` when there were none (the result is the full table's),
 * else `settle()` tells whether the result stands (false: the UAPI macros are
 * needed; run it again with withKernelMacros). A compile settles while clang
 * runs.
 */
function speculate<T>(
  table: KernelMacros,
  pass: (t: KernelMacros) => T,
): { result: T; exact: boolean; needsUapi: boolean; settle: () => boolean } {
  if (table.uapiLoaded) return { result: pass(table), exact: true, needsUapi: false, settle: () => true };
  table.pending.clear();
  table.unknown.clear();
  table.unknownPrefixes.clear();
  const result = pass(table);
  // Copied now: another pass (a concurrent compile) clears them.
  const pending = table.pending.size > 0;
  const unknown = [...table.unknown];
  const prefixes = [...table.unknownPrefixes];
  if (pending) return { result, exact: false, needsUapi: true, settle: () => false };
  if (unknown.length === 0 && prefixes.length === 0)
    return { result, exact: true, needsUapi: false, settle: () => true };
  let stands: boolean | undefined;
  return {
    result,
    exact: false,
    needsUapi: false,
    settle: () => {
      stands ??= table.settle(unknown, prefixes).length === 0;
      return stands;
    },
  };
}

/**
 * The macro definitions a program needs (C text for its generated header):
 * those named in its translated text and in tsbpf's own headers, minus every
 * name the program defines. `defined` are its file-scope names
 * (RewriteResult.definedNames); its own #defines are found here, and
 * `generated`'s (the generated header's #defines, before the kernel macros
 * there, so that a kernel macro of the same name could never be used).
 *
 * With `settleLater`, names that the UAPI headers may #define (not known
 * yet: a scan of the headers tells) are taken as not defined, and `settle`
 * is returned: it scans, and returns false when the text is wrong (a UAPI
 * macro is needed; call again without settleLater for the right one). A
 * compile calls it while clang runs on the first text.
 */
export async function programMacros(
  clang: Clang,
  headersDir: string,
  translated: string,
  defined: Iterable<string>,
  ownHeaders: string[],
  generated = "",
  opts: { settleLater?: boolean } = {},
): Promise<{ text: string; names: string[]; settle?: () => boolean }> {
  const seeds = new Set<string>();
  identifiers(translated, seeds);
  for (const h of ownHeaders) identifiers(h, seeds);
  const own = new Set<string>(defined);
  for (const m of parseDefines(translated, "program")) own.add(m.name);
  for (const h of ownHeaders) for (const m of parseDefines(h, "tsbpf")) own.add(m.name);
  for (const m of parseDefines(generated, "tsbpf")) own.add(m.name);
  const table = kernelMacroTable(clang, headersDir);
  const pass = (all: KernelMacros): MacroDef[] =>
    macroClosure(
      {
        get: (name) => (own.has(name) ? undefined : all.get(name)),
        keys: () => all.keys(),
        keysWithPrefix: (prefix) => all.keysWithPrefix(prefix),
      },
      seeds,
    );
  const out = (picked: MacroDef[]) => ({ text: emitMacros(picked), names: picked.map((m) => m.name) });
  if (opts.settleLater) {
    const first = speculate(table, pass);
    if (first.exact) return out(first.result);
    // When it needs the UAPI macros already, a first compile without them is no use.
    if (!first.needsUapi) return { ...out(first.result), settle: first.settle };
  }
  return out(await withKernelMacros(table, pass));
}

/** libbpf's headers that tsbpf/prelude.h includes (their macros are defined before the program). */
const LIBBPF_HEADERS = [
  "bpf_helpers.h",
  "bpf_helper_defs.h",
  "bpf_tracing.h",
  "bpf_core_read.h",
  "bpf_endian.h",
];

let predefined: Map<string, SimpleMacro> | undefined;

function predefinedPath(clang: Clang, flags: string[]): string {
  return join(cacheSubdir("macros"), `clang-${hashKey(clang.identity, ...flags).slice(0, 24)}.json`);
}

/** clang's predefined macros when this process or the cache has them (no clang run), else undefined. */
function knownPredefined(clang: Clang, flags: string[]): Map<string, SimpleMacro> | undefined {
  if (predefined) return predefined;
  const hit = readCached(predefinedPath(clang, flags));
  if (hit) predefined = new Map(JSON.parse(hit.toString("utf8")) as Array<[string, SimpleMacro]>);
  return predefined;
}

/**
 * Whether clang may predefine `name` (with -target bpf): every macro it
 * predefines is a reserved identifier, and for the BPF target all of them
 * start with "_" (__bpf__, __clang_major__, _LP64, …; a unit test checks).
 */
export function mayBePredefined(name: string): boolean {
  return name.startsWith("_");
}

/** clang's predefined macros for tsbpf's flags (-target bpf, -D…), cached per clang and flags. */
export async function clangPredefined(clang: Clang, flags: string[]): Promise<Map<string, SimpleMacro>> {
  const known = knownPredefined(clang, flags);
  if (known) return known;
  const path = predefinedPath(clang, flags);
  const r = await runClang(clang, [...flags, "-dM", "-E", "-x", "c", "/dev/null"]);
  predefined = toSimple(parseDefines(r.stdout, "clang"));
  if (r.code === 0) writeAtomic(path, JSON.stringify([...predefined]));
  return predefined;
}

function toSimple(defs: Iterable<MacroDef>): Map<string, SimpleMacro> {
  const out = new Map<string, SimpleMacro>();
  for (const m of defs) {
    const params = m.params
      ? m.params
          .slice(1, -1)
          .split(",")
          .map((p) => p.trim())
          .filter(Boolean)
      : undefined;
    out.set(m.name, { body: m.body, ...(params ? { params } : {}) });
  }
  return out;
}

/** A header's #defines, cached by its path, size and mtime (libbpf's take ~15 ms to tokenize). */
function headerDefines(path: string): Map<string, SimpleMacro> {
  let st: { size: number; mtimeMs: number };
  try {
    st = statSync(path);
  } catch {
    return new Map();
  }
  const cache = join(
    cacheSubdir("macros"),
    `hdr-${hashKey(path, String(st.size), String(st.mtimeMs)).slice(0, 24)}.json`,
  );
  const hit = readCached(cache);
  if (hit) return new Map(JSON.parse(hit.toString("utf8")) as Array<[string, SimpleMacro]>);
  const defs = toSimple(parseDefines(readFileSync(path, "utf8"), path));
  writeAtomic(cache, JSON.stringify([...defs]));
  return defs;
}

/**
 * The -D and -U flags of cflags, in order (`-DNAME`, `-DNAME=VALUE`, `-D NAME`,
 * `-UNAME`, `-U NAME`): [name, value] for a definition (value "1" when none
 * is given, as for the preprocessor), [name, undefined] for -U. A name may be
 * a function-like macro's head (`-D'F(x)=x'`).
 */
export function cflagMacros(cflags: string[]): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  for (let i = 0; i < cflags.length; i++) {
    const d = /^-([DU])(.*)$/s.exec(cflags[i] as string);
    if (!d) continue;
    const arg = d[2] || (cflags[++i] ?? "");
    const eq = arg.indexOf("=");
    if (d[1] === "U") out.push([arg, undefined]);
    else out.push(eq < 0 ? [arg, "1"] : [arg.slice(0, eq), arg.slice(eq + 1)]);
  }
  return out;
}

/** The object-like macros the -D flags define, NAME to value (the rewriter's BPF_TABLE types). */
export function flagDefines(cflags: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of cflagMacros(cflags))
    if (value !== undefined && /^[A-Za-z_]\w*$/.test(name)) out.set(name, value);
  return out;
}

/** -D/-U flags' effect, in order; the names they set or remove are added to `touched`. */
function applyFlags(macros: Map<string, SimpleMacro>, cflags: string[], touched: Set<string>): void {
  for (const [name, value] of cflagMacros(cflags)) {
    if (value === undefined) {
      macros.delete(name);
      touched.add(name);
      continue;
    }
    const m = macro(`${name} ${value}`, "cflags");
    if (m)
      for (const [k, v] of toSimple([m])) {
        macros.set(k, v);
        touched.add(k);
      }
  }
}

/**
 * The macros clang knows before the program's first line, but the kernel
 * macros: clang's own (`predefined`; undefined: left out) and the flags',
 * tsbpf's generated defines and headers, libbpf's. `set` are the names that
 * something after clang's own set or removed: their value does not depend on
 * clang's.
 */
function headerMacros(
  predefinedMacros: Map<string, SimpleMacro> | undefined,
  headersDir: string,
  cflags: string[],
  generated: string,
): { macros: Map<string, SimpleMacro>; set: Set<string> } {
  const macros = new Map(predefinedMacros ?? []);
  const set = new Set<string>();
  applyFlags(macros, cflags, set);
  for (const [k, v] of toSimple(parseDefines(generated, "tsbpf"))) {
    macros.set(k, v);
    set.add(k);
  }
  for (const h of ["tsbpf/prelude.h", "bcc/helpers.h"])
    for (const [k, v] of headerDefines(join(headersDir, h))) {
      macros.set(k, v);
      set.add(k);
    }
  // libbpf's only where nothing before defines the name (clang's own included).
  for (const h of LIBBPF_HEADERS)
    for (const [k, v] of headerDefines(join("/usr/include/bpf", h))) if (!macros.has(k)) macros.set(k, v);
  macros.set("__VMLINUX_H__", { body: "" });
  set.add("__VMLINUX_H__");
  applyFlags(macros, cflags, set);
  return { macros, set };
}

/**
 * The program's text with its conditionals resolved (conditionals.ts) with
 * the macros clang knows before its first line: clang's own and the flags',
 * tsbpf's generated defines and headers, libbpf's, and the kernel macros,
 * except those the program #defines itself (its own definition is what clang
 * sees). A text without conditionals is returned as it is, with nothing
 * made. clang's predefined macros (a clang run, cached) and the UAPI macros
 * are loaded only when a lookup may need them; the resolution is then run
 * again with them.
 */
export async function programConditionals(
  clang: Clang,
  headersDir: string,
  flags: string[],
  cflags: string[],
  generated: string,
  programDefines: ReadonlySet<string>,
  text: string,
): Promise<string> {
  if (!hasConditionals(text)) return text;
  const kernel = kernelMacroTable(clang, headersDir);
  const base = (name: string): SimpleMacro | undefined => {
    if (programDefines.has(name)) return undefined;
    const m = kernel.get(name);
    return m ? toSimple([m]).get(name) : undefined;
  };
  let known = knownPredefined(clang, flags);
  for (;;) {
    const { macros, set } = headerMacros(known, headersDir, cflags, generated);
    let needsPredefined = false;
    // Without clang's own macros, a name clang may predefine that nothing
    // after it set has a value that may differ: such a lookup needs them.
    const probe =
      known === undefined
        ? (name: string): void => {
            if (mayBePredefined(name) && !set.has(name)) needsPredefined = true;
          }
        : undefined;
    const env: MacroEnv = { macros, unknown: new Set(), base, ...(probe ? { probe } : {}) };
    const out = await withKernelMacros(kernel, () => {
      needsPredefined = false;
      return resolveConditionals(text, env).text;
    });
    if (!needsPredefined) return out;
    known = await clangPredefined(clang, flags);
  }
}
