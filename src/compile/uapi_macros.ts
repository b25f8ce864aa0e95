/**
 * The #defines of the kernel's UAPI headers (NAME_MAX, S_ISREG, O_*, ETH_P_*,
 * IPPROTO_*, TC_ACT_*, …), taken from the headers the system has installed
 * (Debian's linux-libc-dev) by clang's preprocessor, not from a hand list.
 *
 * All of linux/**.h are preprocessed in one run with `-E -dM` (the macros
 * defined at the end, less clang's own). Only the kernel's own directories are visible
 * (a directory of links to them), so the C library's macros never get in;
 * a header they include that is not there (glibc's, libdrm's) is replaced by
 * an empty one and the run repeated. Macros that name a type or enum constant
 * of this kernel's BTF are dropped: vmlinux.h has them, with this kernel's
 * values. The result is cached per UAPI headers and kernel.
 *
 * That run takes a second or more, and most programs name no UAPI macro: a
 * plain text scan of the same directories for `#define NAME` of the names a
 * program's lookups reach ({@link UapiNames}, learnt and cached name by
 * name; a superset of what the run yields) tells whether one could be a UAPI
 * macro, so that the run happens only for a program that may use one
 * (kernel_macros.ts).
 */
import {
  type Dirent,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { kernelBtfId } from "../kernel/kernel_info.js";
import { native } from "../native.js";
import { cacheSubdir, hashKey, readCached, readIfExists, writeAtomic } from "./cache.js";
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

/**
 * Whether a name is one of this kernel's BTF that a macro must not shadow: a
 * type's or an enum constant's (the kernel's BTF read lazily, by name).
 */
async function kernelHasName(): Promise<(name: string) => boolean> {
  const { kernelBtf } = await import("../kernel/kernel_btf.js");
  const btf = kernelBtf();
  return (name) => btf.hasName(name);
}

/** An include guard: empty body, named like the header. */
const GUARD = /_H_*$/;

/** Runs the preprocessor over the headers; the macros of the kernel's directories. */
async function preprocess(clang: Clang, headers: string[]): Promise<MacroDef[]> {
  // In the cache's tmp/, like every compile's work files (the kernel matrix
  // runs clang on its host, which sees that directory at the same path).
  const work = mkdtempSync(join(cacheSubdir("tmp"), "uapi-"));
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
    writeFileSync(tu, `${headers.map((h) => `#include <${h}>`).join("\n")}\n`, { flag: "wx" });
    const args = [
      "-E",
      "-dM",
      "-nostdinc",
      "-target",
      "bpf",
      ...(process.arch === "x64" ? ["-D__x86_64__"] : []),
      "-Wno-everything",
      `-I${farm}`,
      `-I${stubs}`,
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
        if (!existsSync(join(stubs, inc))) writeFileSync(join(stubs, inc), "", { flag: "wx" });
      }
    }
    // -dM: every macro defined at the end (the headers' and clang's own, which
    // an empty file gives). To stdout: with -o, clang deletes the output when a
    // header has an error.
    let text = "";
    for (let round = 0; round < 200; round++) {
      const r = await runClang(clang, [...args, tu]);
      text = r.stdout;
      const missing = /fatal error: '([^']+)' file not found/.exec(r.stderr);
      if (!missing) break;
      const stub = join(stubs, missing[1] as string);
      if (existsSync(stub) || (missing[1] as string).includes("..")) break;
      mkdirSync(dirname(stub), { recursive: true });
      writeFileSync(stub, "", { flag: "wx" });
    }
    const empty = join(work, "empty.c");
    writeFileSync(empty, "", { flag: "wx" });
    const builtin = new Set((await runClang(clang, [...args, empty])).stdout.split("\n"));
    const defs = new Map<string, MacroDef>();
    for (const line of text.split("\n")) {
      if (!line.startsWith("#define ") || builtin.has(line)) continue;
      const d = macro(line.slice(8), "UAPI headers");
      if (!d || (d.body === "" && GUARD.test(d.name))) continue;
      defs.set(d.name, d);
    }
    return [...defs.values()];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The UAPI macros, looked up lazily: there are ~26,000 and a program uses a
 * handful, so they are kept as the cache file's bytes (one line per macro,
 * "name TAB params TAB body TAB origin", sorted by name) and found by binary
 * search; a MacroDef is made only for a name looked up.
 */
export class UapiMacros {
  private readonly made = new Map<string, MacroDef | undefined>();

  constructor(private readonly data: Buffer) {}

  /** The start of the line holding byte `at`. */
  private lineStart(at: number): number {
    return at <= 0 ? 0 : this.data.lastIndexOf(10, at - 1) + 1;
  }

