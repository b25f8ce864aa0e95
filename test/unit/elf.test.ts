/**
 * The ELF reader, /proc parsers and demangler on files built here with gcc,
 * cross-checked against binutils (readelf, objcopy, c++filt).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as zlib from "node:zlib";
import {
  clearElfCache,
  type ElfSymbol,
  elfSymbols,
  elfSymbolsMatching,
  FunctionIndex,
  fileOffsetToAddr,
  findElfSymbol,
  PT_LOAD,
  readElf,
  readElfSymbols,
  symbolToFileOffset,
} from "../../src/elf/elf.js";
import { demangle, parsePerfMap, parseProcMaps } from "../../src/elf/procmaps.js";
import { ElfError, PermissionError } from "../../src/kernel/errors.js";
import { Kallsyms } from "../../src/kernel/kallsyms.js";

const hasGcc = spawnSync("gcc", ["--version"]).status === 0;
const hasReadelf = spawnSync("readelf", ["--version"]).status === 0;
const noTools = hasGcc && hasReadelf ? false : "needs gcc and readelf (binutils)";

const PROG = `
#include <stdio.h>
int func_a(int x) { return x * 2 + 1; }
int func_b(int x) {
  int s = 0;
  for (int i = 0; i < x; i++) s += func_a(i);
  return s;
}
int main(void) { printf("%d\\n", func_b(3)); return 0; }
`;

/** readelf -sW: the symbol's value, size and type, as readelf sees them. */
function readelfSymbol(
  path: string,
  name: string,
): { value: bigint; size: bigint; type: string; bind: string } {
  for (const line of execFileSync("readelf", ["-sW", path], { encoding: "utf8" }).split("\n")) {
    const f = line.trim().split(/\s+/);
    // Num: Value Size Type Bind Vis Ndx Name
    if (f.length >= 8 && f[7] === name) {
      return {
        value: BigInt(`0x${f[1]}`),
        size: BigInt(f[2] as string),
        type: f[3] as string,
        bind: f[4] as string,
      };
    }
  }
  throw new Error(`readelf does not list ${name} in ${path}`);
}

/** readelf -lW: the LOAD program headers. */
function readelfLoads(path: string): { offset: bigint; vaddr: bigint; filesz: bigint; flags: string }[] {
  const out = [];
  for (const line of execFileSync("readelf", ["-lW", path], { encoding: "utf8" }).split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== "LOAD") continue;
    out.push({
      offset: BigInt(f[1] as string),
      vaddr: BigInt(f[2] as string),
      filesz: BigInt(f[4] as string),
      flags: f.slice(6, -1).join(""),
    });
  }
  return out;
}

