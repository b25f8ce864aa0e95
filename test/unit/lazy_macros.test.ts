/**
 * The kernel macros read lazily (kernel_macros.ts): a pass over them loads
 * the UAPI macros only when a name it reaches may be one (the UAPI headers'
 * #defines, scanned for and learnt), and then gives what the full table
 * gives; conditionals on UAPI names resolve the same; names of the kernel's
 * BTF and names answered before the UAPI macros never load them. The
 * sources here are small stand-ins: no clang, no kernel.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { resolveConditionals, type SimpleMacro } from "../../src/compile/conditionals.js";
import { type KernelMacroSources, KernelMacros, withKernelMacros } from "../../src/compile/kernel_macros.js";
import { type MacroDef, macro, macroClosure, parseDefines } from "../../src/compile/macros.js";
import { scanDefines, UapiMacros, UapiNames, uapiFile } from "../../src/compile/uapi_macros.js";

const work = mkdtempSync(join(tmpdir(), "tsbpf-lazy-macros-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** Stand-in UAPI headers. */
const HEADERS: Record<string, string> = {
  "linux/limits.h":
    "#ifndef _LINUX_LIMITS_H\n#define _LINUX_LIMITS_H\n#define NAME_MAX 255\n#define PATH_MAX 4096\n#endif\n",
  "linux/stat.h": [
    "#define S_IFMT  00170000",
    "#define S_IFREG  0100000",
    "#define S_ISREG(m)\t(((m) & S_IFMT) == S_IFREG)",
  ].join("\n"),
  "asm/fcntl.h": "#  define O_NONBLOCK 00004000\n",
  "linux/in.h": "enum { IPPROTO_TCP = 6 };\n#define IPPROTO_TCP IPPROTO_TCP\n",
  "linux/sub/paste.h": "#define __p_1 42\n#define __q_1 43\n",
};
const files: string[] = [];
for (const [name, text] of Object.entries(HEADERS)) {
  const path = join(work, "include", name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  files.push(path);
}

/** This "kernel's" BTF names: the UAPI macros drop a macro so named. */
const BTF_NAMES = new Set(["IPPROTO_TCP", "task_struct"]);

/** What the preprocessor run would give: every header's macros, less the BTF's names and include guards. */
const FULL: MacroDef[] = Object.values(HEADERS)
  .flatMap((t) => parseDefines(t, "UAPI headers"))
  .filter((m) => !BTF_NAMES.has(m.name) && !(m.body === "" && /_H_*$/.test(m.name)));

const SHIMS: MacroDef[] = [
  macro("PASTE(x) __p_##x", "shim") as MacroDef,
  macro("DNAME_INLINE_LEN 99", "shim") as MacroDef,
  macro("TASK_COMM_LEN 16", "shim") as MacroDef,
];

/** Sources over the stand-ins; `loaded`: the UAPI macros are there from the start (the full table). */
function table(opts: { loaded?: boolean; cache?: string } = {}): {
  t: KernelMacros;
  calls: { uapi: number; scans: number };
} {
  const calls = { uapi: 0, scans: 0 };
  const full = new UapiMacros(Buffer.from(uapiFile(FULL), "utf8"));
  const names = new UapiNames(opts.cache ?? join(mkdtempSync(join(work, "cache-")), "names.txt"), () => {
    calls.scans++;
    return files;
  });
  const sources: KernelMacroSources = {
    shims: () => SHIMS,
    btf: (n) => (n === "DNAME_INLINE_LEN" ? macro("DNAME_INLINE_LEN 32", "BTF: dentry.d_iname") : undefined),
    btfNames: () => ["DNAME_INLINE_LEN"],
    kconfig: () => new Map([["CONFIG_BPF", "1"]]),
    uapiNames: () => names,
    kernelName: (n) => BTF_NAMES.has(n),
    cachedUapi: () => (opts.loaded ? full : undefined),
    uapi: async () => {
      calls.uapi++;
      return full;
    },
  };
  return { t: new KernelMacros(sources), calls };
}

/** A program's macro closure, through withKernelMacros. */
async function closure(t: KernelMacros, seeds: string[]): Promise<string[]> {
  const picked = await withKernelMacros(t, (all) =>
    macroClosure(
      { get: (n) => all.get(n), keys: () => all.keys(), keysWithPrefix: (p) => all.keysWithPrefix(p) },
      seeds,
    ),
  );
  return picked.map((m) => `${m.name}${m.params} ${m.body} (${m.origin})`);
}

describe("kernel macros, read lazily", () => {
  it("a program naming no UAPI macro never loads them, and gets what the full table gives", async () => {
    const seeds = [
      "ctx",
      "pid",
      "CONFIG_BPF",
      "DNAME_INLINE_LEN",
      "TASK_COMM_LEN",
      "bpf_trace_printk",
      "task_struct",
    ];
    const { t, calls } = table();
    const got = await closure(t, seeds);
    assert.equal(calls.uapi, 0);
    assert.equal(calls.scans, 1);
    assert.deepEqual(got, await closure(table({ loaded: true }).t, seeds));
    assert.deepEqual(got, [
      "CONFIG_BPF 1 (kernel configuration)",
      "DNAME_INLINE_LEN 32 (BTF: dentry.d_iname)",
      "TASK_COMM_LEN 16 (shim)",
    ]);
  });

  it("a program naming one loads them once and gets the full table's definitions", async () => {
    const seeds = ["S_ISREG", "NAME_MAX", "mode"];
    const { t, calls } = table();
    const got = await closure(t, seeds);
    assert.equal(calls.uapi, 1);
    assert.deepEqual(got, await closure(table({ loaded: true }).t, seeds));
    assert.deepEqual(
      got.map((g) => g.split(" ")[0]),
      ["NAME_MAX", "S_IFMT", "S_IFREG", "S_ISREG(m)"],
    );
    await closure(t, ["PATH_MAX"]);
    assert.equal(calls.uapi, 1, "loaded once");
  });

  it("a name of the kernel's BTF that a header #defines needs no UAPI macros (they drop it)", async () => {
    const { t, calls } = table();
    assert.deepEqual(await closure(t, ["IPPROTO_TCP"]), []);
    assert.equal(calls.uapi, 0);
  });

  it("a macro pasting tokens brings the UAPI names it can paste to", async () => {
    const { t, calls } = table();
    const got = await closure(t, ["PASTE"]);
    assert.equal(calls.uapi, 1);
    assert.deepEqual(got, await closure(table({ loaded: true }).t, ["PASTE"]));
    assert.deepEqual(
      got.map((g) => g.split(" ")[0]),
      ["PASTE(x)", "__p_1"],
    );
  });

  it("conditionals on UAPI names resolve as with the full table", async () => {
    const src = [
      "#ifdef O_NONBLOCK",
      "int nonblock;",
      "#endif",
      "#if NAME_MAX > 100",
      "int long_names;",
      "#else",
      "int short_names;",
      "#endif",
      "#if defined(IPPROTO_TCP) || defined(NOT_ANYWHERE)",
      "int tcp_macro;",
      "#endif",
    ].join("\n");
    const resolve = async (t: KernelMacros): Promise<string> => {
      const base = (n: string): SimpleMacro | undefined => {
        const m = t.get(n);
        return m ? { body: m.body } : undefined;
      };
      return withKernelMacros(
        t,
        () => resolveConditionals(src, { macros: new Map(), unknown: new Set(), base }).text,
      );
    };
    const { t, calls } = table();
    const got = await resolve(t);
    assert.equal(calls.uapi, 1);
    assert.equal(got, await resolve(table({ loaded: true }).t));
    assert.deepEqual(got.split("\n").filter(Boolean), ["int nonblock;", "int long_names;"]);
  });

  it("learns which names the headers #define, once, in the cache", async () => {
    const cache = join(mkdtempSync(join(work, "cache-")), "names.txt");
    const first = table({ cache });
    await closure(first.t, ["NAME_MAX", "ctx"]);
    assert.equal(first.calls.scans, 1);
    const again = table({ cache });
    await closure(again.t, ["NAME_MAX", "ctx"]);
    assert.equal(again.calls.scans, 0, "known from the cache");
    const names = new UapiNames(cache, () => {
      throw new Error("no scan expected");
    });
    assert.equal(names.has("NAME_MAX"), true);
    assert.equal(names.has("ctx"), false);
    assert.equal(names.has("never_asked"), undefined);
  });

  it("scans for #define NAME as the preprocessor would find it, and a few more", () => {
    const path = join(work, "scan.h");
    writeFileSync(
      path,
      [
        "#  define SPACED 1",
        "#define\tTABBED(a) a",
        "/* #define IN_COMMENT 1 */",
        "#defineGLUED 1",
        "int define NOT_A_DIRECTIVE;",
        "#define PREFIX_ONE 1",
        "#define PREFIX_TWO 2",
        "#define LONGER_NAME 3",
      ].join("\n"),
    );
    const found = scanDefines(
      [path, join(work, "missing.h")],
      ["SPACED", "TABBED", "IN_COMMENT", "GLUED", "NOT_A_DIRECTIVE", "LONGER", "absent"],
      ["PREFIX_"],
    );
    assert.deepEqual([...found].sort(), ["IN_COMMENT", "PREFIX_ONE", "PREFIX_TWO", "SPACED", "TABBED"]);
  });

  it("scans every file under a directory given, links followed, each directory once", () => {
    const root = mkdtempSync(join(work, "tree-"));
    mkdirSync(join(root, "linux", "netfilter"), { recursive: true });
    writeFileSync(join(root, "linux", "top.h"), "#define TOP 1\n");
    writeFileSync(join(root, "linux", "netfilter", "deep.h"), "#define DEEP 2\n#define PRE_A 1\n");
    mkdirSync(join(root, "asm-generic"));
    writeFileSync(join(root, "asm-generic", "gen.h"), "#define GENERIC 3\n#define PRE_B 2\n");
    // asm -> asm-generic (as arch headers link), and a link that leads nowhere
    symlinkSync(join(root, "asm-generic"), join(root, "linux", "asm"));
    symlinkSync(join(root, "gone"), join(root, "linux", "dangling.h"));
    const loose = join(work, "loose.h");
    writeFileSync(loose, "#define LOOSE 4\n");
    const found = scanDefines(
      [join(root, "linux"), join(root, "asm-generic"), loose, join(root, "missing")],
      ["TOP", "DEEP", "GENERIC", "LOOSE", "ABSENT"],
      ["PRE_"],
    );
    assert.deepEqual([...found].sort(), ["DEEP", "GENERIC", "LOOSE", "PRE_A", "PRE_B", "TOP"]);
  });
});
