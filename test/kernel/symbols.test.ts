/**
 * Symbol resolution against live processes (gcc-built children that print
 * their own function addresses) and the running kernel's /proc/kallsyms.
 * The process tests need no privileges; the kallsyms ones need root.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BPF } from "../../src/bpf.js";
import { readElf, readElfSymbols } from "../../src/elf/elf.js";
import {
  findExe,
  findLibrary,
  ProcessSymbols,
  processSymbols,
  readProcMaps,
  sym,
} from "../../src/elf/procmaps.js";
import { kallsyms, kallsymsLookup, ksym, ksymname } from "../../src/kernel/kallsyms.js";
import { skipUnlessRoot, waitFor } from "../helpers.js";

const hasGcc = spawnSync("gcc", ["--version"]).status === 0;
const hasGxx = spawnSync("g++", ["--version"]).status === 0;

const PROG = `
#include <stdio.h>
#include <unistd.h>
int func_a(int x) { return x * 2 + 1; }
int func_b(int x) {
  int s = 0;
  for (int i = 0; i < x; i++) s += func_a(i);
  return s;
}
int main(void) {
  printf("%p %p %p\\n", (void *)func_b, (void *)&getpid, (void *)func_a);
  fflush(stdout);
  for (;;) { func_b(3); pause(); }
}
`;

const CXX_PROG = `
#include <cstdio>
#include <unistd.h>
namespace ns {
struct Klass {
  __attribute__((noinline)) int method(int x) const { return x + 1; }
};
}
int main() {
  int (ns::Klass::*m)(int) const = &ns::Klass::method;
  union { int (ns::Klass::*pm)(int) const; void *p[2]; } u;
  u.pm = m;
  std::printf("%p\\n", u.p[0]);
  std::fflush(stdout);
  for (;;) pause();
}
`;

/** Starts a program and waits for its first line of output (the addresses it prints). */
async function startAndRead(path: string): Promise<{ child: ChildProcess; words: string[] }> {
  const child = spawn(path, [], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf("\n");
      if (nl !== -1) resolve(out.slice(0, nl));
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`${path} exited (${code}) before printing`)));
  });
  return { child, words: line.trim().split(" ") };
}

