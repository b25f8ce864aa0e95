// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * User-space symbol resolution: /proc/PID/maps, bcc's per-process symbol
 * cache (`BPF.sym`) and its inverse (`bcc_symcache_resolve_name`), bcc's
 * `get_user_addresses`, and bcc's library and executable lookup
 * (`BPF.find_library`, `BPF.find_exe`). Stripped binaries resolve through
 * their separate debug files (debuginfo.ts) by way of the ELF cache.
 */

import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  statSync,
} from "node:fs";
import { basename, join } from "node:path";
import { builtinModule } from "../builtin.js";
import { ksym } from "../kernel/kallsyms.js";
import { Lru } from "../lru.js";
import { native } from "../native.js";
import {
  addrToFileOffset,
  countAtMost,
  type ElfFile,
  elfFile,
  elfFunctionIndex,
  elfSymbolsMatching,
  FunctionIndex,
  fileOffsetToAddr,
  findElfSymbol,
  forgetElfFilesOf,
  readElf,
  readElfSymbols,
  SHN_UNDEF,
} from "./elf.js";

/** One line of /proc/PID/maps. */
export interface MapEntry {
  /** First address of the mapping. */
  start: bigint;
  /** One past its last address. */
  end: bigint;
  /** The four permission letters, e.g. "r-xp". */
  perms: string;
  /** Readable. */
  read: boolean;
  /** Writable. */
  write: boolean;
  /** Executable. */
  exec: boolean;
  /** Shared (s) rather than private (p). */
  shared: boolean;
  /** Offset in the file of the mapping's first byte. */
  offset: bigint;
  /** Device, "major:minor" in hex as the kernel prints it ("fe:01"). */
  dev: string;
  /** Inode (0 for anonymous mappings). */
  inode: number;
  /** The file, or a pseudo-path ("[heap]", "[vdso]"), or "" when anonymous. " (deleted)" is stripped. */
  path: string;
  /** The file was deleted (or replaced) after it was mapped. */
  deleted: boolean;
}

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$/;

/** Parses the text of /proc/PID/maps. Lines that do not parse are skipped. */
export function parseProcMaps(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of text.split("\n")) {
    const m = MAPS_LINE.exec(line);
    if (!m) continue;
    let path = m[7] ?? "";
    let deleted = false;
    if (path.endsWith(" (deleted)")) {
      deleted = true;
      path = path.slice(0, -" (deleted)".length);
    }
    const perms = m[3] as string;
    out.push({
      start: BigInt(`0x${m[1]}`),
      end: BigInt(`0x${m[2]}`),
      perms,
      read: perms[0] === "r",
      write: perms[1] === "w",
      exec: perms[2] === "x",
      shared: perms[3] === "s",
      offset: BigInt(`0x${m[4]}`),
      dev: m[5] as string,
      inode: Number(m[6]),
      path,
      deleted,
    });
  }
  return out;
}

/** Reads and parses /proc/PID/maps ("self" for this process). Throws if the process is gone. */
export function readProcMaps(pid: number | "self"): MapEntry[] {
  return parseProcMaps(readFileSync(`/proc/${pid}/maps`, "utf8"));
}

/** A resolved user-space address: function, offset into it, and the module's path. */
export interface ResolvedSymbol {
  /** The function's name (mangled unless demangling was asked for). */
  name: string;
  /** addr - function start. */
  offset: bigint;
  /** The module's path as the process maps it ("/usr/lib/x86_64-linux-gnu/libc.so.6", "[vdso]", "/tmp/perf-PID.map"). */
  module: string;
}

/** Options of {@link sym} and {@link ProcessSymbols.sym}, as in bcc's `BPF.sym`. */
export interface SymOptions {
  /** Append " [module basename]". */
  showModule?: boolean;
  /** Append "+0x1a". */
  showOffset?: boolean;
  /** Demangle C++ names (default true, as in bcc; see demangle.ts for what is covered). */
  demangle?: boolean;
}

/** Formats like bcc's BPF.sym: "name", "name+0x1a", "name+0x1a [libc.so.6]", "[unknown] [libc.so.6]". */
function format(
  name: string | undefined,
  offset: bigint,
  module: string | undefined,
  opts: SymOptions,
): string {
  let out = name ?? "[unknown]";
  if (name !== undefined && opts.showOffset) out += `+0x${offset.toString(16)}`;
  if (opts.showModule && module !== undefined) out += ` [${basename(module)}]`;
  return out;
}

