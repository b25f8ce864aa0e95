// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Kernel symbols from /proc/kallsyms: bcc's `BPF.ksym` and `BPF.ksymname`.
 *
 * The file has ~120k lines; it is read and parsed once, on first use (never
 * at start-up: it costs tens of milliseconds), into typed arrays: addresses in
 * a BigUint64Array (searched through its two 32-bit halves, so that a lookup
 * makes no BigInt per step) and names as offsets into the file's own bytes.
 *
 * Like bcc, address lookups ignore data symbols (types b, B, d, D, r, R) and
 * anything below the kernel's address space, and resolve an address to the
 * nearest symbol at or below it (kallsyms has no sizes).
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { BpfError, PermissionError } from "./errors.js";

/** What {@link kallsymsLookup} returns for an address. */
export interface KernelSymbol {
  /** The symbol's name, e.g. "vfs_read". */
  name: string;
  /** How far the address is past the symbol's start. */
  offset: bigint;
  /** "kernel" for the core kernel (as in bcc), else the module's name ("ext4", "bpf"...). */
  module: string;
  /** The symbol's own address. */
  address: bigint;
  /** Its kallsyms type letter ("T", "t", "W"...). */
  type: string;
}

/** Options of {@link ksym}, as in bcc's `BPF.ksym(addr, show_module, show_offset)`. */
export interface KsymOptions {
  /** Append " [module]" (" [kernel]" for the core kernel). */
  showModule?: boolean;
  /** Append "+0x1a", the offset into the function, in hex. */
  showOffset?: boolean;
}

// bcc ignores addresses below this (per-CPU symbols and the like).
const KERNEL_ADDR_SPACE = process.arch === "x64" || process.arch === "arm64" ? 0x00ffffffffffffffn : 0n;

const DATA_TYPES = new Set("bBdDrR".split("").map((c) => c.charCodeAt(0)));

/** A parsed /proc/kallsyms (see {@link kallsyms}). Immutable once built. */
export class Kallsyms {
  /** Number of symbols (every line, data symbols included). */
  readonly size: number;
  private readonly raw: Buffer;
  private readonly nameStart: Uint32Array;
  private readonly nameLen: Uint16Array;
  private readonly types: Uint8Array;
  private readonly modIdx: Uint16Array;
  private readonly modules: string[];
  private readonly addrs: BigUint64Array;
  // Lookup table: code symbols only, sorted by address.
  private readonly sorted: Uint32Array;
  private readonly sortedWords: Uint32Array;
  private byName: Map<string, number> | undefined;

