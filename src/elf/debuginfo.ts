// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Separate debug files for stripped binaries, found the way gdb documents
 * them ("Separate Debug Files" in the gdb manual) and bcc's bcc_elf.c
 * searches them:
 *
 * 1. BCC_SYMFS: `<symfs>/<path>` (a /proc/PID/root prefix dropped), a copy
 *    of the binary from another root (a container's image, a symbol store),
 *    as perf's --symfs; when the binary has a build-id, the copy must have
 *    the same one.
 * 2. By build-id: `<root>/.build-id/<first 2 hex>/<rest>.debug`, whose own
 *    build-id must equal the binary's. `<root>` is /usr/lib/debug, or
 *    TSBPF_DEBUGINFO_ROOT, or BCC_DEBUGINFO_ROOT.
 * 3. By .gnu_debuglink: the file it names in the binary's directory, in
 *    `<dir>/.debug/` and in `<root>/<dir>/`, whose CRC32 (zlib's, of the
 *    whole file) must equal the one recorded in the section.
 *
 * A candidate that fails its check, or cannot be read as ELF, is skipped
 * (gdb goes on to the next location; so does this) and said so under
 * NODE_DEBUG=tsbpf. A debug file's .symtab has the same link-time addresses
 * as the stripped binary (objcopy --only-keep-debug keeps the section
 * addresses and turns their contents into SHT_NOBITS), so its symbols are
 * used as they are. Reading (and caching) files is left to the caller
 * (src/elf/elf.ts), through {@link DebugFileIo}.
 */
import { statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { debug } from "../kernel/mounts.js";
import { lazyZlib } from "../lazy_zlib.js";
import type { ElfFile, ElfSymbol } from "./elf.js";

/** Where distributions install debug files (gdb's default debug-file-directory). */
export const DEFAULT_DEBUGINFO_ROOT = "/usr/lib/debug";

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

/** The debug-file directory: TSBPF_DEBUGINFO_ROOT, else BCC_DEBUGINFO_ROOT, else /usr/lib/debug. */
export function debugInfoRoot(): string {
  return env("TSBPF_DEBUGINFO_ROOT") ?? env("BCC_DEBUGINFO_ROOT") ?? DEFAULT_DEBUGINFO_ROOT;
}

/** A build-id's place in a debug-file directory, without the ".debug" suffix: `<root>/.build-id/ab/cdef…`. */
export function buildIdPath(root: string, buildId: string): string {
  return join(root, ".build-id", buildId.slice(0, 2), buildId.slice(2));
}

/** What the search depends on besides the binary: symbols found under one setting are redone under another. */
export function debugSearchKey(): string {
  return `${debugInfoRoot()}\0${env("BCC_SYMFS") ?? ""}`;
}

const PROC_ROOT = /^\/proc\/\d+\/root(?=\/)/;

/**
 * `path` under BCC_SYMFS (bcc drops a leading /proc/PID/root, which names
 * the same file from the host), or undefined when BCC_SYMFS is not set.
 */
export function symfsPath(path: string): string | undefined {
  const symfs = env("BCC_SYMFS");
  return symfs === undefined ? undefined : join(symfs, path.replace(PROC_ROOT, ""));
}

/** One place a debug file may be, and the check it must pass. */
export interface DebugCandidate {
  /** The path to try. */
  path: string;
  /** How it was derived: its check is build-id equality (symfs, build-id) or the debuglink CRC. */
  via: "symfs" | "build-id" | "debuglink";
}

/**
 * Where to look for the debug file of binary `path`, in order. For a path
 * under /proc/PID/root (a process in another mount namespace), that
 * process's debug root comes before this one's.
 */
export function debugFileCandidates(
  path: string,
  elf: Pick<ElfFile, "buildId" | "debuglink">,
): DebugCandidate[] {
  const out: DebugCandidate[] = [];
  const abs = resolve(path);
  const prefix = PROC_ROOT.exec(abs)?.[0] ?? "";
  const root = debugInfoRoot();
  const roots = prefix !== "" ? [join(prefix, root), root] : [root];
  const symfs = symfsPath(abs);
  if (symfs !== undefined) out.push({ path: symfs, via: "symfs" });
  const id = elf.buildId;
  if (id !== undefined && id.length > 2) {
    for (const r of roots) out.push({ path: `${buildIdPath(r, id)}.debug`, via: "build-id" });
  }
  const link = elf.debuglink?.file;
  if (link !== undefined && link !== "") {
    const dir = dirname(abs);
    out.push({ path: join(dir, link), via: "debuglink" });
    out.push({ path: join(dir, ".debug", link), via: "debuglink" });
    const inner = dirname(abs.slice(prefix.length));
    for (const r of roots) out.push({ path: join(r, inner, link), via: "debuglink" });
  }
  return out;
}

/** How the search reads files (src/elf/elf.ts passes its cached readers). Each may throw. */
export interface DebugFileIo {
  /** The build-id of an ELF file, as lowercase hex. */
  buildId(path: string): string | undefined;
  /** zlib's CRC32 of the whole file. */
  crc(path: string): number;
  /** The file's .symtab and .dynsym symbols. */
  symbols(path: string): readonly ElfSymbol[];
}

/** dev:inode of a regular file, undefined when there is none at path. */
function fileId(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return st.isFile() ? `${st.dev}:${st.ino}` : undefined;
  } catch {
    return undefined;
  }
}

/** The candidates that exist and pass their check, in search order. */
export function* verifiedCandidates(
  path: string,
  elf: Pick<ElfFile, "buildId" | "debuglink">,
  io: DebugFileIo,
): Generator<DebugCandidate> {
  const seen = new Set<string | undefined>([fileId(path)]);
  for (const c of debugFileCandidates(path, elf)) {
    const id = fileId(c.path);
    // Missing, the binary itself (a debuglink naming its own file), or already tried.
    if (id === undefined || seen.has(id)) continue;
    seen.add(id);
    try {
      if (c.via === "debuglink") {
        const want = elf.debuglink?.crc;
        const got = io.crc(c.path);
        if (got !== want) {
          debug(
            "%s: debug file %s skipped: CRC32 %s, the debuglink wants %s",
            path,
            c.path,
            hex(got),
            hex(want),
          );
          continue;
        }
      } else {
        const got = io.buildId(c.path);
        // A symfs copy of a binary without build-id is taken as it is (as bcc does).
        if ((c.via === "build-id" || elf.buildId !== undefined) && got !== elf.buildId) {
          debug("%s: debug file %s skipped: build-id %s, not %s", path, c.path, got ?? "none", elf.buildId);
          continue;
        }
      }
    } catch (err) {
      debug("%s: debug file %s skipped: %s", path, c.path, (err as Error).message);
      continue;
    }
    yield c;
  }
}

function hex(n: number | undefined): string {
  return n === undefined ? "none" : `0x${n.toString(16).padStart(8, "0")}`;
}

/** The first debug file of binary `path` that exists and passes its check (build-id or CRC), if any. */
export function findDebugFile(
  path: string,
  elf: Pick<ElfFile, "buildId" | "debuglink">,
  io: DebugFileIo,
): DebugCandidate | undefined {
  for (const c of verifiedCandidates(path, elf, io)) return c;
  return undefined;
}

/** A symbol a debug file gives its binary: defined in .symtab, named, neither SECTION nor FILE. */
export function isDebugSymbol(s: ElfSymbol): boolean {
  return (
    s.table === "symtab" &&
    s.shndx !== 0 /* SHN_UNDEF */ &&
    s.name !== "" &&
    s.type !== "SECTION" &&
    s.type !== "FILE"
  );
}

function isFunction(s: ElfSymbol): boolean {
  return (s.type === "FUNC" || s.type === "IFUNC") && s.value !== 0n && s.name !== "";
}

/**
 * The .symtab symbols of the first verified debug file of binary `path`
 * that has function symbols (defined, named, neither SECTION nor FILE
 * entries), with the file they came from. Undefined when there is none.
 * Never throws: a truncated or malformed debug file is skipped and logged
 * under NODE_DEBUG=tsbpf.
 */
export function loadDebugSymbols(
  path: string,
  elf: Pick<ElfFile, "buildId" | "debuglink">,
  io: DebugFileIo,
): { file: string; via: DebugCandidate["via"]; symbols: ElfSymbol[] } | undefined {
  try {
    for (const c of verifiedCandidates(path, elf, io)) {
      let symbols: ElfSymbol[];
      try {
        symbols = io.symbols(c.path).filter(isDebugSymbol);
      } catch (err) {
        debug("%s: debug file %s unreadable: %s", path, c.path, (err as Error).message);
        continue;
      }
      if (!symbols.some(isFunction)) {
        debug("%s: debug file %s has no function symbols in .symtab", path, c.path);
        continue;
      }
      debug("%s: %d symbols from debug file %s (by %s)", path, symbols.length, c.path, c.via);
      return { file: c.path, via: c.via, symbols };
    }
  } catch (err) {
    debug("%s: debug file search failed: %s", path, (err as Error).message);
  }
  return undefined;
}

// --- CRC32 -------------------------------------------------------------------

type Crc32 = (data: Uint8Array, value?: number) => number;

/**
 * zlib.crc32 (Node 20.15+), or the same CRC (polynomial 0xEDB88320, as in
 * zlib and the debuglink) by table; made on first use, so that zlib loads
 * only when a debuglink is checked, never at start-up (lazy_zlib.ts).
 */
let crc32Fn: Crc32 | undefined;
function crc32(data: Uint8Array, value?: number): number {
  crc32Fn ??= makeCrc32();
  return crc32Fn(data, value);
}

function makeCrc32(): Crc32 {
  const zlib = lazyZlib() as { crc32?: Crc32 };
  return (
    zlib.crc32 ??
    (() => {
      const table = new Uint32Array(256);
      for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        table[n] = c >>> 0;
      }
      return (data: Uint8Array, value = 0) => {
        let c = ~value >>> 0;
        for (const b of data) c = (table[(c ^ b) & 0xff] as number) ^ (c >>> 8);
        return ~c >>> 0;
      };
    })()
  );
}

const CRC_CHUNK = 1 << 20;

/** The CRC32 of `size` bytes read through `read(pos, len)`, a chunk at a time: what .gnu_debuglink records. */
export function debuglinkCrc(read: (pos: number, len: number) => Uint8Array, size: number): number {
  let crc = 0;
  for (let pos = 0; pos < size; pos += CRC_CHUNK)
    crc = crc32(read(pos, Math.min(CRC_CHUNK, size - pos)), crc);
  return crc >>> 0;
}
