/**
 * Separate debug files (src/elf/debuginfo.ts) for binaries built here with
 * gcc and split with binutils (objcopy --only-keep-debug, strip,
 * objcopy --add-gnu-debuglink): found by build-id, by .gnu_debuglink (CRC
 * checked) and through BCC_SYMFS; the reverse lookups resolveName and
 * getUserAddresses; bad debug files falling back to the binary's own
 * symbols. Addresses are checked against nm on the unstripped binary.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as zlib from "node:zlib";
import { debugFileCandidates, debugInfoRoot, symfsPath } from "../../src/elf/debuginfo.js";
import { clearElfCache, elfDebugFile, elfFunctionIndex, elfSymbols, readElf } from "../../src/elf/elf.js";
import {
  forgetProcessSymbols,
  getUserAddresses,
  getUserFunctionsAndAddresses,
  readProcMaps,
  resolveName,
  sym,
} from "../../src/elf/procmaps.js";
import { ElfError } from "../../src/kernel/errors.js";
import { testTempDir } from "../helpers.js";

const missing = ["gcc", "objcopy", "strip", "nm"].filter((t) => spawnSync(t, ["--version"]).status !== 0);
const noTools = missing.length === 0 ? false : `needs ${missing.join(", ")} (gcc and binutils)`;

const PROG = `
#include <stdio.h>
#ifdef VARIANT
int variant_pad(int x) { return x + 41; }
#endif
static int __attribute__((noinline)) hidden_alpha(int x) { return x * 3 + 1; }
static int __attribute__((noinline)) hidden_beta(int x) { return hidden_alpha(x) - 2; }
static int __attribute__((noinline)) other_gamma(int x) { return hidden_beta(x) ^ 5; }
int exported_fn(int x) { return other_gamma(x); }
#ifndef LIB
int main(int argc, char **argv) {
  (void)argv;
  printf("%d\\n", exported_fn(argc));
  fflush(stdout);
  return getchar() == EOF ? 0 : 1;
}
#endif
`;

const STATICS = ["hidden_alpha", "hidden_beta", "other_gamma"] as const;
const ENV_VARS = ["TSBPF_DEBUGINFO_ROOT", "BCC_DEBUGINFO_ROOT", "BCC_SYMFS"] as const;
type EnvVar = (typeof ENV_VARS)[number];

/** Runs fn with exactly these of the three variables set (the others unset), then restores them. */
function withEnv<T>(vars: Partial<Record<EnvVar, string>>, fn: () => T): T {
  const saved = ENV_VARS.map((k) => [k, process.env[k]] as const);
  try {
    for (const k of ENV_VARS) delete process.env[k];
    for (const [k, v] of Object.entries(vars)) if (v !== undefined) process.env[k] = v;
    return fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** nm's text symbols of an unstripped binary: name → link-time address. */
function nmAddresses(path: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of execFileSync("nm", [path], { encoding: "utf8" }).split("\n")) {
    const m = /^([0-9a-f]+) [tTwW] (\S+)$/.exec(line);
    if (m) out.set(m[2] as string, BigInt(`0x${m[1]}`));
  }
  return out;
}

/** Ascending, as getUserAddresses returns them. */
function ascending(...xs: (bigint | undefined)[]): (bigint | undefined)[] {
  return [...xs].sort((a, b) => (a === b ? 0 : (a ?? -1n) < (b ?? -1n) ? -1 : 1));
}

function buildIdPath(root: string, id: string): string {
  return join(root, ".build-id", id.slice(0, 2), `${id.slice(2)}.debug`);
}

describe("separate debug files", { skip: noTools }, () => {
  let dir = "";
  let exe = "";
  let lib = "";
  let variant = "";
  let emptyRoot = "";
  let nm = new Map<string, bigint>();
  let nmLib = new Map<string, bigint>();
  let buildId = "";
  let libBuildId = "";
  const children: ChildProcess[] = [];

  const sub = (name: string): string => {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  /** A stripped copy of `from` at `to` (no .symtab, no DWARF: .dynsym only). */
  const stripped = (from: string, to: string): string => {
    mkdirSync(dirname(to), { recursive: true });
    execFileSync("strip", ["--strip-debug", "--strip-unneeded", "-o", to, from]);
    return to;
  };
  /** The debug-only file of `from` at `to`. */
  const debugOnly = (from: string, to: string): string => {
    mkdirSync(dirname(to), { recursive: true });
    execFileSync("objcopy", ["--only-keep-debug", from, to]);
    return to;
  };
  /** A stripped copy at `to` with a .gnu_debuglink to `debugFile` (made from `from`, CRC taken now). */
  const linked = (from: string, to: string, debugFile: string): string => {
    debugOnly(from, debugFile);
    const tmp = `${to}.tmp`;
    stripped(from, tmp);
    execFileSync("objcopy", [`--add-gnu-debuglink=${debugFile}`, tmp, to]);
    rmSync(tmp);
    return to;
  };

  before(() => {
    dir = testTempDir("tsbpf-debuginfo");
    writeFileSync(join(dir, "prog.c"), PROG);
    exe = join(dir, "full");
    lib = join(dir, "libfull.so");
    variant = join(dir, "variant");
    execFileSync("gcc", ["-g", "-O0", "-o", exe, join(dir, "prog.c")]);
    execFileSync("gcc", ["-g", "-O0", "-DLIB", "-shared", "-fPIC", "-o", lib, join(dir, "prog.c")]);
    execFileSync("gcc", ["-g", "-O0", "-DVARIANT", "-o", variant, join(dir, "prog.c")]);
    emptyRoot = sub("empty-root");
    nm = nmAddresses(exe);
    nmLib = nmAddresses(lib);
    buildId = readElf(exe).buildId ?? "";
    libBuildId = readElf(lib).buildId ?? "";
  });

  after(() => {
    for (const c of children) c.kill("SIGKILL");
    clearElfCache();
    forgetProcessSymbols();
  });

  it("the fixtures are what the tests assume: statics in nm, not in the stripped copy's .dynsym", () => {
    for (const name of [...STATICS, "exported_fn"]) assert.ok(nm.has(name), `nm lists ${name}`);
    assert.match(buildId, /^[0-9a-f]{40}$/);
    assert.notEqual(readElf(variant).buildId, buildId);
    assert.notEqual(nmAddresses(variant).get("hidden_alpha"), nm.get("hidden_alpha"));
    const bare = stripped(exe, join(sub("bare"), "prog"));
    assert.ok(!readElf(bare).sections.some((s) => s.name === ".symtab"));
    withEnv({ TSBPF_DEBUGINFO_ROOT: emptyRoot }, () => {
      const names = elfSymbols(bare).map((s) => s.name);
      for (const name of STATICS) assert.ok(!names.includes(name), `${name} is not in the stripped binary`);
      assert.equal(resolveName(bare, "hidden_alpha"), undefined);
      assert.equal(elfDebugFile(bare), undefined);
      assert.deepEqual(getUserAddresses(bare, /^hidden_/), []);
    });
  });

  it("by build-id under TSBPF_DEBUGINFO_ROOT: the statics resolve to nm's addresses, both ways", () => {
    const bin = stripped(exe, join(sub("buildid"), "prog"));
    const root = sub("buildid-root");
    const dbg = debugOnly(exe, buildIdPath(root, buildId));
    withEnv({ TSBPF_DEBUGINFO_ROOT: root }, () => {
      assert.equal(debugInfoRoot(), root);
      assert.equal(elfDebugFile(bin), dbg);
      for (const name of STATICS) {
        const addr = resolveName(bin, name);
        assert.equal(addr, nm.get(name), `${name} at nm's address`);
        // Address → name through the same symbols (what BPF.sym uses), at the start and inside.
        const { index } = elfFunctionIndex(bin);
        assert.equal(index.lookup(addr as bigint)?.name, name);
        const inside = index.lookup((addr as bigint) + 3n);
        assert.equal(inside?.name, name);
        assert.equal(inside?.offset, 3n);
      }
      assert.equal(resolveName(bin, "exported_fn"), nm.get("exported_fn"));
      assert.equal(resolveName(bin, "no_such_function"), undefined);
      assert.deepEqual(
        getUserAddresses(bin, /^hidden_/),
        ascending(nm.get("hidden_alpha"), nm.get("hidden_beta")),
      );
      assert.deepEqual(getUserAddresses(bin, "gamma$"), [nm.get("other_gamma")]);
      assert.deepEqual(
        getUserAddresses(bin, /^hidden_/g),
        getUserAddresses(bin, /^hidden_/),
        "g flag: no skips",
      );
      assert.deepEqual(
        getUserFunctionsAndAddresses(bin, /^(hidden|other)_/)
          .map((f) => [f.name, f.address])
          .sort(),
        STATICS.map((n) => [n, nm.get(n)]).sort(),
      );
    });
  });

  it("BCC_DEBUGINFO_ROOT is honoured too, and TSBPF_DEBUGINFO_ROOT wins over it", () => {
    const bin = stripped(exe, join(sub("bccroot"), "prog"));
    const root = sub("bccroot-root");
    debugOnly(exe, buildIdPath(root, buildId));
    withEnv({ BCC_DEBUGINFO_ROOT: root }, () => {
      assert.equal(resolveName(bin, "hidden_beta"), nm.get("hidden_beta"));
    });
    withEnv({ BCC_DEBUGINFO_ROOT: root, TSBPF_DEBUGINFO_ROOT: emptyRoot }, () => {
      assert.equal(resolveName(bin, "hidden_beta"), undefined, "the search is redone when the root changes");
    });
    withEnv({}, () => assert.equal(debugInfoRoot(), "/usr/lib/debug"));
  });

  it("a file at the build-id path with another build-id is not used", () => {
    const bin = stripped(exe, join(sub("buildid-wrong"), "prog"));
    const root = sub("buildid-wrong-root");
    debugOnly(variant, buildIdPath(root, buildId));
    withEnv({ TSBPF_DEBUGINFO_ROOT: root }, () => {
      assert.equal(elfDebugFile(bin), undefined);
      assert.equal(resolveName(bin, "hidden_alpha"), undefined);
      assert.equal(resolveName(bin, "variant_pad"), undefined);
    });
  });

  it("by .gnu_debuglink: next to the binary, in .debug/, and under the debug root", () => {
    const nextTo = linked(exe, join(sub("link-next"), "prog"), join(sub("link-next"), "prog.debug"));
    const inDotDebug = linked(exe, join(sub("link-dot"), "prog"), join(sub("link-dot"), "prog.debug"));
    mkdirSync(join(dir, "link-dot", ".debug"));
    renameSync(join(dir, "link-dot", "prog.debug"), join(dir, "link-dot", ".debug", "prog.debug"));
    const underRoot = linked(exe, join(sub("link-root"), "prog"), join(sub("link-root"), "prog.debug"));
    const root = sub("link-root-root");
    const rootCopy = join(root, realpathSync(join(dir, "link-root")), "prog.debug");
    mkdirSync(dirname(rootCopy), { recursive: true });
    renameSync(join(dir, "link-root", "prog.debug"), rootCopy);

    withEnv({ TSBPF_DEBUGINFO_ROOT: emptyRoot }, () => {
      assert.equal(readElf(nextTo).debuglink?.file, "prog.debug");
      assert.equal(elfDebugFile(nextTo), join(dir, "link-next", "prog.debug"));
      assert.equal(elfDebugFile(inDotDebug), join(dir, "link-dot", ".debug", "prog.debug"));
      assert.equal(elfDebugFile(underRoot), undefined, "not in the default places");
      for (const bin of [nextTo, inDotDebug])
        for (const name of STATICS) assert.equal(resolveName(bin, name), nm.get(name), `${bin}: ${name}`);
    });
    withEnv({ TSBPF_DEBUGINFO_ROOT: root }, () => {
      assert.equal(elfDebugFile(realpathSync(underRoot)), rootCopy);
      assert.equal(resolveName(realpathSync(underRoot), "other_gamma"), nm.get("other_gamma"));
    });
  });

  it("a debuglink whose CRC does not match is not used", () => {
    const d = sub("link-crc");
    const bin = linked(exe, join(d, "prog"), join(d, "prog.debug"));
    const want = readElf(bin).debuglink?.crc;
    const crc32 = (zlib as unknown as { crc32?: (b: Buffer) => number }).crc32;
    if (crc32) assert.equal(crc32(readFileSync(join(d, "prog.debug"))), want, "objcopy's CRC is zlib's");
    // One byte more: still a valid debug file with the same symbols, but not the one linked.
    appendFileSync(join(d, "prog.debug"), Buffer.from([0]));
    const names = elfSymbols(join(d, "prog.debug")).map((s) => s.name);
    assert.ok(names.includes("hidden_alpha"), "the changed file still has the symbols");
    withEnv({ TSBPF_DEBUGINFO_ROOT: emptyRoot }, () => {
      assert.equal(elfDebugFile(bin), undefined);
      assert.equal(resolveName(bin, "hidden_alpha"), undefined);
      assert.deepEqual(getUserAddresses(bin, /^hidden_/), []);
    });
  });

  it("BCC_SYMFS: the binary's copy under <symfs>/<path> gives the symbols; a copy with another build-id does not", () => {
    const bin = stripped(exe, join(sub("symfs-bin"), "prog"));
    const symfs = sub("symfs");
    const copy = join(symfs, bin);
    mkdirSync(dirname(copy), { recursive: true });
    copyFileSync(exe, copy);
    withEnv({ TSBPF_DEBUGINFO_ROOT: emptyRoot, BCC_SYMFS: symfs }, () => {
      assert.equal(symfsPath(`/proc/1/root${bin}`), copy, "a /proc/PID/root prefix is dropped");
      assert.equal(debugFileCandidates(bin, readElf(bin))[0]?.path, copy);
      assert.equal(elfDebugFile(bin), copy);
      for (const name of STATICS) assert.equal(resolveName(bin, name), nm.get(name));
      assert.deepEqual(getUserAddresses(bin, /^other_/), [nm.get("other_gamma")]);
    });

    const other = stripped(exe, join(sub("symfs-other"), "prog"));
    const wrong = join(symfs, other);
    mkdirSync(dirname(wrong), { recursive: true });
    copyFileSync(variant, wrong);
    withEnv({ TSBPF_DEBUGINFO_ROOT: emptyRoot, BCC_SYMFS: symfs }, () => {
      assert.equal(elfDebugFile(other), undefined);
      assert.equal(resolveName(other, "hidden_alpha"), undefined);
    });
  });

  it("BCC_SYMFS: a binary that is only under the symbol file system is read from there", () => {
    const symfs = sub("symfs-only");
    const path = `/nonexistent-tsbpf-${process.pid}/bin/prog`;
    mkdirSync(dirname(join(symfs, path)), { recursive: true });
    copyFileSync(exe, join(symfs, path));
    withEnv({ TSBPF_DEBUGINFO_ROOT: emptyRoot }, () => {
      assert.throws(() => resolveName(path, "hidden_alpha"), ElfError);
    });
    withEnv({ TSBPF_DEBUGINFO_ROOT: emptyRoot, BCC_SYMFS: symfs }, () => {
      assert.equal(resolveName(path, "hidden_alpha"), nm.get("hidden_alpha"));
    });
  });

  it("a shared library: its .dynsym merged with the debug file's .symtab, each address once", () => {
    const d = sub("lib");
    const bin = linked(lib, join(d, "libdi.so"), join(d, "libdi.so.debug"));
    withEnv({ TSBPF_DEBUGINFO_ROOT: emptyRoot }, () => {
      assert.equal(resolveName(bin, "hidden_alpha"), nmLib.get("hidden_alpha"));
      assert.equal(resolveName(bin, "exported_fn"), nmLib.get("exported_fn"));
      const tables = elfSymbols(bin)
        .filter((s) => s.name === "exported_fn")
        .map((s) => s.table);
      assert.deepEqual(
        tables,
        ["symtab", "dynsym"],
        "the debug file's .symtab first, then the binary's .dynsym",
      );
      assert.deepEqual(getUserFunctionsAndAddresses(bin, /^exported_fn$/), [
        { name: "exported_fn", address: nmLib.get("exported_fn") },
      ]);
      assert.deepEqual(
        getUserAddresses(bin, /^(hidden_alpha|exported_fn)$/),
        ascending(nmLib.get("hidden_alpha"), nmLib.get("exported_fn")),
      );
    });
  });

  it("a truncated debug file falls back to the binary's own symbols, without throwing", () => {
    const bin = stripped(lib, join(sub("trunc"), "libdi.so"));
    const root = sub("trunc-root");
    const dbg = debugOnly(lib, buildIdPath(root, libBuildId));
    truncateSync(dbg, Math.floor(statSync(dbg).size / 2));
    withEnv({ TSBPF_DEBUGINFO_ROOT: root }, () => {
      assert.equal(elfDebugFile(bin), undefined);
      assert.equal(resolveName(bin, "hidden_alpha"), undefined);
      assert.equal(resolveName(bin, "exported_fn"), nmLib.get("exported_fn"), ".dynsym still there");
      assert.deepEqual(getUserAddresses(bin, /^exported_fn$/), [nmLib.get("exported_fn")]);
    });
  });

  it("a debug file whose .symtab lies beyond its end falls back too", () => {
    const bin = stripped(lib, join(sub("bad-symtab"), "libdi.so"));
    const root = sub("bad-symtab-root");
    const dbg = debugOnly(lib, buildIdPath(root, libBuildId));
    const elf = readElf(dbg);
    const symtab = elf.sections.find((s) => s.name === ".symtab");
    assert.ok(symtab);
    const shoff = readFileSync(dbg).readBigUInt64LE(40);
    const fd = openSync(dbg, "r+");
    try {
      const off = Buffer.alloc(8);
      off.writeBigUInt64LE(BigInt(statSync(dbg).size + 4096));
      writeSync(fd, off, 0, 8, Number(shoff) + symtab.index * 64 + 24);
    } finally {
      closeSync(fd);
    }
    assert.equal(readElf(dbg).buildId, libBuildId, "the headers still read");
    withEnv({ TSBPF_DEBUGINFO_ROOT: root }, () => {
      assert.equal(elfDebugFile(bin), undefined);
      assert.equal(resolveName(bin, "hidden_alpha"), undefined);
      assert.equal(resolveName(bin, "exported_fn"), nmLib.get("exported_fn"));
    });
  });

  it("says why a debug file was skipped under NODE_DEBUG=tsbpf", () => {
    const bin = stripped(lib, join(sub("logged"), "libdi.so"));
    const root = sub("logged-root");
    const dbg = debugOnly(lib, buildIdPath(root, libBuildId));
    truncateSync(dbg, 200);
    const elfModule = fileURLToPath(new URL("../../src/elf/elf.js", import.meta.url));
    const r = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { elfSymbols } from ${JSON.stringify(elfModule)};
         process.stdout.write(String(elfSymbols(${JSON.stringify(bin)}).some((s) => s.name === "exported_fn")));`,
      ],
      { encoding: "utf8", env: { ...process.env, NODE_DEBUG: "tsbpf", TSBPF_DEBUGINFO_ROOT: root } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "true");
    assert.match(r.stderr, /TSBPF \d+: .*debug file .*\.debug skipped: .*truncated/);
  });

  it("the debug file's symbols live in the ELF cache: clearElfCache (BPF.forgetSymbols) drops them", () => {
    const d = sub("cache");
    const bin = linked(exe, join(d, "prog"), join(d, "prog.debug"));
    withEnv({ TSBPF_DEBUGINFO_ROOT: emptyRoot }, () => {
      assert.equal(resolveName(bin, "hidden_alpha"), nm.get("hidden_alpha"));
      rmSync(join(d, "prog.debug"));
      assert.equal(resolveName(bin, "hidden_alpha"), nm.get("hidden_alpha"), "cached with the binary");
      clearElfCache();
      assert.equal(resolveName(bin, "hidden_alpha"), undefined, "gone with the cache");
    });
  });

  it("in a running process: resolveName(pid, name) is where sym(addr, pid) finds the name", async () => {
    const d = sub("proc");
    const bin = linked(exe, join(d, "prog"), join(d, "prog.debug"));
    const child = spawn(bin, [], { stdio: ["pipe", "pipe", "ignore"] });
    children.push(child);
    await new Promise<void>((res, rej) => {
      child.stdout?.once("data", () => res());
      child.once("error", rej);
    });
    const pid = child.pid as number;
    try {
      withEnv({ TSBPF_DEBUGINFO_ROOT: emptyRoot }, () => {
        const real = realpathSync(bin);
        const first = readElf(exe).segments.find((s) => s.type === 1);
        assert.equal(first?.vaddr, 0n, "a PIE: link-time addresses are offsets from the load base");
        const base = readProcMaps(pid).find((m) => m.path === real && m.offset === 0n)?.start;
        assert.ok(base !== undefined, "the binary is mapped");
        for (const name of STATICS) {
          const addr = resolveName(pid, name);
          assert.equal(addr, base + (nm.get(name) as bigint), `${name} at base + nm's address`);
          assert.equal(sym(addr as bigint, pid), name);
          assert.equal(
            sym((addr as bigint) + 2n, pid, { showOffset: true, showModule: true }),
            `${name}+0x2 [prog]`,
          );
        }
        assert.equal(
          resolveName(pid, "hidden_beta", { module: real }),
          base + (nm.get("hidden_beta") as bigint),
        );
        assert.equal(
          resolveName(pid, "hidden_beta", { module: "prog" }),
          base + (nm.get("hidden_beta") as bigint),
        );
        assert.equal(resolveName(pid, "hidden_beta", { module: "c" }), undefined, "not in libc");
        const getchar = resolveName(pid, "getchar", { module: "c" });
        assert.ok(getchar !== undefined, "libc's getchar");
        const m = readProcMaps(pid).find((x) => x.start <= getchar && getchar < x.end);
        assert.ok(m?.exec && /libc[.-]/.test(m.path), `getchar in libc's code (${m?.path})`);
      });
    } finally {
      child.stdin?.end();
      await new Promise((res) => child.once("exit", res));
      forgetProcessSymbols(pid);
    }
  });
});
