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
import { dirname, join } from "node:path";
import { kernelBtfId } from "../kernel/kernel_info.js";
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

/** Every name of this kernel's BTF a macro must not shadow: types and enum constants. */
async function kernelNames(): Promise<Set<string>> {
  const { kernelBtf } = await import("../kernel/kernel_btf.js");
  const names = new Set<string>();
  for (const t of kernelBtf().all()) {
    if (t.name) names.add(t.name);
    if (t.kind === "ENUM" || t.kind === "ENUM64") for (const v of t.values) names.add(v.name);
  }
  return names;
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
  const path = join(
    cacheSubdir("macros"),
    `uapi-${hashKey("uapi-3", identity, kernelBtfId()).slice(0, 24)}.tsv`,
  );
  const cached = readCached(path);
  if (cached) {
    loaded = new UapiMacros(cached);
    return loaded;
  }
  const clash = await kernelNames();
  const defs = await preprocess(clang, uapiHeaders());
  const text = uapiFile(defs.filter((m) => !clash.has(m.name)));
  // None at all means the preprocessor failed: use none now, try again next time.
  if (defs.length > 0) writeAtomic(path, text);
  loaded = new UapiMacros(Buffer.from(text, "utf8"));
  return loaded;
}