/** One line of a JIT's perf map: `START SIZE name`, both in hex. */
export interface PerfMapEntry {
  start: bigint;
  end: bigint;
  name: string;
  /** Line number: of overlapping entries, the last written wins (a JIT re-emitting code appends). */
  line: number;
}

/**
 * Parses the text of a perf-PID.map (lines `START SIZE name`, hex with or
 * without 0x), sorted by start (then line). Lines that do not parse are skipped.
 */
export function parsePerfMap(text: string): PerfMapEntry[] {
  const entries: PerfMapEntry[] = [];
  for (const [line, raw] of text.split("\n").entries()) {
    // The name is the rest of the line, whatever it holds (a CR of a CRLF file excepted).
    const m = /^(?:0x)?([0-9a-fA-F]+)\s+(?:0x)?([0-9a-fA-F]+)\s+([\s\S]*?)\r?$/.exec(raw);
    if (!m) continue;
    const start = BigInt(`0x${m[1]}`);
    entries.push({ start, end: start + BigInt(`0x${m[2]}`), name: m[3] as string, line });
  }
  entries.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : x.line - y.line));
  return entries;
}

/**
 * A perf map's entries in typed arrays (a JIT's map has thousands of lines,
 * and a profiler keeps those of every process it names: about a third of
 * the memory of objects with BigInt addresses). Addresses beyond 2^53 keep
 * the entries as they are.
 */
class PerfMapIndex {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly lines: Uint32Array;
  private readonly names: string[];
  private readonly wide: PerfMapEntry[] | undefined;

  constructor(entries: PerfMapEntry[]) {
    const n = entries.length;
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    this.wide = entries.some((e) => e.end > max) ? entries : undefined;
    const m = this.wide ? 0 : n;
    this.starts = new Float64Array(m);
    this.ends = new Float64Array(m);
    this.lines = new Uint32Array(m);
    this.names = new Array<string>(m);
    for (let i = 0; i < m; i++) {
      const e = entries[i] as PerfMapEntry;
      this.starts[i] = Number(e.start);
      this.ends[i] = Number(e.end);
      this.lines[i] = e.line;
      this.names[i] = e.name;
    }
  }

  /** The entry holding addr (of overlapping ones, the last written), named as in `module`. */
  lookup(addr: bigint, module: string): ResolvedSymbol | undefined {
    if (this.wide) return wideLookup(this.wide, addr, module);
    const x = Number(addr);
    const st = this.starts;
    const a = countAtMost(st, x);
    // Entries starting at or below addr, nearest first; a bounded look back for overlaps.
    let best = -1;
    for (let i = a - 1; i >= 0 && i >= a - 64; i--) {
      if (
        x < (this.ends[i] as number) &&
        (best < 0 || (this.lines[i] as number) > (this.lines[best] as number))
      )
        best = i;
    }
    if (best < 0) return undefined;
    return { name: this.names[best] as string, offset: BigInt(x - (this.starts[best] as number)), module };
  }
}

function wideLookup(es: PerfMapEntry[], addr: bigint, module: string): ResolvedSymbol | undefined {
  let a = 0;
  let b = es.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if ((es[mid] as PerfMapEntry).start <= addr) a = mid + 1;
    else b = mid;
  }
  let best: PerfMapEntry | undefined;
  for (let i = a - 1; i >= 0 && i >= a - 64; i--) {
    const e = es[i] as PerfMapEntry;
    if (addr < e.end && (!best || e.line > best.line)) best = e;
  }
  return best ? { name: best.name, offset: addr - best.start, module } : undefined;
}

function mntNs(pid: number | "self"): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22, counted after the ")" that ends the command name.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** The pid as seen inside its own pid namespace (for its /tmp/perf-PID.map). */
function nsPid(pid: number): number {
  try {
    const m = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    const last = m?.[1]?.trim().split(/\s+/).pop();
    if (last) return Number(last);
  } catch {}
  return pid;
}

/**
 * Where a process's JIT perf map is, as seen from here: /tmp/perf-PID.map in
 * its own mount and pid namespaces (a process in a container writes it
 * under its namespace pid, in its own /tmp).
 */
export function perfMapPath(pid: number): string {
  const self = mntNs("self");
  const theirs = mntNs(pid);
  if (self === undefined || theirs === undefined || self === theirs) return `/tmp/perf-${pid}.map`;
  return `/proc/${pid}/root/tmp/perf-${nsPid(pid)}.map`;
}

