/**
 * Real files for the binary readers' fuzzing, and the mutations applied to
 * them. A mutation is a small description (truncate here, flip these bits,
 * write these values at these offsets) rather than the bytes themselves, so
 * a counterexample prints short, shrinks well and replays from its seed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { btfTypeExtraBytes } from "../../src/btf/btf.js";
import { packageRoot } from "../../src/paths.js";

/** A seed file and the byte ranges worth aiming at (headers, tables). */
export interface Seed {
  name: string;
  bytes: Buffer;
  /** [start, end) ranges that mutations favour. */
  hot: Array<[number, number]>;
}

/** One mutation of a seed. Offsets are picked as (region, position) and reduced modulo their ranges. */
export interface Mutation {
  seed: number;
  /** Keep only this many bytes (a fraction of the file, in 1/10000ths), when set. */
  truncate: number | undefined;
  /** Bit flips: [region, position, bit]. */
  flips: Array<[number, number, number]>;
  /** Writes of interesting values: [region, position, width, value index]. */
  writes: Array<[number, number, 1 | 2 | 4 | 8, number]>;
}

const INTERESTING: bigint[] = [
  0n,
  1n,
  2n,
  3n,
  4n,
  7n,
  8n,
  0x10n,
  0x7fn,
  0x80n,
  0xffn,
  0x100n,
  0x7fffn,
  0x8000n,
  0xffffn,
  0x10000n,
  0x7fffffffn,
  0x80000000n,
  0xfffffff0n,
  0xffffffe0n,
  0xfffffffcn,
  0xffffffffn,
  0x100000000n,
  1n << 40n,
  (1n << 53n) + 1n,
  1n << 63n,
  (1n << 64n) - 1n,
];

/** Applies a mutation to a copy of its seed. */
export function mutate(seeds: readonly Seed[], m: Mutation): { seed: Seed; bytes: Buffer } {
  const seed = seeds[m.seed % seeds.length] as Seed;
  const bytes = Buffer.from(seed.bytes);
  const ranges: Array<[number, number]> = [[0, bytes.length], ...seed.hot];
  const at = (region: number, pos: number): number => {
    const [a, b] = ranges[region % ranges.length] as [number, number];
    return b > a ? a + (pos % (b - a)) : 0;
  };
  for (const [region, pos, bit] of m.flips) {
    const o = at(region, pos);
    if (o < bytes.length) bytes[o] = (bytes[o] as number) ^ (1 << (bit % 8));
  }
  for (const [region, pos, width, vi] of m.writes) {
    const o = at(region, pos) & ~(width - 1);
    if (o + width > bytes.length) continue;
    const v = INTERESTING[vi % INTERESTING.length] as bigint;
    const masked = BigInt.asUintN(width * 8, v);
    if (width === 8) bytes.writeBigUInt64LE(masked, o);
    else if (width === 4) bytes.writeUInt32LE(Number(masked), o);
    else if (width === 2) bytes.writeUInt16LE(Number(masked), o);
    else bytes[o] = Number(masked);
  }
  const out =
    m.truncate === undefined ? bytes : bytes.subarray(0, Math.floor((bytes.length * m.truncate) / 10000));
  return { seed, bytes: out };
}

/** Mutations of `count` seeds: mostly a few flips and writes, sometimes a truncation. */
export function mutations(count: number): fc.Arbitrary<Mutation> {
  const region = fc.nat({ max: 15 });
  const pos = fc.nat();
  return fc.record({
    seed: fc.nat({ max: Math.max(0, count - 1) }),
    truncate: fc.option(fc.nat({ max: 10000 }), { freq: 4 }).map((x) => x ?? undefined),
    flips: fc.array(fc.tuple(region, pos, fc.nat({ max: 7 })), { maxLength: 6 }),
    writes: fc.array(
      fc.tuple(region, pos, fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const), fc.nat()),
      {
        maxLength: 4,
      },
    ),
  });
}

// --- ELF seeds -----------------------------------------------------------

/** Hot ranges of an ELF64 LE file: its header, program and section header tables, and note sections. */
function elfHot(b: Buffer): Array<[number, number]> {
  const hot: Array<[number, number]> = [[0, 64]];
  if (b.length < 64) return hot;
  const phoff = Number(b.readBigUInt64LE(32));
  const shoff = Number(b.readBigUInt64LE(40));
  const phnum = b.readUInt16LE(56);
  const shnum = b.readUInt16LE(60);
  const shstrndx = b.readUInt16LE(62);
  if (phoff > 0) hot.push([phoff, Math.min(b.length, phoff + phnum * 56)]);
  if (shoff > 0) hot.push([shoff, Math.min(b.length, shoff + shnum * 64)]);
  for (let i = 0; i < shnum && shoff + (i + 1) * 64 <= b.length; i++) {
    const o = shoff + i * 64;
    const type = b.readUInt32LE(o + 4);
    const off = Number(b.readBigUInt64LE(o + 24));
    const size = Number(b.readBigUInt64LE(o + 32));
    // notes, symbol tables (their first entries), the section name table, .BTF-ish progbits
    if (type === 7 || type === 2 || type === 11 || i === shstrndx)
      hot.push([off, Math.min(b.length, off + Math.min(size, 4096))]);
  }
  return hot.filter(([a, z]) => z > a);
}

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