describe("ELF reader on gcc-built binaries", { skip: noTools }, () => {
  let dir = "";
  const bins: Record<string, string> = {};

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsbpf-elf-"));
    writeFileSync(join(dir, "prog.c"), PROG);
    bins.pie = join(dir, "prog-pie");
    bins.nopie = join(dir, "prog-nopie");
    execFileSync("gcc", ["-O0", "-g", "-pie", "-fPIE", "-o", bins.pie, join(dir, "prog.c")]);
    execFileSync("gcc", ["-O0", "-g", "-no-pie", "-fno-PIE", "-o", bins.nopie, join(dir, "prog.c")]);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of ["pie", "nopie"] as const) {
    it(`${kind}: headers, type, build-id and interpreter`, () => {
      const path = bins[kind] as string;
      const elf = readElf(path);
      assert.equal(elf.type, kind === "pie" ? "DYN" : "EXEC");
      assert.equal(elf.machine, 62);
      assert.ok(elf.sections.some((s) => s.name === ".text"));
      assert.ok(elf.sections.some((s) => s.name === ".symtab"));
      assert.match(elf.interpreter ?? "", /ld-linux-x86-64\.so\.2$/);
      const notes = execFileSync("readelf", ["-n", path], { encoding: "utf8" });
      const id = /Build ID: ([0-9a-f]+)/.exec(notes)?.[1];
      assert.equal(elf.buildId, id);
      const loads = readelfLoads(path);
      const mine = elf.segments.filter((s) => s.type === PT_LOAD);
      assert.deepEqual(
        mine.map((s) => [s.offset, s.vaddr, s.filesz]),
        loads.map((l) => [l.offset, l.vaddr, l.filesz]),
      );
    });

    it(`${kind}: func_a and func_b with readelf's values, sizes and file offsets`, () => {
      const path = bins[kind] as string;
      const elf = readElf(path);
      const loads = readelfLoads(path);
      for (const name of ["func_a", "func_b", "main"]) {
        const sym = findElfSymbol(path, name);
        assert.ok(sym, `${name} found`);
        const ref = readelfSymbol(path, name);
        assert.equal(sym.value, ref.value);
        assert.equal(sym.size, ref.size);
        assert.ok(sym.size > 0n);
        assert.equal(sym.type, "FUNC");
        assert.equal(sym.binding, "GLOBAL");
        assert.equal(sym.table, "symtab");
        // What readelf -l implies: the LOAD segment holding the address.
        const seg = loads.find((l) => l.vaddr <= ref.value && ref.value < l.vaddr + l.filesz);
        assert.ok(seg);
        assert.match(seg.flags, /E/, "functions live in an executable segment");
        const off = symbolToFileOffset(elf, sym);
        assert.equal(off, ref.value - seg.vaddr + seg.offset);
        assert.equal(fileOffsetToAddr(elf, off), sym.value);
        if (kind === "pie") assert.equal(off, sym.value, "gcc's PIEs map file offset = vaddr");
      }
      // The bytes at func_a's file offset are func_a's code: endbr64 or push %rbp.
      const a = findElfSymbol(path, "func_a") as ElfSymbol;
      const code = readFileSync(path).subarray(Number(symbolToFileOffset(elf, a)));
      assert.ok(code[0] === 0x55 || code.subarray(0, 4).equals(Buffer.from([0xf3, 0x0f, 0x1e, 0xfa])));
    });
  }

  it("elfSymbols caches per file and filters", () => {
    const path = bins.pie as string;
    const all = elfSymbols(path);
    assert.equal(elfSymbols(path), all, "cached: the same frozen array");
    assert.ok(Object.isFrozen(all));
    const fns = elfSymbols(path, { types: ["FUNC"], definedOnly: true, table: "symtab" });
    assert.ok(fns.every((s) => s.type === "FUNC" && s.shndx !== 0 && s.table === "symtab"));
    assert.ok(fns.some((s) => s.name === "func_b"));
    // .dynsym of a PIE lists printf as undefined.
    const printf = all.find((s) => s.table === "dynsym" && s.name === "printf");
    assert.ok(printf);
    assert.equal(printf.shndx, 0);
    assert.throws(() => symbolToFileOffset(readElf(path), printf), /undefined/);
  });

  it("elfSymbolsMatching finds what elfSymbols lists for those names or that RegExp, in its order", () => {
    // gcc's binaries here, node's own (260,000 symbols: the lookup that must not read them all),
    // bash, and libc (stripped: its debug file's symbols first when libc6-dbg is there)
    const libc = readFileSync("/proc/self/maps", "utf8").match(/\/\S*\/libc\.so\.6$/m)?.[0];
    const files = [bins.pie as string, bins.nopie as string, process.execPath, "/bin/bash", libc].filter(
      (f): f is string => f !== undefined && existsSync(f),
    );
    const show = (a: readonly ElfSymbol[]): string =>
      JSON.stringify(a, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
    for (const file of files) {
      clearElfCache();
      const all = elfSymbols(file);
      const names = [all[1]?.name, all[Math.floor(all.length / 2)]?.name, all.at(-1)?.name, "main", "malloc"];
      const cases: Array<string[] | RegExp> = [
        ...names.filter((n): n is string => !!n).map((n) => [n]),
        ["malloc", "free", "no_such_function_here"],
        ["no_such_function_here"],
        [],
        /^mem/,
      ];
      for (const match of cases) {
        const want = all.filter((s) =>
          match instanceof RegExp ? match.test(s.name) : match.includes(s.name),
        );
        // read by its own scan (nothing cached), then again (its answer cached), then from elfSymbols' table
        clearElfCache();
        assert.equal(show(elfSymbolsMatching(file, match)), show(want), `${file}: ${match}`);
        assert.equal(show(elfSymbolsMatching(file, match)), show(want), `${file}: ${match}, again`);
        elfSymbols(file);
        assert.equal(show(elfSymbolsMatching(file, match)), show(want), `${file}: ${match}, from the table`);
      }
    }
  });

  it("a rebuilt file is read again (the cache keys on inode and mtime)", () => {
    const path = join(dir, "rebuilt");
    execFileSync("gcc", ["-O0", "-o", path, "-x", "c", "-"], {
      input: "int only_here(void){return 1;} int main(void){return only_here();}",
    });
    assert.ok(elfSymbols(path).some((s) => s.name === "only_here"));
    rmSync(path);
    execFileSync("gcc", ["-O0", "-o", path, "-x", "c", "-"], {
      input: "int now_this(void){return 2;} int main(void){return now_this();}",
    });
    const names = elfSymbols(path).map((s) => s.name);
    assert.ok(names.includes("now_this"));
    assert.ok(!names.includes("only_here"));
  });

  it("parses .gnu_debuglink (objcopy --add-gnu-debuglink)", { skip: !existsSync("/usr/bin/objcopy") }, () => {
    const dbg = join(dir, "prog.debug");
    const linked = join(dir, "prog-linked");
    execFileSync("objcopy", ["--only-keep-debug", bins.pie as string, dbg]);
    execFileSync("objcopy", [`--add-gnu-debuglink=${dbg}`, bins.pie as string, linked]);
    const elf = readElf(linked);
    assert.equal(elf.debuglink?.file, "prog.debug");
    const crc32 = (zlib as unknown as { crc32?: (b: Buffer) => number }).crc32;
    if (crc32) assert.equal(elf.debuglink?.crc, crc32(readFileSync(dbg)));
    assert.equal(readElf(bins.pie as string).debuglink, undefined);
  });

  it("reads an in-memory image the same as the file", () => {
    const path = bins.nopie as string;
    const fromFile = readElf(path);
    const fromBuf = readElf(readFileSync(path), "image");
    assert.equal(fromBuf.path, "image");
    assert.deepEqual({ ...fromBuf, path: "" }, { ...fromFile, path: "" });
    assert.deepEqual(readElfSymbols(readFileSync(path)), readElfSymbols(path));
  });

  it("rejects what is not ELF64 little-endian, saying why", () => {
    const junk = join(dir, "junk");
    writeFileSync(junk, "#!/bin/sh\necho hi\n".padEnd(80, " "));
    assert.throws(() => readElf(junk), /not an ELF file/);
    const elf32 = Buffer.from(readFileSync(bins.pie as string));
    elf32[4] = 1;
    assert.throws(() => readElf(elf32), /32-bit/);
    assert.throws(() => readElf(join(dir, "missing")), /cannot open/);
    assert.throws(() => readElf(readFileSync(bins.pie as string).subarray(0, 100)), /truncated/);
  });
});