  /** The name on the line starting at `start`, and where that line ends. */
  private nameAt(start: number): { name: string; end: number } {
    const tab = this.data.indexOf(9, start);
    const nl = this.data.indexOf(10, start);
    const end = nl < 0 ? this.data.length : nl;
    return { name: this.data.toString("latin1", start, tab < 0 || tab > end ? end : tab), end };
  }

  /** The line of `name` (binary search over byte offsets: the lines are sorted), or undefined. */
  private find(name: string): string | undefined {
    const key = Buffer.from(name, "latin1");
    let lo = 0;
    let hi = this.data.length;
    while (lo < hi) {
      const start = this.lineStart((lo + hi) >> 1);
      const tab = this.data.indexOf(9, start);
      const nl = this.data.indexOf(10, start);
      const end = nl < 0 ? this.data.length : nl;
      const c = key.compare(this.data, start, tab < 0 || tab > end ? end : tab);
      if (c === 0) return this.data.toString("utf8", start, end);
      if (c > 0) lo = end + 1;
      else hi = start;
    }
    return undefined;
  }

  get(name: string): MacroDef | undefined {
    if (this.made.has(name)) return this.made.get(name);
    const line = this.find(name);
    let m: MacroDef | undefined;
    if (line !== undefined) {
      const [, params = "", body = "", origin = ""] = line.split("\t");
      m = macro(`${name}${params} ${body}`, origin);
    }
    this.made.set(name, m);
    return m;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  keys(): string[] {
    const out: string[] = [];
    for (let start = 0; start < this.data.length; ) {
      const { name, end } = this.nameAt(start);
      out.push(name);
      start = end + 1;
    }
    return out;
  }
}

/** The file form of the macros (see UapiMacros). */
export function uapiFile(defs: Iterable<MacroDef>): string {
  const rows = [...defs]
    .map((m) => `${m.name}\t${m.params}\t${m.body}\t${m.origin}`)
    .sort((a, b) => {
      const x = a.slice(0, a.indexOf("\t"));
      const y = b.slice(0, b.indexOf("\t"));
      return x < y ? -1 : x > y ? 1 : 0;
    });
  return rows.join("\n");
}

let loaded: UapiMacros | undefined;

/** The cache file of the UAPI macros for these headers and this kernel. */
function uapiPath(identity: string): string {
  return join(cacheSubdir("macros"), `uapi-${hashKey("uapi-3", identity, kernelBtfId()).slice(0, 24)}.tsv`);
}

/**
 * The UAPI macros that do not clash with this kernel's BTF; none when the
 * system has no UAPI headers (install linux-libc-dev).
 */
export async function uapiMacros(clang: Clang): Promise<UapiMacros> {
  if (loaded) return loaded;
  const identity = uapiIdentity();
  if (identity === undefined) {
    loaded = new UapiMacros(Buffer.alloc(0));
    return loaded;
  }
  const path = uapiPath(identity);
  const cached = readCached(path);
  if (cached) {
    loaded = new UapiMacros(cached);
    return loaded;
  }
  const clash = await kernelHasName();
  const defs = await preprocess(clang, uapiHeaders());
  const text = uapiFile(defs.filter((m) => !clash(m.name)));
  // None at all means the preprocessor failed: use none now, try again next time.
  if (defs.length > 0) writeAtomic(path, text);
  loaded = new UapiMacros(Buffer.from(text, "utf8"));
  return loaded;
}

/** The directories the preprocessor run sees (its include farm): linux/, asm-generic/ and the architecture's asm/. */
function uapiDirs(): string[] {
  const dirs = [join(INCLUDE, "linux"), join(INCLUDE, "asm-generic")];
  const asm = asmDir();
  if (asm) dirs.push(asm);
  return dirs.filter((d) => existsSync(d));
}

/** The files given and every file under the directories given (links followed, each directory once). */
function filesUnder(paths: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (dir: string): void => {
    if (seen.has(dir)) return;
    seen.add(dir);
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
      else if (e.isSymbolicLink()) {
        try {
          if (statSync(p).isDirectory()) walk(p);
          else out.push(p);
        } catch {
          // a dangling link: nothing to read
        }
      }
    }
  };
  for (const p of paths) {
    try {
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    } catch {
      // missing: nothing to read
    }
  }
  return out;
}

/**
 * Which of `names`, and which names starting with one of `prefixes`, a
 * `#define` in the files names (the files given, and every file under the
 * directories given), by a plain text scan (`#`, blanks,
 * `define`, blanks, the name): one pass over the files with one regular
 * expression. The preprocessor run over them ({@link uapiMacros}) can only
 * yield a macro that some file there defines, so a name the scan does not
 * find is certainly not one of its macros (the scan also finds definitions
 * inside comments, #if 0 and __KERNEL__ branches, and #undef'd ones). Not
 * seen: a directive spelled with a comment or a line continuation between
 * `#`, `define` and the name, which no UAPI header does. By the addon
 * (native/scan_defines.c says why).
 */