  /**
   * Parses the text of /proc/kallsyms ("ffffffff816bab70 T vfs_read" lines,
   * module symbols followed by "\t[mod]"). Throws a PermissionError when every
   * address reads as zero (kptr_restrict, or no CAP_SYSLOG).
   */
  constructor(text: Buffer | string) {
    const raw = typeof text === "string" ? Buffer.from(text, "latin1") : text;
    this.raw = raw;
    const len = raw.length;
    // Upper bound on the line count, to size the arrays once.
    let lines = 0;
    for (let i = raw.indexOf(10); i !== -1; i = raw.indexOf(10, i + 1)) lines++;
    lines++;
    const words = new Uint32Array(lines * 2);
    const nameStart = new Uint32Array(lines);
    const nameLen = new Uint16Array(lines);
    const types = new Uint8Array(lines);
    const modIdx = new Uint16Array(lines);
    const modules = ["kernel"];
    const modIndex = new Map<string, number>([["kernel", 0]]);
    let n = 0;
    let nonZero = 0;
    let pos = 0;
    while (pos < len) {
      let eol = raw.indexOf(10, pos);
      if (eol === -1) eol = len;
      // Address: hex digits up to the first space, as two 32-bit halves.
      let hi = 0;
      let lo = 0;
      let p = pos;
      let digits = 0;
      for (; p < eol; p++) {
        const c = raw[p] as number;
        let v: number;
        if (c >= 48 && c <= 57) v = c - 48;
        else if (c >= 97 && c <= 102) v = c - 87;
        else if (c >= 65 && c <= 70) v = c - 55;
        else break;
        hi = ((hi << 4) | (lo >>> 28)) >>> 0;
        lo = ((lo << 4) | v) >>> 0;
        digits++;
      }
      if (digits === 0 || raw[p] !== 32 || p + 3 >= eol) {
        pos = eol + 1;
        continue;
      }
      const type = raw[p + 1] as number;
      const ns = p + 3;
      let ne = ns;
      while (ne < eol && raw[ne] !== 9 && raw[ne] !== 32) ne++;
      let mod = 0;
      // A module symbol ends in "\t[module]".
      let lb = ne;
      while (lb < eol && raw[lb] !== 91) lb++; // '['
      if (lb < eol) {
        let rb = lb + 1;
        while (rb < eol && raw[rb] !== 93) rb++; // ']'
        if (rb < eol) {
          const m = raw.toString("latin1", lb + 1, rb);
          let idx = modIndex.get(m);
          if (idx === undefined) {
            idx = modules.length;
            modules.push(m);
            modIndex.set(m, idx);
          }
          mod = idx;
        }
      }
      words[2 * n] = lo;
      words[2 * n + 1] = hi;
      if (lo !== 0 || hi !== 0) nonZero++;
      nameStart[n] = ns;
      nameLen[n] = Math.min(ne - ns, 0xffff);
      types[n] = type;
      modIdx[n] = mod;
      n++;
      pos = eol + 1;
    }
    if (n > 0 && nonZero === 0) {
      let restrict = "?";
      try {
        restrict = readFileSync("/proc/sys/kernel/kptr_restrict", "utf8").trim();
      } catch {}
      throw new PermissionError(
        `every address in /proc/kallsyms reads as 0, so kernel symbols cannot be resolved: ` +
          `run as root (reading them needs CAP_SYSLOG), and kernel.kptr_restrict must be below 2 (it is ${restrict})`,
        "CAP_SYSLOG",
      );
    }
    this.size = n;
    this.nameStart = nameStart.subarray(0, n);
    this.nameLen = nameLen.subarray(0, n);
    this.types = types.subarray(0, n);
    this.modIdx = modIdx.subarray(0, n);
    this.modules = modules;
    this.addrs = new BigUint64Array(words.buffer, 0, n);

    // The lookup table: code symbols in the kernel's address space, by address.
    const minHi = Number(KERNEL_ADDR_SPACE >> 32n);
    const minLo = Number(KERNEL_ADDR_SPACE & 0xffffffffn);
    let m = 0;
    const keep = new Uint32Array(n);
    let inOrder = true;
    let prevHi = 0;
    let prevLo = 0;
    for (let i = 0; i < n; i++) {
      if (DATA_TYPES.has(types[i] as number)) continue;
      const hi = words[2 * i + 1] as number;
      const lo = words[2 * i] as number;
      if (hi < minHi || (hi === minHi && lo < minLo)) continue;
      if (hi < prevHi || (hi === prevHi && lo < prevLo)) inOrder = false;
      prevHi = hi;
      prevLo = lo;
      keep[m++] = i;
    }
    let sorted = keep.subarray(0, m);
    if (!inOrder) {
      // Stable sort by address (ties stay in file order).
      const arr = Array.from(sorted);
      arr.sort((a, b) => {
        const ha = words[2 * a + 1] as number;
        const hb = words[2 * b + 1] as number;
        if (ha !== hb) return ha - hb;
        const la = words[2 * a] as number;
        const lb2 = words[2 * b] as number;
        return la !== lb2 ? la - lb2 : a - b;
      });
      sorted = Uint32Array.from(arr);
    }
    this.sorted = sorted;
    const sw = new Uint32Array(m * 2);
    for (let k = 0; k < m; k++) {
      const i = sorted[k] as number;
      sw[2 * k] = words[2 * i] as number;
      sw[2 * k + 1] = words[2 * i + 1] as number;
    }
    this.sortedWords = sw;
  }

  /** The name of symbol i (file order). */
  private nameAt(i: number): string {
    const s = this.nameStart[i] as number;
    return this.raw.toString("latin1", s, s + (this.nameLen[i] as number));
  }