describe("user-space symbols of a running process", { skip: hasGcc ? false : "needs gcc" }, () => {
  let dir = "";
  const children: ChildProcess[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsbpf-sym-"));
    writeFileSync(join(dir, "prog.c"), PROG);
    execFileSync("gcc", ["-O0", "-g", "-pie", "-fPIE", "-o", join(dir, "prog-pie"), join(dir, "prog.c")]);
    execFileSync("gcc", [
      "-O0",
      "-g",
      "-no-pie",
      "-fno-PIE",
      "-o",
      join(dir, "prog-nopie"),
      join(dir, "prog.c"),
    ]);
  });
  after(() => {
    for (const c of children) c.kill("SIGKILL");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of ["pie", "nopie"]) {
    it(`resolves func_b and func_a in a ${kind} executable (bcc's sym formats)`, async () => {
      const path = join(dir, `prog-${kind}`);
      const { child, words } = await startAndRead(path);
      children.push(child);
      const pid = child.pid as number;
      const funcB = BigInt(words[0] as string);
      const funcA = BigInt(words[2] as string);

      const ps = new ProcessSymbols(pid);
      assert.deepEqual(ps.resolve(funcB), { name: "func_b", offset: 0n, module: path });
      assert.deepEqual(ps.resolve(funcA + 5n), { name: "func_a", offset: 5n, module: path });
      assert.equal(sym(funcB, pid), "func_b");
      assert.equal(sym(funcB + 3n, pid, { showOffset: true }), "func_b+0x3");
      assert.equal(sym(funcB + 3n, pid, { showOffset: true, showModule: true }), `func_b+0x3 [prog-${kind}]`);
      assert.equal(sym(funcB, pid, { showModule: true }), `func_b [prog-${kind}]`);
      // An address in no mapping.
      assert.equal(ps.resolve(0x10n), undefined);
      assert.equal(sym(0x10n, pid, { showOffset: true, showModule: true }), "[unknown]");
      // A mapped address outside every function (the ELF header): the module is known.
      const header = ps.mappings().find((m) => m.path === path && m.offset === 0n);
      assert.ok(header);
      assert.equal(ps.resolve(header.start), undefined);
      assert.equal(
        sym(header.start, pid, { showModule: true, showOffset: true }),
        `[unknown] [prog-${kind}]`,
      );
      // Anonymous memory (the stack) is no module.
      const stack = ps.mappings().find((m) => m.path === "[stack]");
      assert.ok(stack);
      assert.equal(sym(stack.start, pid, { showModule: true }), "[unknown]");
    });
  }

  it("resolves a libc function (getpid) in the libc the process mapped", async () => {
    // A PIE takes getpid's address through the GOT: the real libc address.
    const { child, words } = await startAndRead(join(dir, "prog-pie"));
    children.push(child);
    const pid = child.pid as number;
    const getpid = BigInt(words[1] as string);
    const r = processSymbols(pid).resolve(getpid);
    assert.ok(r, "getpid resolved");
    assert.equal(r.name, "getpid");
    assert.equal(r.offset, 0n);
    assert.match(basename(r.module), /^libc[.-]/);
    assert.equal(
      sym(getpid + 1n, pid, { showOffset: true, showModule: true }),
      `getpid+0x1 [${basename(r.module)}]`,
    );
    // findLibrary with the pid names the very file the process mapped.
    assert.equal(findLibrary("c", pid), r.module);
  });

  it("resolves in the vDSO", () => {
    const vdso = readProcMaps("self").find((m) => m.path === "[vdso]");
    assert.ok(vdso, "this process has a vDSO");
    const image = Buffer.alloc(Number(vdso.end - vdso.start));
    const fd = openSync("/proc/self/mem", "r");
    try {
      readSync(fd, image, 0, image.length, vdso.start);
    } finally {
      closeSync(fd);
    }
    const elf = readElf(image, "[vdso]");
    const fn = readElfSymbols(image, elf).find((s) => s.type === "FUNC" && s.name === "clock_gettime");
    assert.ok(fn, "the vDSO exports clock_gettime");
    const seg = elf.segments.find((s) => s.type === 1);
    assert.ok(seg);
    const addr = vdso.start + (fn.value - seg.vaddr);
    assert.equal(
      sym(addr + 2n, process.pid, { showOffset: true, showModule: true }),
      "clock_gettime+0x2 [[vdso]]",
    );
  });

  it("resolves JIT code through /tmp/perf-PID.map", async () => {
    // A Node child: V8's code space is an anonymous executable mapping, and the child writes no map of its own.
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e6)"], { stdio: "ignore" });
    children.push(child);
    const pid = child.pid as number;
    let exec: ReturnType<typeof readProcMaps>[number] | undefined;
    assert.ok(
      await waitFor(() => {
        exec = readProcMaps(pid).find((m) => m.exec && m.path === "");
        return exec !== undefined;
      }, 10_000),
      "node's JIT code space: an anonymous executable mapping",
    );
    const start = (exec as NonNullable<typeof exec>).start;
    const map = `/tmp/perf-${pid}.map`;
    writeFileSync(map, `${start.toString(16)} 40 LazyCompile:~jitted_fn file.js:1\n`);
    try {
      const ps = new ProcessSymbols(pid);
      assert.deepEqual(ps.resolve(start + 0x10n), {
        name: "LazyCompile:~jitted_fn file.js:1",
        offset: 0x10n,
        module: map,
      });
      assert.equal(ps.resolve(start + 0x40n), undefined);
    } finally {
      rmSync(map, { force: true });
      child.kill("SIGKILL");
    }
  });

  it("demangles C++ names (bcc's default)", { skip: hasGxx ? false : "needs g++" }, async () => {
    const src = join(dir, "cxx.cc");
    const bin = join(dir, "cxx");
    writeFileSync(src, CXX_PROG);
    execFileSync("g++", ["-O0", "-g", "-o", bin, src]);
    const { child, words } = await startAndRead(bin);
    children.push(child);
    const pid = child.pid as number;
    const addr = BigInt(words[0] as string);
    assert.equal(sym(addr, pid), "ns::Klass::method(int) const");
    assert.equal(sym(addr, pid, { demangle: false }), "_ZNK2ns5Klass6methodEi");
    assert.equal(new ProcessSymbols(pid).resolve(addr)?.name, "_ZNK2ns5Klass6methodEi");
    assert.equal(
      new ProcessSymbols(pid).resolve(addr, { demangle: true })?.name,
      "ns::Klass::method(int) const",
    );
  });

  it("keeps resolving after the process exits (its mappings are cached)", async () => {
    const { child, words } = await startAndRead(join(dir, "prog-pie"));
    const pid = child.pid as number;
    const ps = new ProcessSymbols(pid);
    const funcB = BigInt(words[0] as string);
    assert.equal(ps.resolve(funcB)?.name, "func_b");
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await exited;
    ps.refresh();
    assert.equal(ps.resolve(funcB)?.name, "func_b");
  });

  it("BPF.forgetSymbols drops an exited process's cached symbols", async () => {
    const { child, words } = await startAndRead(join(dir, "prog-pie"));
    const pid = child.pid as number;
    const funcB = BigInt(words[0] as string);
    assert.equal(sym(funcB, pid), "func_b");
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await exited;
    assert.equal(sym(funcB, pid), "func_b", "cached after the exit");
    BPF.forgetSymbols(pid);
    assert.equal(sym(funcB, pid), "[unknown]", "the process is gone and so are its symbols");
    BPF.forgetSymbols();
  });
});