export function scanDefines(
  paths: Iterable<string>,
  names: Iterable<string>,
  prefixes: Iterable<string> = [],
): Set<string> {
  const alts = [...new Set(names)].filter((n) => /^[A-Za-z_]\w*$/.test(n));
  const pres = [...new Set(prefixes)].filter((n) => /^[A-Za-z_]\w*$/.test(n));
  if (alts.length === 0 && pres.length === 0) return new Set();
  const addon = native();
  // The addon walks the directories itself where it can (native/scan_defines.c says why).
  if (addon.scanDefinesIn) return new Set(addon.scanDefinesIn([...paths], alts, pres));
  return new Set(addon.scanDefines(filesUnder([...paths]), alts, pres));
}

/**
 * What is known of the names the UAPI headers #define: for each name looked
 * up so far, whether some header does ({@link scanDefines}), and the
 * prefixes whose every defined name is known. Learnt as compiles ask and
 * kept in the cache per UAPI headers, so that a name is scanned for once.
 */
export class UapiNames {
  private readonly known = new Map<string, boolean>();
  private readonly complete = new Set<string>();

  /** `path`: the cache file (undefined: no UAPI headers, so nothing is defined); `files`: what to scan, files or directories. */
  constructor(
    private readonly path: string | undefined,
    private readonly files: () => string[],
  ) {
    if (path) this.read(readCached(path)?.toString("latin1") ?? "");
  }

  private read(text: string): void {
    for (const line of text.split("\n")) {
      const name = line.slice(1);
      if (line[0] === "+") this.known.set(name, true);
      else if (line[0] === "-") this.known.set(name, false);
      else if (line[0] === "*") this.complete.add(name);
    }
  }

  /** Whether some UAPI header #defines `name`; undefined when not known yet ({@link learn}). */
  has(name: string): boolean | undefined {
    if (!this.path) return false;
    const k = this.known.get(name);
    if (k !== undefined) return k;
    for (const p of this.complete) if (name.startsWith(p)) return false;
    return undefined;
  }

  /** The names starting with `prefix` that UAPI headers #define; undefined when not known yet. */
  withPrefix(prefix: string): string[] | undefined {
    if (!this.path) return [];
    if (![...this.complete].some((p) => prefix.startsWith(p))) return undefined;
    return [...this.known].filter(([n, d]) => d && n.startsWith(prefix)).map(([n]) => n);
  }

  /** Scans the headers once for the names and prefixes not known yet, and keeps the answers (here and in the cache). */
  learn(names: Iterable<string>, prefixes: Iterable<string> = []): void {
    if (!this.path) return;
    const ask = [...names].filter((n) => this.has(n) === undefined);
    const askPrefixes = [...prefixes].filter((p) => this.withPrefix(p) === undefined);
    if (ask.length === 0 && askPrefixes.length === 0) return;
    const found = scanDefines(this.files(), ask, askPrefixes);
    // Another process may have learnt other names meanwhile: keep theirs too.
    this.read(readCached(this.path)?.toString("latin1") ?? "");
    for (const n of ask) this.known.set(n, found.has(n));
    for (const n of found) this.known.set(n, true);
    for (const p of askPrefixes) this.complete.add(p);
    const lines = [...this.known].map(([n, d]) => `${d ? "+" : "-"}${n}`);
    for (const p of this.complete) lines.push(`*${p}`);
    writeAtomic(this.path, lines.join("\n"));
  }
}

let names: UapiNames | undefined;

/** What this process (and the cache) knows of the UAPI headers' #define names. */
export function uapiNames(): UapiNames {
  if (names) return names;
  const identity = uapiIdentity();
  const path =
    identity === undefined
      ? undefined
      : join(cacheSubdir("macros"), `uapi-names-${hashKey("uapi-names-2", identity).slice(0, 24)}.txt`);
  names = new UapiNames(path, uapiDirs);
  return names;
}

/** The UAPI macros when the cache has them (no preprocessor run), else undefined. */
export function cachedUapiMacros(): UapiMacros | undefined {
  if (loaded) return loaded;
  const identity = uapiIdentity();
  if (identity === undefined) {
    loaded = new UapiMacros(Buffer.alloc(0));
    return loaded;
  }
  const cached = readCached(uapiPath(identity));
  if (cached) loaded = new UapiMacros(cached);
  return loaded;
}

/** Whether the UAPI macros are loaded in this process (uapiMacros has run). */
export function uapiMacrosLoaded(): boolean {
  return loaded !== undefined;
}