/**
 * A minimal ELF64 LE relocatable: a null section, one section of `type` with
 * `data` (its size in the header may be overridden) and .shstrtab.
 */
function tinyElf(type: number, data: Buffer, size = BigInt(data.length)): Buffer {
  const shstr = Buffer.from("\0.sec\0.shstrtab\0", "latin1");
  const dataOff = 64;
  const strOff = dataOff + data.length;
  const shoff = (strOff + shstr.length + 7) & ~7;
  const out = Buffer.alloc(shoff + 3 * 64);
  out.writeUInt32BE(0x7f454c46, 0);
  out[4] = 2; // ELF64
  out[5] = 1; // little-endian
  out[6] = 1;
  out.writeUInt16LE(1, 16); // REL
  out.writeUInt16LE(62, 18);
  out.writeBigUInt64LE(BigInt(shoff), 40);
  out.writeUInt16LE(64, 52);
  out.writeUInt16LE(64, 58);
  out.writeUInt16LE(3, 60);
  out.writeUInt16LE(2, 62);
  data.copy(out, dataOff);
  shstr.copy(out, strOff);
  const sh = (i: number, name: number, t: number, off: number, sz: bigint, link = 0, entsize = 0n) => {
    const o = shoff + i * 64;
    out.writeUInt32LE(name, o);
    out.writeUInt32LE(t, o + 4);
    out.writeBigUInt64LE(BigInt(off), o + 24);
    out.writeBigUInt64LE(sz, o + 32);
    out.writeUInt32LE(link, o + 40);
    out.writeBigUInt64LE(4n, o + 48);
    out.writeBigUInt64LE(entsize, o + 56);
  };
  sh(1, 1, type, dataOff, size, 2, type === 2 ? 24n : 0n);
  sh(2, 6, 3, strOff, BigInt(shstr.length));
  return out;
}