/** The [vdso] images read, by build-id: one or two per kernel, a few more across kernels' containers. */
const vdsoIndexes = new Lru<string, { elf: ElfFile; index: FunctionIndex }>(8);

const AUTO_REFRESH_MS = 200;

/**
 * bcc's per-process symbol cache (ProcSyms): the process's mappings, read on
 * first use, and the symbols of each mapped ELF file (cached across
 * processes per file). Resolves addresses in file-backed mappings through
 * .symtab and .dynsym, in the [vdso] (read from /proc/PID/mem), and in
 * anonymous executable memory through /tmp/perf-PID.map (JITs: node
 * --perf-basic-prof, Java). An address outside every known mapping reloads
 * the mappings (at most every 200 ms); {@link refresh} forces it.
 * The mappings are kept after the process exits, so its addresses still resolve.
 */
export class ProcessSymbols {
  /** The process. */
  readonly pid: number;
  /** When the shared cache last handed it out (ms), for its sweep of exited processes. */
  lastUsed = 0;
  /** When the sweep last found the process alive (ms). */
  checkedAt = 0;
  private maps: MapEntry[] | undefined;
  private loadedAt = 0;
  private started: string | undefined;
  private sameNs = true;
  private perfMap: { key: string; index: PerfMapIndex } | undefined;
  private perfMapCheckedAt = 0;
  // Per mapping (dropped on refresh): its ELF and function index, null when unreadable.
  private modules = new Map<MapEntry, { elf: ElfFile; index: FunctionIndex } | null>();

  constructor(pid: number) {
    this.pid = pid;
  }

  /** Whether the process has exited, or its pid now names a process started since its mappings were read. */
  exited(): boolean {
    const st = startTime(this.pid);
    return st === undefined || (this.started !== undefined && st !== this.started);
  }

  /** Whether its pid now names another process, started since its mappings were read. */
  reused(): boolean {
    if (this.started === undefined) return false;
    const st = startTime(this.pid);
    return st !== undefined && st !== this.started;
  }

  /** Re-reads /proc/PID/maps (after dlopen, or when the pid was reused). */
  refresh(): void {
    let maps: MapEntry[];
    try {
      maps = readProcMaps(this.pid);
    } catch {
      // Gone: keep what we had.
      this.loadedAt = Date.now();
      this.maps ??= [];
      return;
    }
    const st = startTime(this.pid);
    if (this.started !== undefined && st !== this.started) this.perfMap = undefined;
    this.started = st;
    const self = mntNs("self");
    const theirs = mntNs(this.pid);
    this.sameNs = self === undefined || theirs === undefined || self === theirs;
    maps.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    this.maps = maps;
    this.modules.clear();
    this.loadedAt = Date.now();
  }

  /** The mappings (loading them on first use). */
  mappings(): readonly MapEntry[] {
    if (!this.maps) this.refresh();
    return this.maps as MapEntry[];
  }

  /** The mapping holding addr, or undefined. */
  mappingOf(addr: bigint): MapEntry | undefined {
    const find = () => {
      const maps = this.mappings();
      let a = 0;
      let b = maps.length;
      while (a < b) {
        const mid = (a + b) >>> 1;
        if ((maps[mid] as MapEntry).start <= addr) a = mid + 1;
        else b = mid;
      }
      const m = maps[a - 1];
      return m && addr < m.end ? m : undefined;
    };
    const found = find();
    if (found || Date.now() - this.loadedAt < AUTO_REFRESH_MS) return found;
    this.refresh();
    return find();
  }

  /** A path we can open for the mapping's file, from this process's mount namespace. */
  private hostPath(m: MapEntry): string {
    if (m.deleted) return `/proc/${this.pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`;
    return this.sameNs ? m.path : `/proc/${this.pid}/root${m.path}`;
  }

  /** The mapping's ELF file and function index (cached per mapping), undefined when unreadable. */
  private module(m: MapEntry): { elf: ElfFile; index: FunctionIndex } | undefined {
    let e = this.modules.get(m);
    if (e === undefined) {
      try {
        e = m.path === "[vdso]" ? (this.vdso(m) ?? null) : elfFunctionIndex(this.hostPath(m));
      } catch {
        e = null;
      }
      this.modules.set(m, e);
    }
    return e ?? undefined;
  }

