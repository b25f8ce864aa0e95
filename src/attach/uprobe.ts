// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * uprobes and uretprobes: from bcc's (name, sym, addr, pid) to the file and
 * file offset a uprobe attaches to, and the errors when that fails.
 *
 * All the resolution happens here, in TypeScript: libbpf only gets a path
 * and a file offset. `name` is a path, a library name resolved as bcc does
 * ("c" → the libc the loader would use) or an executable found in $PATH.
 * Symbols come from .symtab and .dynsym; PIE executables and shared
 * libraries are handled by translating the symbol's address through its
 * PT_LOAD segment. GNU indirect functions (IFUNC, e.g. glibc's strlen) are
 * followed to the implementation the dynamic linker picked.
 */
import { closeSync, openSync, readlinkSync, readSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import {
  type ElfFile,
  type ElfSymbol,
  elfFile,
  elfSymbols,
  elfSymbolsMatching,
  SHN_UNDEF,
  symbolToFileOffset,
} from "../elf/elf.js";
import { findExe, findLibrary, type MapEntry, readProcMaps } from "../elf/procmaps.js";
import { Errno, ProgType } from "../kernel/constants.js";
import { AttachError, BpfError, NotSupportedError } from "../kernel/errors.js";
import { uprobeSupport } from "../kernel/features.js";
import { closestNames } from "../kernel/tracefs.js";
import { native } from "../native.js";
import type { AttachContext } from "./context.js";
import { attachFailure, type Link, nativeLink } from "./link.js";
import { checkProbeQuota } from "./quota.js";

/** Why uprobes are missing, for error messages. */
export const UPROBE_MISSING_REASON = "no uprobe PMU and no uprobe_events: CONFIG_UPROBES is off";

/** The NotSupportedError for a uprobe on a kernel without uprobes. */
export function uprobeNotSupported(retprobe: boolean): NotSupportedError {
  return new NotSupportedError(
    retprobe ? "uretprobes" : "uprobes",
    UPROBE_MISSING_REASON,
    "use a kernel built with CONFIG_UPROBES=y (Linux 4.17+ for the fd-based uprobe PMU)",
  );
}

/** Where a uprobe goes: the file (as the kernel opens it) and the file offset. */
export interface UprobeTarget {
  /** The ELF file (under /proc/PID/root when the process has another mount namespace). */
  path: string;
  /** File offset of the probed instruction. */
  offset: bigint;
  /** The symbol it was resolved from (undefined for an address). */
  sym: string | undefined;
  /** The IFUNC's implementation was found (in the process, or in this one) and used. */
  ifuncResolved?: boolean;
}

function mountNs(pid: number | "self"): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** path as process pid sees it, from here: through /proc/PID/root when its mount namespace differs. */
function inProcessRoot(path: string, pid: number | undefined): string {
  if (pid === undefined || pid <= 0 || path.startsWith("/proc/")) return path;
  const self = mountNs("self");
  const theirs = mountNs(pid);
  return self === undefined || theirs === undefined || self === theirs ? path : `/proc/${pid}/root${path}`;
}

/**
 * The file a uprobe `name` designates (bcc's rules): a name with a "/" is a
 * path; otherwise a library (findLibrary: the process's own mapping when pid
 * is given, then the ldconfig cache, then the usual directories), else an
 * executable of $PATH.
 * @throws AttachError naming what was searched when there is none.
 */
export function resolveBinary(name: string, pid?: number): string {
  if (name === "") throw new AttachError("uprobe", "no binary given (name is empty)");
  if (name.includes("/")) {
    const abs = isAbsolute(name) ? name : resolve(name);
    const path = inProcessRoot(abs, pid);
    let isFile = false;
    try {
      isFile = statSync(path).isFile();
    } catch {}
    if (!isFile) throw new AttachError(`uprobe ${name}`, `no such file: ${path}`);
    return path;
  }
  const lib = findLibrary(name, pid);
  if (lib !== undefined) return inProcessRoot(lib, pid);
  const exe = findExe(name);
  if (exe !== undefined) return inProcessRoot(exe, pid);
  const soname = name.startsWith("lib") && name.includes(".so") ? name : `lib${name}.so`;
  throw new AttachError(
    `uprobe ${name}`,
    `no binary "${name}": no library ${soname}*${pid !== undefined && pid > 0 ? ` mapped by process ${pid},` : ""}` +
      " in the ldconfig cache (ldconfig -p) or in /lib64, /usr/lib64, /lib/<arch>, /usr/lib/<arch>, /lib, /usr/lib," +
      ` and no executable "${name}" in $PATH`,
    'give a path, a library name ("c" for libc) or an executable in $PATH',
  );
}

/** Function-like symbols a uprobe can go to: defined FUNC, IFUNC and (asm labels) NOTYPE with an address. */
function probeable(s: ElfSymbol): boolean {
  return (
    (s.type === "FUNC" || s.type === "IFUNC" || s.type === "NOTYPE") &&
    s.shndx !== SHN_UNDEF &&
    s.value !== 0n &&
    s.name !== ""
  );
}

const BIND_RANK: Record<string, number> = { GLOBAL: 0, WEAK: 1, UNIQUE: 1, LOCAL: 2, OTHER: 3 };
const TYPE_RANK: Record<string, number> = { FUNC: 0, IFUNC: 0, NOTYPE: 1 };

/** The symbol `name` of path: FUNC or IFUNC before NOTYPE, GLOBAL before WEAK before LOCAL, .symtab first. */
function findSymbol(path: string, name: string): ElfSymbol | undefined {
  const bare = name.replace(/@.*$/, "");
  let best: ElfSymbol | undefined;
  for (const s of elfSymbolsMatching(path, [bare])) {
    if (!probeable(s)) continue;
    if (
      !best ||
      (TYPE_RANK[s.type] as number) < (TYPE_RANK[best.type] as number) ||
      (TYPE_RANK[s.type] === TYPE_RANK[best.type] &&
        (BIND_RANK[s.binding] as number) < (BIND_RANK[best.binding] as number))
    )
      best = s;
  }
  return best;
}

/** Names of the functions (FUNC and IFUNC) of an ELF file (those re passes, when given), each once. */
function functionNames(path: string, re?: RegExp): string[] {
  const out = new Set<string>();
  for (const s of re ? elfSymbolsMatching(path, re) : elfSymbols(path)) {
    if ((s.type === "FUNC" || s.type === "IFUNC") && s.shndx !== SHN_UNDEF && s.value !== 0n && s.name !== "")
      out.add(s.name);
  }
  return [...out];
}

/** The AttachError for a symbol path does not define, naming the closest ones. */
function unknownSymbol(path: string, sym: string): AttachError {
  const close = closestNames(sym, functionNames(path), 3);
  return new AttachError(
    `uprobe ${path}:${sym}`,
    `no function ${sym} in ${path}`,
    close.length ? `did you mean ${close.join(", ")}?` : "the binary may be stripped (no .symtab)",
  );
}

// --- IFUNC -------------------------------------------------------------------

const SHT_RELA = 4;
/** R_X86_64_IRELATIVE, R_AARCH64_IRELATIVE */
const IRELATIVE: Record<number, number> = { 62: 37, 183: 1032 };

/** Per file (its cached headers): resolver address → the GOT slots of its IRELATIVE relocations. */
const irelativeCache = new WeakMap<ElfFile, Map<bigint, bigint[]>>();

/** The file's IRELATIVE relocations (.rela.dyn, .rela.plt), by resolver (the addend). */
function irelatives(path: string, elf: ElfFile): Map<bigint, bigint[]> {
  const hit = irelativeCache.get(elf);
  if (hit) return hit;
  const out = new Map<bigint, bigint[]>();
  const type = IRELATIVE[elf.machine];
  let fd: number | undefined;
  try {
    if (type !== undefined) fd = openSync(path, "r");
  } catch {
    return out;
  }
  try {
    for (const s of elf.sections) {
      if (fd === undefined || s.type !== SHT_RELA || s.size === 0 || s.size > 64 << 20) continue;
      const ent = s.entsize || 24;
      if (ent < 24) continue;
      const buf = Buffer.allocUnsafe(s.size);
      if (readSync(fd, buf, 0, s.size, s.offset) !== s.size) continue;
      for (let o = 0; o + 24 <= s.size; o += ent) {
        if (Number(buf.readBigUInt64LE(o + 8) & 0xffffffffn) !== type) continue;
        const resolver = buf.readBigInt64LE(o + 16);
        const slots = out.get(resolver) ?? [];
        slots.push(buf.readBigUInt64LE(o));
        out.set(resolver, slots);
      }
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  irelativeCache.set(elf, out);
  return out;
}

/** The (major, minor) of a stat dev number, as /proc/PID/maps prints it ("fe:01"). */
function devString(dev: number): string {
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff);
  return `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}`;
}

/**
 * The load bias of file (dev, ino) in process pid: mapped address minus
 * link-time address, from a mapping of the file and the PT_LOAD segment
 * holding the mapping's file offset.
 */
function loadBias(
  elf: ElfFile,
  maps: MapEntry[],
  file: { dev: string; ino: number; path: string },
): bigint | undefined {
  for (const m of maps) {
    // Overlay and btrfs files show another device in the maps than stat gives: the path decides then.
    if (m.inode !== file.ino || (m.dev !== file.dev && m.path !== file.path)) continue;
    for (const seg of elf.segments) {
      if (seg.type !== 1 /* PT_LOAD */) continue;
      if (m.offset < seg.offset || m.offset >= seg.offset + (seg.filesz > 0n ? seg.filesz : 1n)) continue;
      return m.start - (m.offset - seg.offset + seg.vaddr);
    }
  }
  return undefined;
}

function readWord(pid: number | "self", addr: bigint): bigint | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/mem`, "r");
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(8);
    return readSync(fd, buf, 0, 8, addr) === 8 ? buf.readBigUInt64LE(0) : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * The link-time address of the implementation an IFUNC resolves to. A
 * uprobe on the IFUNC symbol itself would sit on its resolver, which runs
 * once, when the library is loaded. The dynamic linker writes the chosen
 * implementation into the GOT slots of the file's IRELATIVE relocations
 * whose addend is the resolver; that slot is read from process pid's memory
 * (when given and it maps the file) or else from this process's (which maps
 * libc, libm, …). The choice depends only on the CPU, so it is the same in
 * every process of this machine. Undefined when no process at hand maps the
 * file or the file has no such relocation.
 */
export function resolveIfunc(path: string, sym: ElfSymbol, pid?: number): bigint | undefined {
  const elf = elfFile(path);
  const slots = irelatives(path, elf).get(sym.value) ?? [];
  if (slots.length === 0) return undefined;
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  let real = path;
  try {
    real = realpathSync(path);
  } catch {}
  const file = { dev: devString(Number(st.dev)), ino: Number(st.ino), path: real };
  const candidates: Array<number | "self"> = pid !== undefined && pid > 0 ? [pid, "self"] : ["self"];
  for (const p of candidates) {
    let maps: MapEntry[];
    try {
      maps = readProcMaps(p);
    } catch {
      continue;
    }
    const bias = loadBias(elf, maps, file);
    if (bias === undefined) continue;
    for (const slot of slots) {
      const value = readWord(p, bias + slot);
      if (value === undefined) continue;
      const addr = value - bias;
      // Still the resolver (not relocated yet) or outside the file: not usable.
      if (addr === sym.value) continue;
      const inText = elf.segments.some(
        (s) => s.type === 1 && s.flags & 1 && s.vaddr <= addr && addr < s.vaddr + s.filesz,
      );
      if (inText) return addr;
    }
  }
  return undefined;
}

// --- resolution --------------------------------------------------------------

/** Options naming a uprobe's location, as bcc's attach_uprobe takes them. */
export interface UprobeLocation {
  /** A path, a library name ("c") or an executable in $PATH. */
  name: string;
  /** A function symbol. */
  sym?: string;
  /** A link-time virtual address (instead of sym). */
  addr?: bigint | number;
  /** Process the probe is for (resolves libraries through its mappings); -1 or undefined: every process. */
  pid?: number;
  /** Bytes added to the symbol's address. */
  symOff?: number;
}

/**
 * The file and file offset for a uprobe at `sym` (+ symOff) or `addr` of
 * binary `name` (bcc's _check_path_symbol).
 * @throws AttachError for an unknown binary or symbol, or an address no segment holds.
 */
export function resolveUprobe(loc: UprobeLocation): UprobeTarget {
  const symOff = loc.symOff ?? 0;
  if (!Number.isSafeInteger(symOff) || symOff < 0)
    throw new AttachError(`uprobe ${loc.name}`, `symOff must be a non-negative integer (got ${symOff})`);
  if (loc.addr !== undefined && symOff !== 0)
    throw new AttachError(`uprobe ${loc.name}`, "give symOff with sym, not with addr");
  const pid = loc.pid !== undefined && loc.pid > 0 ? loc.pid : undefined;
  const path = resolveBinary(loc.name, pid);
  let elf: ElfFile;
  try {
    elf = elfFile(path);
  } catch (err) {
    throw new AttachError(`uprobe ${path}`, (err as Error).message, undefined, { cause: err });
  }
  if (loc.addr !== undefined && loc.addr !== 0 && loc.addr !== 0n) {
    const addr = BigInt(loc.addr);
    try {
      return { path, offset: symbolToFileOffset(elf, addr), sym: undefined };
    } catch (err) {
      throw new AttachError(`uprobe ${path}:0x${addr.toString(16)}`, (err as Error).message, undefined, {
        cause: err,
      });
    }
  }
  if (loc.sym === undefined || loc.sym === "")
    throw new AttachError(`uprobe ${path}`, "give sym (a function) or addr");
  const sym = findSymbol(path, loc.sym);
  if (!sym) throw unknownSymbol(path, loc.sym);
  return targetOf(path, elf, sym, BigInt(symOff), pid);
}

function targetOf(path: string, elf: ElfFile, sym: ElfSymbol, off: bigint, pid?: number): UprobeTarget {
  let addr = sym.value;
  let ifuncResolved: boolean | undefined;
  if (sym.type === "IFUNC") {
    const impl = resolveIfunc(path, sym, pid);
    if (impl === undefined) {
      throw new AttachError(
        `uprobe ${path}:${sym.name}`,
        `${sym.name} is an indirect function (IFUNC): its implementation is chosen when the library loads, and no process at hand has it loaded`,
        "give the pid of a process that uses the library, or the implementation's address (addr)",
      );
    }
    addr = impl;
    ifuncResolved = true;
  }
  try {
    return { path, offset: symbolToFileOffset(elf, addr + off), sym: sym.name, ifuncResolved };
  } catch (err) {
    throw new AttachError(`uprobe ${path}:${sym.name}`, (err as Error).message, undefined, { cause: err });
  }
}

/**
 * Every function of binary `name` whose name matches re, with its uprobe
 * target, one per distinct file offset (aliases share one). IFUNCs whose
 * implementation cannot be found (see {@link resolveIfunc}) are left out.
 */
export function resolveUprobeRe(name: string, re: RegExp, pid?: number): UprobeTarget[] {
  const p = pid !== undefined && pid > 0 ? pid : undefined;
  const path = resolveBinary(name, p);
  const elf = elfFile(path);
  const out = new Map<bigint, UprobeTarget>();
  for (const s of elfSymbolsMatching(path, re)) {
    if ((s.type !== "FUNC" && s.type !== "IFUNC") || !probeable(s)) continue;
    let t: UprobeTarget;
    try {
      t = targetOf(path, elf, s, 0n, p);
    } catch {
      continue;
    }
    if (!out.has(t.offset)) out.set(t.offset, t);
  }
  return [...out.values()];
}

/** Names of the functions (FUNC, IFUNC) of binary `name` matching re (bcc's get_user_functions). */
export function userFunctions(name: string, re: RegExp): string[] {
  return functionNames(resolveBinary(name), re);
}

/** The AttachError for a failed uprobe attach, with a hint that fits the errno. */
export function uprobeAttachError(
  t: UprobeTarget,
  errno: number,
  retprobe: boolean,
  cause: unknown,
  pid = -1,
): AttachError {
  const what = `${retprobe ? "uretprobe" : "uprobe"} ${t.path}:${t.sym ?? ""}+0x${t.offset.toString(16)}`;
  const reason = (cause as Error).message;
  let hint: string | undefined;
  if (errno === Errno.EINVAL)
    hint = "the offset may not be an instruction boundary, or lie beyond the file's executable code";
  else if (errno === Errno.ENOENT) hint = "the file is gone";
  else if (errno === Errno.ESRCH)
    hint = `process ${pid} does not exist (it may have exited before the attach); attach with the pid of a running process, or without pid for every process`;
  return new AttachError(what, reason, hint, { errno, cause });
}

/** Options of attachUprobe / attachUretprobe (bcc's attach_uprobe). */
export interface UprobeOptions {
  /** A path, a library name ("c" for libc) or an executable in $PATH. */
  name: string;
  /** The function (from .symtab or .dynsym). */
  sym?: string;
  /** Every function whose name matches (instead of sym). */
  symRe?: RegExp | string;
  /** A link-time virtual address in the binary (instead of sym). */
  addr?: bigint | number;
  /** The BPF function to run. */
  fnName: string;
  /** Trace only this process (default -1: every process running the binary). */
  pid?: number;
  /** Bytes past the symbol's start (with sym). */
  symOff?: number;
  /** What bpf_get_attach_cookie() returns in the program (Linux 5.15+). */
  cookie?: number | bigint;
  /**
   * The file offset of a USDT semaphore in the binary: the kernel counts it
   * up while the probe is attached, so code guarded by it runs (Linux 4.20+).
   */
  refCtrOffset?: number | bigint;
}

/** Options of detachUprobe / detachUretprobe. */
export interface UprobeDetachOptions {
  name: string;
  sym?: string;
  addr?: bigint | number;
  pid?: number;
  symOff?: number;
  /** Detach only this function's probes. */
  fnName?: string;
}

/** The link key of a uprobe: kind, file, offset and pid. */
function uprobeKey(retprobe: boolean, path: string, offset: bigint, pid: number): string {
  return `${retprobe ? "r" : "p"}:${path}:0x${offset.toString(16)}:${pid}`;
}

/** The link key and a description of the uprobe a detach call names, resolved as attach resolved it. */
export function uprobeDetachKey(opts: UprobeDetachOptions, retprobe: boolean): { key: string; what: string } {
  const pid = opts.pid === undefined || opts.pid < 0 ? -1 : opts.pid;
  const t = resolveUprobe({ name: opts.name, sym: opts.sym, addr: opts.addr, pid, symOff: opts.symOff });
  return {
    key: uprobeKey(retprobe, t.path, t.offset, pid),
    what: `${retprobe ? "uretprobe" : "uprobe"} ${t.path}:${t.sym ?? `0x${t.offset.toString(16)}`}`,
  };
}

/**
 * Attaches fnName (a kprobe-type program) to a user-space function's entry
 * or return, one link per function (symRe matches several), through the
 * uprobe PMU (Linux 4.17+; libbpf falls back to uprobe_events before).
 */
export function attachUprobes(ctx: AttachContext, opts: UprobeOptions, retprobe: boolean): Link[] {
  if (uprobeSupport() === "no") throw uprobeNotSupported(retprobe);
  const pid = opts.pid === undefined || opts.pid < 0 ? -1 : opts.pid;
  let targets: UprobeTarget[];
  if (opts.symRe !== undefined) {
    if (opts.sym !== undefined || opts.addr !== undefined)
      throw new BpfError("attachUprobe: give symRe alone, not with sym or addr");
    const re = typeof opts.symRe === "string" ? new RegExp(opts.symRe) : opts.symRe;
    targets = resolveUprobeRe(opts.name, re, pid);
    if (targets.length === 0)
      throw new AttachError(`uprobes on ${opts.name} matching ${String(re)}`, "no function matches");
    checkProbeQuota(`uprobes on ${opts.name} matching ${String(re)}`, targets.length, ctx.openProbes());
  } else {
    targets = [resolveUprobe({ name: opts.name, sym: opts.sym, addr: opts.addr, pid, symOff: opts.symOff })];
  }
  const fn = ctx.loadFunc(opts.fnName, ProgType.KPROBE);
  const links: Link[] = [];
  for (const t of targets) {
    try {
      const link = native().attachUprobe(fn.object, fn.elfName, {
        cookie: opts.cookie ?? 0,
        path: t.path,
        offset: Number(t.offset),
        pid,
        retprobe,
        refCtrOffset: Number(opts.refCtrOffset ?? 0),
      });
      links.push(
        nativeLink(
          retprobe ? "uretprobe" : "uprobe",
          uprobeKey(retprobe, t.path, t.offset, pid),
          opts.fnName,
          link,
        ),
      );
    } catch (err) {
      for (const l of links) l.close();
      throw attachFailure(err, t.path, (e) => uprobeAttachError(t, e.errno, retprobe, e, pid));
    }
  }
  return links;
}