/** A small BPF object tsbpf built (dist/tools/*.bpf.o), if the build made one. */
export function bpfObjectPath(): string | undefined {
  const dir = join(packageRoot(), "dist", "tools");
  if (!existsSync(dir)) return undefined;
  const objs = readdirSync(dir)
    .filter((f) => f.endsWith(".bpf.o"))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(a).size - statSync(b).size);
  return objs[0];
}

let elfSeedCache: Seed[] | undefined;

/** /bin/ls, a BPF object, and a library with USDT notes (libstdc++), those present. */
export function elfSeeds(): Seed[] {
  if (elfSeedCache) return elfSeedCache;
  const paths = [
    firstExisting(["/bin/ls", "/usr/bin/ls"]),
    bpfObjectPath(),
    firstExisting(["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6"]),
  ].filter((p): p is string => p !== undefined);
  elfSeedCache = paths.map((p) => {
    const bytes = readFileSync(p);
    return { name: p, bytes, hot: elfHot(bytes) };
  });
  return elfSeedCache;
}

// --- BTF seeds -----------------------------------------------------------

/**
 * The first `maxTypes` types of a (little-endian) BTF blob, with the whole
 * string section: still valid BTF as long as those types refer only to each
 * other, which holds for vmlinux's first types often enough (and where it
 * does not, the reader must say so with a BtfError).
 */
export function btfSlice(raw: Buffer, maxTypes: number): Buffer {
  const hdrLen = raw.readUInt32LE(4);
  const typeOff = raw.readUInt32LE(8);
  const typeLen = raw.readUInt32LE(12);
  const strOff = raw.readUInt32LE(16);
  const strLen = raw.readUInt32LE(20);
  const base = hdrLen + typeOff;
  let p = base;
  const starts: number[] = [];
  for (let n = 0; n < maxTypes && p + 12 <= base + typeLen; n++) {
    starts.push(p);
    const info = raw.readUInt32LE(p + 4);
    p += 12 + btfTypeExtraBytes((info >>> 24) & 0x1f, info & 0xffff);
  }
  const types = Buffer.from(raw.subarray(base, p));
  // References to types past the slice become void (id 0).
  const count = starts.length;
  const fix = (o: number) => {
    if (types.readUInt32LE(o) > count) types.writeUInt32LE(0, o);
  };
  for (const start of starts) {
    const t = start - base;
    const info = types.readUInt32LE(t + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    if ([2, 8, 9, 10, 11, 12, 13, 14, 17, 18].includes(kind)) fix(t + 8);
    if (kind === 3) {
      fix(t + 12);
      fix(t + 16);
    }
    if (kind === 4 || kind === 5) for (let k = 0; k < vlen; k++) fix(t + 12 + k * 12 + 4);
    if (kind === 13) for (let k = 0; k < vlen; k++) fix(t + 12 + k * 8 + 4);
    if (kind === 15) for (let k = 0; k < vlen; k++) fix(t + 12 + k * 12);
  }
  const strings = raw.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
  const hdr = Buffer.from(raw.subarray(0, hdrLen));
  hdr.writeUInt32LE(0, 8);
  hdr.writeUInt32LE(types.length, 12);
  hdr.writeUInt32LE(types.length, 16);
  hdr.writeUInt32LE(strings.length, 20);
  return Buffer.concat([hdr, types, strings]);
}

/** The .BTF section of an ELF object. */
export function btfSection(elf: Buffer): Buffer | undefined {
  const shoff = Number(elf.readBigUInt64LE(40));
  const shnum = elf.readUInt16LE(60);
  const shstrndx = elf.readUInt16LE(62);
  const sh = (i: number) => shoff + i * 64;
  const strOff = Number(elf.readBigUInt64LE(sh(shstrndx) + 24));
  for (let i = 0; i < shnum; i++) {
    const nameOff = elf.readUInt32LE(sh(i));
    const end = elf.indexOf(0, strOff + nameOff);
    if (elf.toString("latin1", strOff + nameOff, end) !== ".BTF") continue;
    const off = Number(elf.readBigUInt64LE(sh(i) + 24));
    const size = Number(elf.readBigUInt64LE(sh(i) + 32));
    return Buffer.from(elf.subarray(off, off + size));
  }
  return undefined;
}

function btfHot(b: Buffer): Array<[number, number]> {
  if (b.length < 24) return [[0, b.length]];
  const hdrLen = b.readUInt32LE(4);
  const typeOff = b.readUInt32LE(8);
  const typeLen = b.readUInt32LE(12);
  const start = hdrLen + typeOff;
  return [
    [0, 24],
    [start, Math.min(b.length, start + Math.min(typeLen, 2048))],
  ];
}

let btfSeedCache: Seed[] | undefined;

/** The .BTF of a BPF object tsbpf built, and the first 300 types of the kernel's vmlinux BTF, those present. */
export function btfSeeds(): Seed[] {
  if (btfSeedCache) return btfSeedCache;
  const out: Seed[] = [];
  const obj = bpfObjectPath();
  const fromObj = obj ? btfSection(readFileSync(obj)) : undefined;
  if (fromObj) out.push({ name: `${obj} .BTF`, bytes: fromObj, hot: btfHot(fromObj) });
  if (existsSync("/sys/kernel/btf/vmlinux")) {
    try {
      const slice = btfSlice(readFileSync("/sys/kernel/btf/vmlinux"), 300);
      out.push({ name: "/sys/kernel/btf/vmlinux (first 300 types)", bytes: slice, hot: btfHot(slice) });
    } catch {
      // unreadable: the object's BTF alone
    }
  }
  btfSeedCache = out;
  return out;
}