describe("finding libraries and executables", () => {
  it("findLibrary('c') is this architecture's libc.so.6 from the ldconfig cache", () => {
    const c = findLibrary("c");
    assert.ok(c, "libc found");
    assert.match(c, /\/libc\.so\.6$/);
    assert.ok(existsSync(c));
    assert.equal(readElf(c).machine, 62);
    assert.equal(findLibrary("libc.so.6"), c);
    assert.equal(findLibrary("/some/path/libfoo.so"), "/some/path/libfoo.so");
    assert.equal(findLibrary("surely_no_such_library_here"), undefined);
  });

  it("findExe searches PATH like which", () => {
    const t = findExe("true");
    assert.ok(t === "/usr/bin/true" || t === "/bin/true", `got ${t}`);
    assert.equal(findExe("/bin/sh"), "/bin/sh");
    assert.equal(findExe("/etc/passwd"), undefined, "not executable");
    assert.equal(findExe("surely-no-such-command-here"), undefined);
  });
});

/** The address of a symbol as /proc/kallsyms lists it (first match). */
function kallsymsLine(name: string): bigint | undefined {
  for (const line of readFileSync("/proc/kallsyms", "utf8").split("\n")) {
    const [addr, , n] = line.split(/\s+/);
    if (n === name && addr) return BigInt(`0x${addr}`);
  }
  return undefined;
}

describe("kernel symbols (/proc/kallsyms)", { skip: skipUnlessRoot }, () => {
  it("resolves vfs_read both ways, with bcc's formats", () => {
    const addr = kallsymsLine("vfs_read");
    assert.ok(addr, "vfs_read is in /proc/kallsyms");
    assert.equal(ksym(addr), "vfs_read");
    assert.equal(ksym(addr + 0x10n, { showOffset: true }), "vfs_read+0x10");
    assert.equal(ksym(addr + 0x10n, { showOffset: true, showModule: true }), "vfs_read+0x10 [kernel]");
    assert.equal(ksym(addr, { showModule: true }), "vfs_read [kernel]");
    assert.equal(ksymname("vfs_read"), addr);
    assert.deepEqual(kallsymsLookup(addr + 4n), {
      name: "vfs_read",
      offset: 4n,
      module: "kernel",
      address: addr,
      type: "T",
    });
    assert.equal(sym(addr, -1), "vfs_read", "a negative pid means the kernel, as in bcc");
  });

  it("says [unknown] for addresses it cannot place, and undefined for unknown names", () => {
    assert.equal(ksym(0x1n), "[unknown]");
    assert.equal(ksym(0x1n, { showOffset: true, showModule: true }), "[unknown]");
    assert.equal(ksymname("surely_not_a_kernel_symbol"), undefined);
  });

  it("parses the whole file into a sorted table", () => {
    const k = kallsyms();
    assert.ok(k.size > 10_000);
    const stext = kallsymsLine("_stext");
    assert.ok(stext);
    assert.equal(ksymname("_stext"), stext);
  });
});
