/**
 * The #defines of the kernel's UAPI headers (NAME_MAX, S_ISREG, O_*, ETH_P_*,
 * IPPROTO_*, TC_ACT_*, …), taken from the headers the system has installed
 * (Debian's linux-libc-dev) by clang's preprocessor, not from a hand list.
 *
 * All of linux/**.h are preprocessed in one run with `-E -dD` (each #define
 * and the file it comes from). Only the kernel's own directories are visible
 * (a directory of links to them), so the C library's macros never get in;
 * a header they include that is not there (glibc's, libdrm's) is replaced by
 * an empty one and the run repeated. Macros that name a type or enum constant
 * of this kernel's BTF are dropped: vmlinux.h has them, with this kernel's
 * values. The result is cached per UAPI headers and kernel.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { kernelBtf } from "../kernel/kernel_btf.js";
import { kernelBtfId } from "../kernel/kernel_info.js";
import { cacheSubdir, hashKey, readIfExists, writeAtomic } from "./cache.js";
import { type Clang, runClang } from "./clang.js";
import { type MacroDef, macro } from "./macros.js";

/** Where the UAPI headers are (linux-libc-dev). */
const INCLUDE = "/usr/include";

/** The architecture's asm/ directory of the UAPI headers. */
function asmDir(): string | undefined {
  for (const d of ["x86_64-linux-gnu", "aarch64-linux-gnu", "s390x-linux-gnu", "powerpc64le-linux-gnu"]) {
    const p = join(INCLUDE, d, "asm");
    if (existsSync(p) && (process.arch === "x64") === d.startsWith("x86_64")) return p;
  }
  const generic = join(INCLUDE, "asm");
  return existsSync(generic) ? generic : undefined;
}

/** The headers to preprocess: linux/*.h and one level of subdirectories (linux/netfilter/*.h, …). */
function uapiHeaders(): string[] {
  const root = join(INCLUDE, "linux");
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.isFile() && e.name.endsWith(".h")) out.push(`linux/${e.name}`);
    else if (e.isDirectory()) {
      for (const f of readdirSync(join(root, e.name)).sort())
        if (f.endsWith(".h")) out.push(`linux/${e.name}/${f}`);
    }
  }
  return out;
}

/** Identity of the installed UAPI headers: changes when linux-libc-dev does. */
function uapiIdentity(): string | undefined {
  try {
    const st = statSync(join(INCLUDE, "linux", "version.h"));
    return `${st.size}:${st.mtimeMs}:${asmDir() ?? ""}`;
  } catch {
    return undefined;
  }
}

/** Every name of this kernel's BTF a macro must not shadow: types and enum constants. */
function kernelNames(): Set<string> {
  const names = new Set<string>();
  for (const t of kernelBtf().all()) {
    if (t.name) names.add(t.name);
    if (t.kind === "ENUM" || t.kind === "ENUM64") for (const v of t.values) names.add(v.name);
  }
  return names;
}

/** An include guard: empty body, named like the header. */
const GUARD = /_H_*$/;

/** Runs the preprocessor over the headers; the #defines of the kernel's directories. */
async function preprocess(clang: Clang, headers: string[]): Promise<MacroDef[]> {
  const work = mkdtempSync(join(tmpdir(), "tsbpf-uapi-"));
  try {
    const farm = join(work, "include");
    const stubs = join(work, "stubs");
    mkdirSync(farm);
    mkdirSync(stubs);
    symlinkSync(join(INCLUDE, "linux"), join(farm, "linux"));
    if (existsSync(join(INCLUDE, "asm-generic")))
      symlinkSync(join(INCLUDE, "asm-generic"), join(farm, "asm-generic"));
    const asm = asmDir();
    if (asm) symlinkSync(asm, join(farm, "asm"));
    const tu = join(work, "all.c");
    writeFileSync(tu, `${headers.map((h) => `#include <${h}>`).join("\n")}\n`);
    const args = [
      "-E",
      "-dD",
      "-nostdinc",
      "-target",
      "bpf",
      ...(process.arch === "x64" ? ["-D__x86_64__"] : []),
      "-Wno-everything",
      `-I${farm}`,
      `-I${stubs}`,
      tu,
    ];
    // Headers the kernel's directories do not have (the C library's, libdrm's):
    // empty stand-ins, found by scanning the includes first, then by running
    // until clang finds none missing.
    const has = (inc: string, from: string, quoted: boolean): boolean =>
      existsSync(join(farm, inc)) || (quoted && existsSync(join(dirname(from), inc)));
    for (const h of headers) {
      const path = join(farm, h);
      const text = readIfExists(path)?.toString("utf8") ?? "";
      for (const m of text.matchAll(/^\s*#\s*include\s*([<"])([^>"]+)[>"]/gm)) {
        const inc = m[2] as string;
        if (has(inc, path, m[1] === '"') || inc.includes("..")) continue;
        mkdirSync(dirname(join(stubs, inc)), { recursive: true });
        writeFileSync(join(stubs, inc), "");
      }
    }
    // (To stdout: with -o, clang deletes the output when a header has an error.)
    let text = "";
    for (let round = 0; round < 200; round++) {
      const r = await runClang(clang, args);
      text = r.stdout;
      const missing = /fatal error: '([^']+)' file not found/.exec(r.stderr);
      if (!missing) break;
      const stub = join(stubs, missing[1] as string);
      if (existsSync(stub)) break;
      mkdirSync(dirname(stub), { recursive: true });
      writeFileSync(stub, "");
    }
    const defs = new Map<string, MacroDef>();
    let file = "";
    for (const line of text.split("\n")) {
      if (line.startsWith("# ")) {
        const m = /^# \d+ "([^"]*)"/.exec(line);
        if (m) file = m[1] as string;
        continue;
      }
      if (!file.startsWith(`${farm}/`)) continue;
      if (line.startsWith("#undef ")) {
        defs.delete(line.slice(7).trim());
        continue;
      }
      if (!line.startsWith("#define ")) continue;
      const d = macro(line.slice(8), file.slice(farm.length + 1));
      if (!d || defs.has(d.name)) continue;
      if (d.body === "" && GUARD.test(d.name)) continue;
      defs.set(d.name, d);
    }
    return [...defs.values()];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

let loaded: Map<string, MacroDef> | undefined;

/**
 * The UAPI macros (name → definition) that do not clash with this kernel's
 * BTF; empty when the system has no UAPI headers (install linux-libc-dev).
 */
export async function uapiMacros(clang: Clang): Promise<Map<string, MacroDef>> {
  if (loaded) return loaded;
  const identity = uapiIdentity();
  if (identity === undefined) {
    loaded = new Map();
    return loaded;
  }
  const path = join(
    cacheSubdir("macros"),
    `uapi-${hashKey("uapi-1", identity, kernelBtfId()).slice(0, 24)}.json`,
  );
  const cached = readIfExists(path);
  if (cached) {
    loaded = new Map((JSON.parse(cached.toString("utf8")) as MacroDef[]).map((m) => [m.name, m]));
    return loaded;
  }
  const clash = kernelNames();
  const defs = (await preprocess(clang, uapiHeaders())).filter((m) => !clash.has(m.name));
  writeAtomic(path, JSON.stringify(defs));
  loaded = new Map(defs.map((m) => [m.name, m]));
  return loaded;
}