  /**
   * The code symbol containing `addr`: the nearest one at or below it (bcc's
   * rule; kallsyms has no sizes). Among symbols sharing an address, the first
   * global one (upper-case type) wins, else the first listed. Undefined below
   * the first symbol or outside the kernel's address space.
   */
  lookup(addr: bigint): KernelSymbol | undefined {
    if (addr < KERNEL_ADDR_SPACE || addr > 0xffffffffffffffffn) return undefined;
    const hi = Number(addr >> 32n);
    const lo = Number(addr & 0xffffffffn);
    const w = this.sortedWords;
    // Last k with sortedAddr[k] <= addr.
    let a = 0;
    let b = this.sorted.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const mh = w[2 * mid + 1] as number;
      const ml = w[2 * mid] as number;
      if (mh < hi || (mh === hi && ml <= lo)) a = mid + 1;
      else b = mid;
    }
    const k = a - 1;
    if (k < 0) return undefined;
    const kh = w[2 * k + 1] as number;
    const kl = w[2 * k] as number;
    let first = k;
    while (first > 0 && w[2 * (first - 1) + 1] === kh && w[2 * (first - 1)] === kl) first--;
    let pick = first;
    for (let j = first; j <= k; j++) {
      const t = this.types[this.sorted[j] as number] as number;
      if (t >= 65 && t <= 90) {
        pick = j;
        break;
      }
    }
    const i = this.sorted[pick] as number;
    const symAddr = this.addrs[i] as bigint;
    return {
      name: this.nameAt(i),
      offset: addr - symAddr,
      module: this.modules[this.modIdx[i] as number] as string,
      address: symAddr,
      type: String.fromCharCode(this.types[i] as number),
    };
  }

  /**
   * The address of the symbol called `name` (any type, data symbols too), or
   * undefined. When several symbols share the name (static functions of
   * different files), the one listed last wins, as in bcc.
   */
  addressOf(name: string): bigint | undefined {
    if (!this.byName) {
      const map = new Map<string, number>();
      for (let i = 0; i < this.size; i++) map.set(this.nameAt(i), i);
      this.byName = map;
    }
    const i = this.byName.get(name);
    return i === undefined ? undefined : (this.addrs[i] as bigint);
  }

  /** Every symbol, in file order. */
  *[Symbol.iterator](): IterableIterator<{ name: string; address: bigint; type: string; module: string }> {
    for (let i = 0; i < this.size; i++) {
      yield {
        name: this.nameAt(i),
        address: this.addrs[i] as bigint,
        type: String.fromCharCode(this.types[i] as number),
        module: this.modules[this.modIdx[i] as number] as string,
      };
    }
  }
}

let cached: Kallsyms | undefined;

/**
 * Reads a /proc file whole. They report size 0 and the kernel hands out a
 * page or so per read(): big reads into one buffer (growing it when full)
 * are about twice as fast as readFileSync.
 */
function readProcFile(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    let buf = Buffer.allocUnsafe(8 << 20);
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
    // Copy out, so that the slack of the read buffer is not kept alive.
    return Buffer.from(buf.subarray(0, len));
  } finally {
    closeSync(fd);
  }
}

/**
 * The parsed /proc/kallsyms, read on first call and kept. Call
 * {@link refreshKallsyms} after loading modules or BPF programs whose symbols
 * you need. Throws a PermissionError when addresses are hidden.
 */
export function kallsyms(): Kallsyms {
  if (cached) return cached;
  let text: Buffer;
  try {
    text = readProcFile("/proc/kallsyms");
  } catch (err) {
    throw new BpfError(`cannot read /proc/kallsyms: ${(err as Error).message}`, { cause: err });
  }
  cached = new Kallsyms(text);
  return cached;
}

/** Drops the cached /proc/kallsyms: the next lookup reads it again. */
export function refreshKallsyms(): void {
  cached = undefined;
}

/** The kernel symbol containing `addr` with its offset and module, or undefined. */
export function kallsymsLookup(addr: bigint): KernelSymbol | undefined {
  return kallsyms().lookup(addr);
}

/**
 * bcc's `BPF.ksym(addr, show_module, show_offset)`: the kernel function
 * containing `addr`, "[unknown]" when there is none; with showOffset
 * "vfs_read+0x10" (never for "[unknown]"), with showModule " [kernel]" or
 * " [module]" appended: "vfs_read+0x10 [kernel]".
 */
export function ksym(addr: bigint, opts: KsymOptions = {}): string {
  const s = kallsymsLookup(addr);
  if (!s) return "[unknown]";
  let out = s.name;
  if (opts.showOffset) out += `+0x${s.offset.toString(16)}`;
  if (opts.showModule) out += ` [${s.module}]`;
  return out;
}

/**
 * bcc's `BPF.ksymname(name)`: the address of a kernel symbol. bcc returns -1
 * when there is none; this returns undefined. Unlike bcc it also finds data
 * symbols (on kernels built with CONFIG_KALLSYMS_ALL).
 */
export function ksymname(name: string): bigint | undefined {
  return kallsyms().addressOf(name);
}