describe("ELF reader on corrupt files (fuzzed)", () => {
  it("skips a note whose name size wraps past 2^31 instead of reading before the section", () => {
    // namesz 0xfffffff0 rounded up with 32-bit bit operations became -16: the next
    // note was read at offset -4 (a RangeError); with 0xfffffff4 the reader looped forever.
    for (const namesz of [0xfffffff0, 0xfffffff4]) {
      const note = Buffer.alloc(16);
      note.writeUInt32LE(namesz, 0);
      note.writeUInt32LE(0, 4);
      note.writeUInt32LE(3, 8);
      const elf = readElf(tinyElf(7, note), "notes");
      assert.equal(elf.buildId, undefined);
      assert.deepEqual(elf.usdt, []);
    }
  });

  it("says a section runs past the end of the file before allocating it (fd reader)", () => {
    // A symbol table claiming 2^40 bytes made Buffer.allocUnsafe throw a RangeError.
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-elf-"));
    try {
      const path = join(dir, "huge-symtab.o");
      writeFileSync(path, tinyElf(2, Buffer.alloc(48), 1n << 40n));
      const elf = readElf(path);
      assert.throws(
        () => readElfSymbols(path, elf),
        (e: unknown) => e instanceof ElfError && /truncated/.test((e as Error).message),
      );
      assert.throws(() => readElfSymbols(readFileSync(path), elf), ElfError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const SDT_PROG = `
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
__extension__ unsigned short myprov_myprobe_semaphore __attribute__((unused)) __attribute__((section(".probes")));
__extension__ unsigned short myprov_other_semaphore __attribute__((unused)) __attribute__((section(".probes")));
int main(int argc, char **argv) {
  int x = argc;
  long y = (long)argv;
  DTRACE_PROBE2(myprov, myprobe, x, y);
  DTRACE_PROBE(myprov, other);
  printf("%d\\n", x);
  return 0;
}
`;

function sdtAvailable(): boolean {
  if (!hasGcc) return false;
  const r = spawnSync("gcc", ["-E", "-x", "c", "-"], { input: "#include <sys/sdt.h>\n" });
  return r.status === 0;
}

describe(".note.stapsdt (USDT)", {
  skip: noTools || (sdtAvailable() ? false : "no sys/sdt.h (systemtap-sdt-dev)"),
}, () => {
  let dir = "";
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const pie of [true, false]) {
    it(`parses DTRACE_PROBE2 notes like readelf -n (${pie ? "PIE" : "no-pie"})`, () => {
      dir ||= mkdtempSync(join(tmpdir(), "tsbpf-sdt-"));
      const src = join(dir, "sdt.c");
      const bin = join(dir, pie ? "sdt-pie" : "sdt-nopie");
      writeFileSync(src, SDT_PROG);
      execFileSync("gcc", [
        "-O0",
        "-g",
        ...(pie ? ["-pie", "-fPIE"] : ["-no-pie", "-fno-PIE"]),
        "-o",
        bin,
        src,
      ]);
      const elf = readElf(bin);
      assert.equal(elf.usdt.length, 2);
      const [p, o] = elf.usdt;
      assert.ok(p && o);
      assert.equal(p.provider, "myprov");
      assert.equal(p.name, "myprobe");
      assert.match(p.args, /^-?\d@\S+ -?\d@\S+$/, `two argument specs, got "${p.args}"`);
      assert.match(p.args, /^-4@/, "x is a 4-byte signed int");
      assert.equal(o.name, "other");
      assert.equal(o.args, "");

      // readelf -n prints Location, Base, Semaphore and Arguments per probe.
      const text = execFileSync("readelf", ["-n", bin], { encoding: "utf8" });
      const blocks = text.split(/Provider: /).slice(1);
      assert.equal(blocks.length, 2);
      const b = blocks[0] as string;
      assert.match(b, /^myprov\s+Name: myprobe/);
      const loc = /Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)/.exec(b);
      assert.ok(loc);
      assert.equal(p.pc, BigInt(loc[1] as string));
      assert.equal(p.base, BigInt(loc[2] as string));
      assert.equal(p.semaphore, BigInt(loc[3] as string));
      assert.equal(p.args, /Arguments: (.*)/.exec(b)?.[1]?.trim());

      // No prelink: the adjusted address is the recorded one; it lies in code.
      assert.equal(p.address, p.pc);
      assert.equal(p.fileOffset, symbolToFileOffset(elf, p.pc));
      // The semaphore is the variable of that name, in .probes.
      const sema = findElfSymbol(bin, "myprov_myprobe_semaphore");
      assert.ok(sema);
      assert.equal(p.semaphoreAddress, sema.value);
      const probes = elf.sections.find((s) => s.name === ".probes");
      assert.ok(probes);
      assert.equal(p.semaphoreOffset, sema.value - probes.addr + BigInt(probes.offset));
    });
  }
});

describe("FunctionIndex", () => {
  const fn = (
    name: string,
    value: number,
    size: number,
    binding: ElfSymbol["binding"] = "GLOBAL",
  ): ElfSymbol => ({
    name,
    value: BigInt(value),
    size: BigInt(size),
    type: "FUNC",
    binding,
    visibility: 0,
    shndx: 1,
    table: "symtab",
  });

  it("finds the innermost function holding an address, within its size", () => {
    // bcc's example: bar nests in foo.
    const idx = new FunctionIndex([
      fn("goo", 0x100, 6),
      fn("foo", 0x106, 0x10),
      fn("bar", 0x108, 4),
      fn("baz", 0x116, 0x10),
    ]);
    assert.equal(idx.lookup(0x100n)?.name, "goo");
    assert.equal(idx.lookup(0x105n)?.offset, 5n);
    assert.equal(idx.lookup(0x109n)?.name, "bar");
    assert.deepEqual([idx.lookup(0x112n)?.name, idx.lookup(0x112n)?.offset], ["foo", 0xcn]);
    assert.equal(idx.lookup(0x125n)?.name, "baz");
    assert.equal(idx.lookup(0x126n), undefined, "past the last function's end");
    assert.equal(idx.lookup(0xffn), undefined, "before the first");
  });

  it("prefers the public name among aliases, and covers the first byte of a zero-sized symbol", () => {
    const idx = new FunctionIndex([
      fn("__getpid", 0x200, 8),
      fn("getpid", 0x200, 8, "WEAK"),
      fn("__libc_local", 0x300, 4, "LOCAL"),
      fn("_start", 0x400, 0),
      { ...fn("data", 0x500, 8), type: "OBJECT" },
      { ...fn("undef", 0x600, 8), shndx: 0 },
    ]);
    assert.equal(idx.lookup(0x203n)?.name, "getpid");
    assert.equal(idx.lookup(0x300n)?.name, "__libc_local");
    assert.equal(idx.lookup(0x400n)?.name, "_start");
    assert.equal(idx.lookup(0x401n), undefined);
    assert.equal(idx.lookup(0x500n), undefined, "objects are not functions");
    assert.equal(idx.lookup(0x600n), undefined, "undefined symbols are skipped");
  });

  it("handles kernel-style addresses above 2^53", () => {
    const exact = new FunctionIndex([
      { ...fn("vfs_read", 0, 0x1b0), value: 0xffffffff816bab70n },
      { ...fn("vfs_write", 0, 0x10), value: 0xffffffff816bad20n },
    ]);
    assert.equal(exact.size, 2);
    assert.deepEqual(
      [exact.lookup(0xffffffff816bab80n)?.name, exact.lookup(0xffffffff816bab80n)?.offset],
      ["vfs_read", 0x10n],
    );
    assert.equal(exact.lookup(0xffffffff816bad2fn)?.name, "vfs_write");
    assert.equal(exact.lookup(0xffffffff816bad30n), undefined);
    assert.equal(exact.lookup(0x1000n), undefined);
  });
});

describe("/proc/PID/maps parser", () => {
  it("parses ranges, permissions, offsets, devices, inodes, paths and (deleted)", () => {
    const maps = parseProcMaps(
      [
        "55d0c5a00000-55d0c5a01000 r--p 00000000 fe:01 1234567                    /usr/bin/prog",
        "55d0c5a01000-55d0c5a02000 r-xp 00001000 fe:01 1234567                    /usr/bin/prog",
        "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 ",
        "7f1000000000-7f1000001000 r-xs 00002000 08:02 42                         /tmp/with space/lib.so (deleted)",
        "7ffd1c3e2000-7ffd1c3e4000 r-xp 00000000 00:00 0                          [vdso]",
        "garbage",
      ].join("\n"),
    );
    assert.equal(maps.length, 5);
    const [a, b, anon, del, vdso] = maps;
    assert.ok(a && b && anon && del && vdso);
    assert.equal(a.start, 0x55d0c5a00000n);
    assert.equal(a.end, 0x55d0c5a01000n);
    assert.deepEqual([a.read, a.write, a.exec, a.shared], [true, false, false, false]);
    assert.equal(b.offset, 0x1000n);
    assert.equal(b.dev, "fe:01");
    assert.equal(b.inode, 1234567);
    assert.equal(b.path, "/usr/bin/prog");
    assert.equal(anon.path, "");
    assert.equal(del.path, "/tmp/with space/lib.so");
    assert.ok(del.deleted && del.shared && del.exec);
    assert.equal(vdso.path, "[vdso]");
  });
});

describe("perf-PID.map parser", () => {
  it("reads START SIZE name lines, CRLF ones and names with any character (fuzzed)", () => {
    // A CRLF line, or a name holding U+2028, did not match `(.*)$` and was dropped.
    const text = "7f0000001000 20 LazyCompile:~f /a.js:1\r\n0x7f0000000000 0x10 JS:*g\u2028x\nnot a line\n";
    assert.deepEqual(parsePerfMap(text), [
      { start: 0x7f0000000000n, end: 0x7f0000000010n, name: "JS:*g\u2028x", line: 1 },
      { start: 0x7f0000001000n, end: 0x7f0000001020n, name: "LazyCompile:~f /a.js:1", line: 0 },
    ]);
  });
});

describe("/proc/kallsyms parser", () => {
  const TEXT = [
    "0000000000000000 A fixed_percpu_data",
    "ffffffff81000000 T _stext",
    "ffffffff81000000 t startup_64",
    "ffffffff81001000 T do_one",
    "ffffffff81002000 D some_data",
    "ffffffff81003000 t helper",
    "ffffffffc0201000 t ext4_thing\t[ext4]",
    "ffffffffc0200000 T ext4_init\t[ext4]",
    "ffffffffc0300000 t bpf_prog_6deef7357e7b4530_sd_fw_ingress\t[bpf]",
    "ffffffff81003000 t helper_dup",
    "",
  ].join("\n");

  it("resolves addresses to the nearest code symbol at or below, with module", () => {
    const k = new Kallsyms(TEXT);
    assert.equal(k.size, 10);
    assert.deepEqual(k.lookup(0xffffffff81000010n), {
      name: "_stext",
      offset: 0x10n,
      module: "kernel",
      address: 0xffffffff81000000n,
      type: "T",
    });
    assert.equal(k.lookup(0xffffffff81001fffn)?.name, "do_one");
    // Data symbols are skipped, as in bcc: this is still do_one.
    assert.equal(k.lookup(0xffffffff81002008n)?.name, "do_one");
    // Same address, no global: the first listed.
    assert.equal(k.lookup(0xffffffff81003004n)?.name, "helper");
    // Out of order lines (modules) are sorted.
    assert.deepEqual(
      [k.lookup(0xffffffffc0200004n)?.name, k.lookup(0xffffffffc0200004n)?.module],
      ["ext4_init", "ext4"],
    );
    assert.equal(k.lookup(0xffffffffc0201001n)?.name, "ext4_thing");
    assert.equal(k.lookup(0xffffffffc0300000n)?.module, "bpf");
    assert.equal(k.lookup(0xffffffff80ffffffn), undefined, "below the first symbol");
    assert.equal(k.lookup(0x10n), undefined, "per-CPU and user addresses are not kernel text");
  });

  it("finds addresses by name, data symbols too; the last of duplicates wins", () => {
    const k = new Kallsyms(`${TEXT}ffffffff81004000 t do_one\n`);
    assert.equal(k.addressOf("some_data"), 0xffffffff81002000n);
    assert.equal(k.addressOf("do_one"), 0xffffffff81004000n);
    assert.equal(k.addressOf("nope"), undefined);
    assert.equal([...k].length, 11);
  });

  it("says why when addresses are hidden (kptr_restrict)", () => {
    const hidden = "0000000000000000 T _stext\n0000000000000000 T do_one\n";
    assert.throws(
      () => new Kallsyms(hidden),
      (err: unknown) => {
        assert.ok(err instanceof PermissionError);
        assert.match(err.message, /reads as 0.*CAP_SYSLOG.*kptr_restrict/);
        return true;
      },
    );
  });
});

const SAMPLES: [string, string][] = [
  ["_Z6func_bi", "func_b(int)"],
  ["_ZN3foo3barEv", "foo::bar()"],
  ["_ZNK3foo3barEPKcRKSs", "foo::bar(char const*, std::string const&) const"],
  ["_ZN2ns5KlassC2Ei", "ns::Klass::Klass(int)"],
  ["_ZN2ns5KlassD0Ev", "ns::Klass::~Klass()"],
  ["_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector<int, std::allocator<int> >::push_back(int const&)"],
  ["_Z1fIiEvT_", "void f<int>(int)"],
  ["_ZlsRSoRK3Foo", "operator<<(std::ostream&, Foo const&)"],
  ["_Z1fIXadL_Z1gvEEEvv", "void f<&(g())>()"],
  ["_Z1fPFviEPA10_i", "f(void (*)(int), int (*) [10])"],
  ["_Z1fM1AFivE", "f(int (A::*)())"],
  ["_ZTV3Foo", "vtable for Foo"],
  ["_ZTI3Foo", "typeinfo for Foo"],
  ["_ZThn8_N3Foo3barEv", "non-virtual thunk to Foo::bar()"],
  ["_ZGVZ4mainE1x", "guard variable for main::x"],
  ["_ZZ4mainENKUlvE_clEv", "main::{lambda()#1}::operator()() const"],
  ["_ZN12_GLOBAL__N_13fooEv", "(anonymous namespace)::foo()"],
  ["_Z3foov.constprop.0", "foo() [clone .constprop.0]"],
  ["_Z3foov.isra.0.cold", "foo() [clone .isra.0] [clone .cold]"],
  ["_ZN3fooB5cxx11Ev", "foo[abi:cxx11]()"],
  ["_Z1fILi3ELb1EEvv", "void f<3, true>()"],
  [
    "_ZSt11make_sharedIiJiEESt10shared_ptrIT_EDpOT0_",
    "std::shared_ptr<int> std::make_shared<int, int>(int&&)",
  ],
];

/**
 * c++filt prints the standard library's abbreviations (Ss, So, …) in full;
 * libstdc++'s demangler, which tsbpf uses as bcc does, keeps them short
 * (except as the class of a constructor): both are compared in short form.
 */
function abbreviated(cxxfilt: string): string {
  return cxxfilt
    .replaceAll("std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string")
    .replaceAll("std::basic_iostream<char, std::char_traits<char> >", "std::iostream")
    .replaceAll("std::basic_istream<char, std::char_traits<char> >", "std::istream")
    .replaceAll("std::basic_ostream<char, std::char_traits<char> >", "std::ostream")
    .replace(/(std::(?:string|iostream|istream|ostream)) >/g, "$1>");
}

describe("demangle", () => {
  it("prints what bcc prints (libstdc++'s demangler)", () => {
    for (const [mangled, want] of SAMPLES) assert.equal(demangle(mangled), want, mangled);
  });

  it("leaves C names and malformed names unchanged", () => {
    for (const s of ["main", "func_b", "_Z", "_Zfoo", "_Z3foov.Bad"]) assert.equal(demangle(s), s);
  });

  const libstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
  const cxxfilt = spawnSync("c++filt", ["--version"]).status === 0;
  it("agrees with c++filt on every libstdc++ symbol, but for the standard abbreviations", {
    skip: existsSync(libstdcxx) && cxxfilt ? false : "needs libstdc++ and c++filt",
  }, () => {
    const names = [...new Set(readElfSymbols(libstdcxx).map((s) => s.name))].filter((n) =>
      n.startsWith("_Z"),
    );
    const ref = execFileSync("c++filt", { input: `${names.join("\n")}\n`, maxBuffer: 1 << 28 })
      .toString()
      .split("\n");
    for (const [i, n] of names.entries())
      assert.equal(abbreviated(demangle(n)), abbreviated(ref[i] as string), n);
  });
});