  private vdso(m: MapEntry): { elf: ElfFile; index: FunctionIndex } | undefined {
    let image: Buffer;
    try {
      const len = Number(m.end - m.start);
      image = Buffer.alloc(len);
      const fd = openSync(`/proc/${this.pid}/mem`, "r");
      try {
        readSync(fd, image, 0, len, m.start);
      } finally {
        closeSync(fd);
      }
    } catch {
      return undefined;
    }
    const elf = readElf(image, "[vdso]");
    const key = elf.buildId ?? image.toString("base64", 0, Math.min(image.length, 4096));
    let v = vdsoIndexes.get(key);
    if (!v) {
      v = { elf, index: new FunctionIndex(readElfSymbols(image, elf)) };
      vdsoIndexes.set(key, v);
    }
    return v;
  }

  private perfMapLookup(addr: bigint): ResolvedSymbol | undefined {
    const path = this.sameNs ? `/tmp/perf-${this.pid}.map` : perfMapPath(this.pid);
    // The file is stat'ed (for appends, or a new process's) at most every 200 ms:
    // a profile names hundreds of thousands of frames at once.
    const now = Date.now();
    let key = this.perfMap?.key ?? "";
    if (!this.perfMap || now - this.perfMapCheckedAt >= AUTO_REFRESH_MS) {
      this.perfMapCheckedAt = now;
      try {
        const st = statSync(path);
        key = `${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch {
        this.perfMap = undefined;
        return undefined;
      }
    }
    if (this.perfMap?.key !== key) {
      this.perfMap = { key, index: new PerfMapIndex(parsePerfMap(readFileSync(path, "utf8"))) };
    }
    return this.perfMap.index.lookup(addr, path);
  }

  /**
   * Resolves addr in full: the name (undefined when not found), the offset
   * (into the function; else into the module; else addr itself) and the
   * module (undefined when no mapping holds addr), as bcc's SymbolCache.resolve.
   */
  lookup(addr: bigint): { name: string | undefined; offset: bigint; module: string | undefined } {
    const m = this.mappingOf(addr);
    if (!m) {
      // JIT code mapped after the process's mappings were last read (it may have exited since)
      return this.perfMapLookup(addr) ?? { name: undefined, offset: addr, module: undefined };
    }
    const fileOff = addr - m.start + m.offset;
    if (!m.path.startsWith("/") && m.path !== "[vdso]") {
      // Anonymous or [heap]/[stack]: JIT code, described by the perf map if any.
      const p = m.exec ? this.perfMapLookup(addr) : undefined;
      return p ?? { name: undefined, offset: addr, module: undefined };
    }
    const entry = this.module(m);
    const elfAddr = entry ? fileOffsetToAddr(entry.elf, fileOff, m.exec) : undefined;
    const f = entry && elfAddr !== undefined ? entry.index.lookup(elfAddr) : undefined;
    if (f) return { name: f.name, offset: f.offset, module: m.path };
    return { name: undefined, offset: elfAddr ?? fileOff, module: m.path };
  }

  /** The function containing addr with the offset into it and the module's path, or undefined. */
  resolve(addr: bigint, opts: { demangle?: boolean } = {}): ResolvedSymbol | undefined {
    const r = this.lookup(addr);
    if (r.name === undefined || r.module === undefined) return undefined;
    return { name: opts.demangle ? demangle(r.name) : r.name, offset: r.offset, module: r.module };
  }

  /** bcc's BPF.sym(addr, pid, show_module, show_offset, demangle) for this process. */
  sym(addr: bigint, opts: SymOptions = {}): string {
    const r = this.lookup(addr);
    const name = r.name !== undefined && opts.demangle !== false ? demangle(r.name) : r.name;
    return format(name, r.offset, r.module, opts);
  }

  /**
   * The inverse of {@link sym} (bcc's `bcc_symcache_resolve_name`): the
   * address in this process of function `name` (a mangled name as the
   * symbol table has it; "@VERSION" ignored), searched in the module
   * `module` (its path as the process maps it, its basename, or a library
   * name as findLibrary takes it: "c") or else in every mapped file in
   * address order. The symbol's link-time address goes through its PT_LOAD
   * segment to a file offset, and from there through the mapping of that
   * offset to the address it is mapped at. Undefined when no mapped file
   * defines it, or the code holding it is not mapped; unreadable files are
   * skipped. Mappings are re-read once (at most every 200 ms) before giving
   * up, for libraries loaded since.
   */
  resolveName(name: string, module?: string): bigint | undefined {
    const found = this.findName(name, module);
    if (found !== undefined || Date.now() - this.loadedAt < AUTO_REFRESH_MS) return found;
    this.refresh();
    return this.findName(name, module);
  }

  private findName(name: string, module: string | undefined): bigint | undefined {
    const bare = name.replace(/@.*$/, "");
    const maps = this.mappings();
    const tried = new Set<string>();
    for (const m of maps) {
      if (!m.path.startsWith("/") || tried.has(m.path)) continue;
      tried.add(m.path);
      if (module !== undefined && !isModule(m.path, module)) continue;
      let off: bigint | undefined;
      try {
        const file = this.hostPath(m);
        const s = findElfSymbol(file, bare, ["FUNC", "IFUNC"]);
        off = s && addrToFileOffset(elfFile(file), s.value);
      } catch {
        continue;
      }
      if (off === undefined) continue;
      for (const mm of maps) {
        if (mm.path === m.path && mm.offset <= off && off < mm.offset + (mm.end - mm.start))
          return mm.start + (off - mm.offset);
      }
    }
    return undefined;
  }
}

/** Whether mapped file `path` is the module a caller named: its path, its basename, or a library name ("c"). */
function isModule(path: string, module: string): boolean {
  if (path === module) return true;
  if (module.includes("/")) return false;
  const base = basename(path);
  if (base === module) return true;
  const bare =
    module.startsWith("lib") && module.includes(".so") ? module.slice(3).replace(/\.so.*$/, "") : module;
  return base.startsWith(`lib${bare}.`) || base.startsWith(`lib${bare}-`);
}

/**
 * Demangled names, in two generations of at most 25,000 (a few MB): a name
 * found in the old one moves to the current one, and a full current one
 * becomes the old one. Bounded like an LRU without reordering on every hit
 * (names are looked up once per frame named).
 */
const DEMANGLED_GENERATION = 25_000;
let demangled = new Map<string, string>();
let demangledOld = new Map<string, string>();

/**
 * A C++ symbol name as c++filt prints it ("_ZN3foo3barEi" → "foo::bar(int)",
 * clone suffixes included), by libstdc++'s Itanium ABI demangler in the addon,
 * as bcc demangles; anything else (a C name, a malformed one) unchanged.
 */
export function demangle(name: string): string {
  if (!name.startsWith("_Z")) return name;
  const hit = demangled.get(name);
  if (hit !== undefined) return hit;
  const out = demangledOld.get(name) ?? native().demangle(name) ?? name;
  if (demangled.size >= DEMANGLED_GENERATION) {
    demangledOld = demangled;
    demangled = new Map();
  }
  demangled.set(name, out);
  return out;
}

/** The most processes cached: a long run over many short-lived processes stays bounded. */
const PROCESSES_MAX = 1024;
/**
 * Processes whose symbols are cached, least recently used first. A process
 * that goes (evicted, swept, forgotten) takes with it the ELF files that
 * only its /proc/PID/ paths reached (its deleted binaries).
 */
const processes = new Lru<number, ProcessSymbols>(PROCESSES_MAX, (pid) => {
  forgetElfFilesOf(pid);
});
/** How long an exited process's entry stays unused before it goes. */
const IDLE_MS = 10_000;
/** How often (at most) the cache looks for exited processes, on a call. */
const SWEEP_EVERY_MS = 1000;
/** How often an idle entry of a live process is looked at again. */
const RECHECK_MS = 10_000;
let lastSweep = Date.now();

/**
 * Drops the entries of processes that have exited (or whose pid now names
 * another process) and that were not used for `idleMs`: a tool reading its
 * maps at the end still resolves a process that exited during the run.
 * Entries come least recently used first, so the walk stops at the first
 * one used within `idleMs`; an idle live process's /proc/PID/stat is read
 * again only every 10 s.
 */
export function sweepProcessSymbols(idleMs = IDLE_MS, now = Date.now()): number {
  let dropped = 0;
  for (const [pid, p] of processes.entries()) {
    if (now - p.lastUsed < idleMs) break;
    if (now - p.checkedAt < RECHECK_MS && p.checkedAt > p.lastUsed) continue;
    p.checkedAt = now;
    if (!p.exited()) continue;
    processes.delete(pid);
    dropped++;
  }
  lastSweep = now;
  return dropped;
}

/** How many processes' symbols are cached (at most 1024). */
export function cachedProcessCount(): number {
  return processes.size;
}

/**
 * The shared {@link ProcessSymbols} of a pid (created on first use, kept like
 * bcc's BPF._sym_caches): at most 1024 processes, least recently used out
 * first; every second (on a call) the entries of processes that have
 * exited and were not used for 10 s go. An entry unused for that long whose pid now
 * names a process started since is replaced (pid reuse: the entry knows its
 * process's start time, /proc/PID/stat field 22).
 */
export function processSymbols(pid: number): ProcessSymbols {
  const now = Date.now();
  if (now - lastSweep >= SWEEP_EVERY_MS) sweepProcessSymbols(IDLE_MS, now);
  let p = processes.get(pid);
  if (p && now - p.lastUsed >= IDLE_MS && p.reused()) p = undefined;
  if (!p) {
    p = new ProcessSymbols(pid);
    processes.set(pid, p);
  }
  p.lastUsed = now;
  return p;
}

/** Forgets a pid's cached symbols (after it exited, say). Without a pid, forgets all. */
export function forgetProcessSymbols(pid?: number): void {
  if (pid === undefined) processes.clear();
  else processes.delete(pid);
}

/**
 * bcc's `BPF.sym(addr, pid, show_module, show_offset, demangle)`: the
 * function containing a user-space address of process `pid`, formatted as
 * "func", "func+0x3", "func+0x3 [libc.so.6]"; "[unknown]" when not found
 * (with " [module]" when the module is known and showModule is set). A
 * negative pid means the kernel, as in bcc ({@link ksym}).
 */
export function sym(addr: bigint, pid: number, opts: SymOptions = {}): string {
  if (pid < 0) return ksym(addr, opts);
  return processSymbols(pid).sym(addr, opts);
}

// --- names to addresses ----------------------------------------------------

/** A binary named as bcc names one: a path (with a "/"), else a library (findLibrary), else an executable in $PATH. */
function binaryPath(name: string): string {
  if (name.includes("/")) return name;
  return findLibrary(name) ?? findExe(name) ?? name;
}

/**
 * bcc's symbol name → address (`bcc_symcache_resolve_name`; the inverse of
 * {@link sym}). With a pid: the function's address in that process (see
 * {@link ProcessSymbols.resolveName}; `opts.module` narrows the search to
 * one mapped file). With a binary (a path, a library name such as "c", or an
 * executable in $PATH): the function's link-time address (st_value, what
 * `nm` prints and what a uprobe's `addr` takes). Functions of a stripped
 * binary come from its separate debug file (debuginfo.ts). Undefined when
 * there is no such function.
 * @throws ElfError when the binary cannot be read as ELF.
 */
export function resolveName(
  target: string | number,
  name: string,
  opts: { module?: string } = {},
): bigint | undefined {
  if (typeof target === "number") return processSymbols(target).resolveName(name, opts.module);
  return findElfSymbol(binaryPath(target), name.replace(/@.*$/, ""), ["FUNC", "IFUNC"])?.value;
}

/** A copy of re without the g and y flags (whose lastIndex would make test() skip matches). */
function stateless(re: RegExp | string): RegExp {
  if (typeof re === "string") return new RegExp(re);
  return re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, "")) : re;
}

/** A function of a binary and its link-time address. */
export interface UserFunctionAddress {
  /** The symbol's name (mangled). */
  name: string;
  /** Its link-time address (st_value). */
  address: bigint;
}

/**
 * bcc's `BPF.get_user_functions_and_addresses(name, sym_re)`: every function
 * (FUNC, IFUNC) of binary `name` (a path, a library name, or an executable
 * in $PATH) whose name matches `re` (RegExp.test, unanchored as
 * getUserFunctions matches; anchor with ^ for bcc's re.match), each
 * (name, address) pair once, in symbol table order; a stripped binary's
 * from its debug file first.
 * @throws ElfError when the binary cannot be read as ELF.
 */
export function getUserFunctionsAndAddresses(name: string, re: RegExp | string): UserFunctionAddress[] {
  const r = stateless(re);
  const out: UserFunctionAddress[] = [];
  const seen = new Set<string>();
  for (const s of elfSymbolsMatching(binaryPath(name), r)) {
    if ((s.type !== "FUNC" && s.type !== "IFUNC") || s.shndx === SHN_UNDEF || s.value === 0n || s.name === "")
      continue;
    const key = `${s.name}\0${s.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ name: s.name, address: s.value });
  }
  return out;
}

/**
 * bcc's `BPF.get_user_addresses(name, sym_re)`: the distinct link-time
 * addresses of the functions of binary `name` whose names match `re`
 * (aliases share one), in ascending order. A uprobe can go on each once.
 * @throws ElfError when the binary cannot be read as ELF.
 */
export function getUserAddresses(name: string, re: RegExp | string): bigint[] {
  const addrs = new Set(getUserFunctionsAndAddresses(name, re).map((f) => f.address));
  return [...addrs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

// --- finding libraries and executables ------------------------------------

interface LdEntry {
  soname: string;
  flags: string;
  path: string;
}

let ldCache: LdEntry[] | undefined;

/** The ldconfig cache: `ldconfig -p`, run once and kept. Empty when ldconfig is missing. */
function ldconfigEntries(): LdEntry[] {
  if (ldCache) return ldCache;
  let out = "";
  for (const exe of ["/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"]) {
    try {
      // child_process loads only here (it costs a warm start ~2 ms otherwise).
      const { execFileSync } = builtinModule<typeof import("node:child_process")>("node:child_process");
      out = execFileSync(exe, ["-p"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
        maxBuffer: 64 << 20,
      });
      break;
    } catch {}
  }
  const entries: LdEntry[] = [];
  for (const line of out.split("\n")) {
    const m = /^\s+(\S+) \(([^)]*)\) => (.+)$/.exec(line);
    if (m) entries.push({ soname: m[1] as string, flags: m[2] as string, path: (m[3] as string).trim() });
  }
  ldCache = entries;
  return entries;
}

/** The ldconfig flag that marks this architecture's libraries (bcc's match_so_flags). */
function archFlag(): string | undefined {
  switch (process.arch) {
    case "x64":
      return "x86-64";
    case "arm64":
      return "AArch64";
    case "ppc64":
      return "64bit";
    case "s390x":
      return "64bit";
    case "riscv64":
      return "64bit";
    default:
      return undefined;
  }
}

const LIB_DIRS = [
  "/lib64",
  "/usr/lib64",
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib",
  "/usr/lib",
];

/**
 * bcc's `BPF.find_library(name)` (bcc_procutils_which_so): the path of a
 * shared library. `name` is bare ("c", "pthread"), a soname ("libc.so.6") or a
 * path (returned as is). With a pid, the library that process has mapped
 * wins ("/lib{name}." or "/lib{name}-" in a mapped ".so" path), readable from
 * here. Then the ldconfig cache (`ldconfig -p`, read once): the first entry
 * named lib{name}.so* for this architecture. Then the usual library
 * directories. Undefined when not found (bcc returns NULL).
 */
export function findLibrary(name: string, pid?: number): string | undefined {
  if (name.includes("/")) return name;
  const soname = name.startsWith("lib") && name.includes(".so") ? name : `lib${name}.so`;
  const bare = soname.slice(3).replace(/\.so.*$/, "");
  if (pid !== undefined && pid > 0) {
    try {
      const ps = new ProcessSymbols(pid);
      for (const m of ps.mappings()) {
        const p = m.path;
        if (!p.startsWith("/") || !p.includes(".so")) continue;
        const base = basename(p);
        if (base.startsWith(`lib${bare}.`) || base.startsWith(`lib${bare}-`)) {
          const self = mntNs("self");
          const theirs = mntNs(pid);
          return self === theirs || self === undefined || theirs === undefined ? p : `/proc/${pid}/root${p}`;
        }
      }
    } catch {}
  }
  const flag = archFlag();
  for (const e of ldconfigEntries()) {
    if (!e.soname.startsWith(soname)) continue;
    if (flag !== undefined && !e.flags.split(",").some((f) => f.trim() === flag)) continue;
    return e.path;
  }
  for (const dir of LIB_DIRS) {
    const exact = join(dir, soname);
    if (existsSync(exact)) return exact;
  }
  return undefined;
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * bcc's `BPF.find_exe(name)` (like `which`): a name with a "/" is returned
 * when it is an executable file; otherwise the first executable file of that
 * name in $PATH. Undefined when there is none.
 */
export function findExe(name: string): string | undefined {
  if (name.includes("/")) return isExecutableFile(name) ? name : undefined;
  const path = process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    const p = join(dir, name);
    if (isExecutableFile(p)) return p;
  }
  return undefined;
}
