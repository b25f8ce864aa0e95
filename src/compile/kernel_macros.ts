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
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { kernelConfig } from "../kernel/kconfig.js";
import { kernelBtfId } from "../kernel/kernel_info.js";
import { cacheSubdir, hashKey, readCached, writeAtomic } from "./cache.js";
import { type Clang, runClang } from "./clang.js";
import type { MacroEnv, SimpleMacro } from "./conditionals.js";
import { headerStamps } from "./headers_dir.js";
import { identifiers } from "./kernel_types.js";
import { emitMacros, type MacroDef, type MacroLookup, macro, macroClosure, parseDefines } from "./macros.js";
import { type UapiMacros, uapiMacros } from "./uapi_macros.js";

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

/** The BTF-derived macros, cached per kernel (parsing the kernel's BTF costs ~130 ms). */
async function cachedBtfMacros(): Promise<MacroDef[]> {
  const path = join(cacheSubdir("macros"), `btf-${hashKey("btf-macros-1", kernelBtfId()).slice(0, 24)}.json`);
  const hit = readCached(path);
  if (hit) return JSON.parse(hit.toString("utf8")) as MacroDef[];
  const { btfMacros } = await import("./btf_macros.js");
  const defs = btfMacros();
  writeAtomic(path, JSON.stringify(defs));
  return defs;
}

/**
 * Every kernel macro tsbpf knows for this kernel, looked up by name: this
 * kernel's BTF first, then tsbpf's shims, the kernel configuration and the
 * UAPI headers.
 */
export class KernelMacros implements MacroLookup {
  private readonly small = new Map<string, MacroDef>();
  private readonly kconfig: Map<string, string>;
  private readonly made = new Map<string, MacroDef | undefined>();

  constructor(
    private readonly uapi: UapiMacros,
    shims: MacroDef[],
    btf: MacroDef[],
  ) {
    for (const m of shims) this.small.set(m.name, m);
    for (const m of btf) this.small.set(m.name, m);
    this.kconfig = kernelConfig().config;
  }

  get(name: string): MacroDef | undefined {
    const s = this.small.get(name);
    if (s) return s;
    if (this.made.has(name)) return this.made.get(name);
    const v = this.kconfig.get(name);
    const m = v !== undefined ? macro(`${name} ${v}`, "kernel configuration") : this.uapi.get(name);
    this.made.set(name, m);
    return m;
  }

  has(name: string): boolean {
    return this.small.has(name) || this.kconfig.has(name) || this.uapi.has(name);
  }

  keys(): Iterable<string> {
    return new Set([...this.small.keys(), ...this.kconfig.keys(), ...this.uapi.keys()]);
  }
}

let table: KernelMacros | undefined;

/** The kernel macros of this kernel (made once per process). */
export async function kernelMacroTable(clang: Clang, headersDir: string): Promise<KernelMacros> {
  table ??= new KernelMacros(await uapiMacros(clang), shimMacros(headersDir), await cachedBtfMacros());
  return table;
}

/**
 * The macro definitions a program needs (C text for its generated header):
 * those named in its translated text and in tsbpf's own headers, minus every
 * name the program defines. `defined` are its file-scope names
 * (RewriteResult.definedNames); its own #defines are found here.
 */
export async function programMacros(
  clang: Clang,
  headersDir: string,
  translated: string,
  defined: Iterable<string>,
  ownHeaders: string[],
): Promise<{ text: string; names: string[] }> {
  const all = await kernelMacroTable(clang, headersDir);
  const seeds = new Set<string>();
  identifiers(translated, seeds);
  for (const h of ownHeaders) identifiers(h, seeds);
  const own = new Set<string>(defined);
  for (const m of parseDefines(translated, "program")) own.add(m.name);
  for (const h of ownHeaders) for (const m of parseDefines(h, "tsbpf")) own.add(m.name);
  const usable: MacroLookup = {
    get: (name) => (own.has(name) ? undefined : all.get(name)),
    keys: () => all.keys(),
  };
  const picked = macroClosure(usable, seeds);
  return { text: emitMacros(picked), names: picked.map((m) => m.name) };
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

/** clang's predefined macros for tsbpf's flags (-target bpf, -D…), cached per clang and flags. */
async function clangPredefined(clang: Clang, flags: string[]): Promise<Map<string, SimpleMacro>> {
  if (predefined) return predefined;
  const path = join(cacheSubdir("macros"), `clang-${hashKey(clang.identity, ...flags).slice(0, 24)}.json`);
  const hit = readCached(path);
  if (hit) {
    predefined = new Map(JSON.parse(hit.toString("utf8")) as Array<[string, SimpleMacro]>);
    return predefined;
  }
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

/** -D/-U flags' effect, in order. */
function applyFlags(macros: Map<string, SimpleMacro>, cflags: string[]): void {
  for (let i = 0; i < cflags.length; i++) {
    const f = cflags[i] as string;
    const d = /^-([DU])(.*)$/.exec(f);
    if (!d) continue;
    const arg = d[2] || (cflags[++i] ?? "");
    if (d[1] === "U") {
      macros.delete(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const m = macro(eq < 0 ? `${arg} 1` : `${arg.slice(0, eq)} ${arg.slice(eq + 1)}`, "cflags");
    if (m) for (const [k, v] of toSimple([m])) macros.set(k, v);
  }
}

/**
 * The macros clang knows before the program's first line, for resolving its
 * conditionals (conditionals.ts): clang's own and the flags', tsbpf's
 * generated defines and headers, libbpf's, and the kernel macros, except
 * those the program #defines itself (its own definition is what clang sees).
 */
export async function conditionalEnv(
  clang: Clang,
  headersDir: string,
  flags: string[],
  cflags: string[],
  generated: string,
  programDefines: ReadonlySet<string>,
): Promise<MacroEnv> {
  const macros = new Map(await clangPredefined(clang, flags));
  applyFlags(macros, cflags);
  for (const [k, v] of toSimple(parseDefines(generated, "tsbpf"))) macros.set(k, v);
  for (const h of ["tsbpf/prelude.h", "bcc/helpers.h"])
    for (const [k, v] of headerDefines(join(headersDir, h))) macros.set(k, v);
  for (const h of LIBBPF_HEADERS)
    for (const [k, v] of headerDefines(join("/usr/include/bpf", h))) if (!macros.has(k)) macros.set(k, v);
  macros.set("__VMLINUX_H__", { body: "" });
  applyFlags(macros, cflags);
  const kernel = await kernelMacroTable(clang, headersDir);
  const base = (name: string): SimpleMacro | undefined => {
    if (programDefines.has(name)) return undefined;
    const m = kernel.get(name);
    return m ? toSimple([m]).get(name) : undefined;
  };
  return { macros, unknown: new Set(), base };
}
