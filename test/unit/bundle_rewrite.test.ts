/**
 * scripts/bundle_rewrite.mjs, on small programs bundled as scripts/bundle.mjs
 * bundles the CLI:
 *  - the functions and namespace getters of a lazily evaluated module
 *    (esbuild's `__esm`) sunk into the module's init: the program prints the
 *    same after the rewrite; a function of a module that nothing initialized
 *    is no longer declared at the bundle's top level; the modules of an import
 *    cycle keep theirs; the rewritten source map still maps each function to
 *    its source;
 *  - a module initialized at first use: not by its importers' inits, but by
 *    the first use of one of its bindings, wherever it is written (a call, a
 *    shorthand property, a namespace, a re-export, a class extended); a local
 *    of the same name is left alone; a module whose top level has an effect,
 *    or which is in a cycle, is refused;
 *  - each module's init declared as a function (no `__esm` object, method
 *    and closure per module): the program prints the same, after the two
 *    rewrites above as on esbuild's own bundle, the cycle's inits included,
 *    and the map still maps a module's statements to their lines.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import vm from "node:vm";
import { build, type Metafile } from "esbuild";
import { repoRoot, testTempDir } from "../helpers.js";

interface SourceMap {
  sources: string[];
  mappings: string;
}
interface Edit {
  start: number;
  end: number;
  pieces: Array<string | [number, number]>;
}
interface Rewrite {
  lazyModuleEdits(
    text: string,
    map: SourceMap,
    metafile: Metafile,
    initAtFirstUse?: string[],
  ): {
    edits: Edit[];
    sunk: number;
    exportsSunk: number;
    localized: number;
    deferred: Array<{ module: string; uses: number; initCalls: number }>;
  };
  rewriteBundle(text: string, map: SourceMap, edits: Edit[]): { text: string; map: SourceMap };
  initFunctionEdits(text: string): { edits: Edit[]; inits: number };
}

const FILES: Record<string, string> = {
  "main.js": `
    import { eager } from "./eager.js";
    export async function run(out) {
      out.push(eager(1));
      const lazy = await import("./lazy.js");
      out.push(lazy.twice(21), await lazy.later(2), [...lazy.count(3)].join(","), lazy.fact(5), lazy.named());
      for await (const v of lazy.ticks(2)) out.push(v);
      const a = await import("./cycle_a.js");
      out.push(a.fromB());
      if (out.length > 100) await import("./never.js");
    }
  `,
  "eager.js": `export function eager(x) { return x + 1; }`,
  "lazy.js": `
    import { helper } from "./helper.js";
    export const TABLE = [helper(1), helper(2)];
    export function twice(x) { return x * 2 + TABLE.length - 2; }
    export async function later(x) { return x * 10; }
    export function* count(n) { for (let i = 0; i < n; i++) yield i; }
    export async function* ticks(n) { for (let i = 0; i < n; i++) yield "tick" + i; }
    export function fact(n) { return n <= 1 ? 1 : n * fact(n - 1); }
    export function named() { return named.name; }
  `,
  "helper.js": `export function helper(x) { return x * 3; }`,
  // a cycle: b's init calls a's function while a's init is still running
  "cycle_a.js": `
    import { B_VALUE } from "./cycle_b.js";
    export function fromA() { return "a"; }
    export function fromB() { return B_VALUE; }
  `,
  "cycle_b.js": `
    import { fromA } from "./cycle_a.js";
    export const B_VALUE = "b saw " + fromA();
  `,
  "never.js": `export function neverCalled() { return "never"; }`,
};

async function bundled(
  dir: string,
  files: Record<string, string> = FILES,
): Promise<{ text: string; map: SourceMap; metafile: Metafile }> {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const { metafile } = await build({
    entryPoints: [join(dir, "main.js")],
    bundle: true,
    platform: "node",
    format: "cjs",
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    sourcemap: true,
    metafile: true,
    outfile: join(dir, "out", "bundle.cjs"),
    banner: { js: "(function (exports, require, module, __filename, __dirname) {" },
    footer: { js: "})" },
    absWorkingDir: dir,
    logLevel: "silent",
  });
  return {
    text: readFileSync(join(dir, "out", "bundle.cjs"), "latin1"),
    map: JSON.parse(readFileSync(join(dir, "out", "bundle.cjs.map"), "utf8")) as SourceMap,
    metafile,
  };
}

/** A fresh directory with the files bundled in it, and the rewrite's module. */
async function setUp(
  prefix: string,
  files: Record<string, string>,
): Promise<{ dir: string; rewrite: Rewrite; text: string; map: SourceMap; metafile: Metafile }> {
  const dir = testTempDir(prefix);
  mkdirSync(join(dir, "out"));
  const rewrite = (await import(pathToFileURL(join(repoRoot, "scripts/bundle_rewrite.mjs")).href)) as Rewrite;
  return { dir, rewrite, ...(await bundled(dir, files)) };
}

async function runBundle(text: string, file: string): Promise<unknown[]> {
  const fn = new vm.Script(text, { filename: file }).runInThisContext() as (...a: unknown[]) => void;
  const mod = { exports: {} as { run: (out: unknown[]) => Promise<void> } };
  fn(mod.exports, createRequire(file), mod, file, join(file, ".."));
  const out: unknown[] = [];
  await mod.exports.run(out);
  return out;
}

/** The names of the functions declared at the bundle's top level (inside the module wrapper). */
function topLevelFunctions(text: string): string[] {
  const names: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{") depth++;
    else if (c === "}") depth--;
    else if (depth === 1 && text.startsWith("function", i) && /[\s;}]/.test(text[i - 1] ?? ";")) {
      const m = /^function\*?\s*([\w$]+)/.exec(text.slice(i));
      if (m) names.push(m[1] as string);
    }
  }
  return names;
}

/** The source file and line a position of the generated text maps to (the segment at or before it). */
function sourceAt(map: SourceMap, text: string, offset: number): string {
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const line = text.slice(0, offset).split("\n").length - 1;
  const col = offset - (text.lastIndexOf("\n", offset - 1) + 1);
  let src = 0;
  let srcLine = 0;
  let best: string | undefined;
  const lines = map.mappings.split(";");
  for (let l = 0; l <= line; l++) {
    let c = 0;
    for (const seg of (lines[l] ?? "").split(",").filter(Boolean)) {
      const f: number[] = [];
      let v = 0;
      let s = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        v += (d & 31) << s;
        if (d & 32) s += 5;
        else {
          f.push(v & 1 ? -(v >>> 1) : v >>> 1);
          v = 0;
          s = 0;
        }
      }
      c += f[0] as number;
      if (f.length >= 4) {
        src += f[1] as number;
        srcLine += f[2] as number;
      }
      if (l === line && c > col) break;
      if (f.length >= 4) best = `${map.sources[src]}:${srcLine + 1}`;
    }
  }
  return best ?? "?";
}

describe("bundle rewrite: lazy modules' functions sunk into their inits", () => {
  it("runs the same, sinks what a lazy module declares, leaves cycles and eager modules alone, keeps the map", async () => {
    const { dir, rewrite, text, map, metafile } = await setUp("tsbpf-bundle-rewrite", FILES);
    const before = await runBundle(text, join(dir, "out", "bundle.cjs"));
    assert.deepEqual(before, [2, 42, 20, "0,1,2", 120, "named", "tick0", "tick1", "b saw a"]);

    const { edits, sunk, exportsSunk, localized } = rewrite.lazyModuleEdits(text, map, metafile);
    const out = rewrite.rewriteBundle(text, map, edits);
    assert.deepEqual(await runBundle(out.text, join(dir, "out", "bundle.cjs")), before);
    // lazy.js's namespace (import() resolves to it) gets its getters in its init
    assert.match(text, /var lazy_exports=\{\};__export\(lazy_exports,/);
    assert.doesNotMatch(out.text, /var lazy_exports=\{\};__export\(/);
    assert.match(out.text, /"lazy\.js"\(\)\{(?:"use strict";)?(?:var [\w$,]+;)?__export\(lazy_exports,/);
    assert.ok(exportsSunk >= 1, `${exportsSunk}`);
    // what only lazy.js uses (all it declares: main reads it through the namespace) is declared in its init
    assert.match(text, /var TABLE,init_lazy=/);
    assert.match(out.text, /var init_lazy=__esm\(\{"lazy\.js"\(\)\{(?:"use strict";)?var ([\w$]+,)*TABLE\b/);
    assert.ok(localized >= 8, `${localized}`);

    const topBefore = topLevelFunctions(text);
    const topAfter = topLevelFunctions(out.text);
    for (const f of ["twice", "later", "count", "ticks", "fact", "named", "helper", "neverCalled"]) {
      assert.ok(topBefore.includes(f), `${f} is hoisted by esbuild: ${topBefore}`);
      assert.ok(!topAfter.includes(f), `${f} is sunk: ${topAfter}`);
    }
    // the cycle's functions stay (b's init calls fromA before a's init has assigned anything)
    for (const f of ["fromA", "fromB", "eager", "run"])
      assert.ok(topAfter.includes(f), `${f} stays: ${topAfter}`);
    assert.equal(sunk, 8);

    // each sunk function still maps to the line it came from
    for (const [f, file, line] of [
      ["twice", "lazy.js", 4],
      ["fact", "lazy.js", 8],
      ["helper", "helper.js", 1],
    ] as const) {
      const at = out.text.indexOf(`${f}=function`);
      assert.ok(at > 0, f);
      assert.match(sourceAt(out.map, out.text, at + f.length + 1), new RegExp(`${file}:${line}$`), f);
    }
  });
});

const DEFERRED_FILES: Record<string, string> = {
  "main.js": `
    import { log } from "./log.js";
    export async function run(out) {
      const user = await import("./user.js");
      out.push(log.join(",") || "-");
      out.push(user.useFn(2));
      out.push(log.join(","));
      out.push(user.shadow(5), user.shorthand().defFn === user.direct(), user.viaReexport());
      out.push(Object.keys(user.namespace()).sort().join(","));
      out.push(new (user.makeSub())().who());
    }
  `,
  "log.js": `export const log = [];`,
  "deferred.js": `
    import { log } from "./log.js";
    export const STARTED = log.push("deferred");
    export function defFn(x) { return x * 7; }
    export class DefClass { who() { return "base"; } }
    export const DEF_CONST = 42;
  `,
  "reexport.js": `export { defFn as again } from "./deferred.js";`,
  "user.js": `
    import { defFn, DefClass } from "./deferred.js";
    import * as ns from "./deferred.js";
    import { again } from "./reexport.js";
    export function useFn(x) { return defFn(x); }
    export function shadow(defFn) { return typeof defFn; }
    export function shorthand() { return { defFn }; }
    export function direct() { return defFn; }
    export function viaReexport() { return again(3); }
    export function namespace() { return ns; }
    export function makeSub() { return class extends DefClass { who() { return "sub of " + super.who(); } }; }
  `,
  // a top level with an effect, and a cycle: refused
  "effect.js": `
    import { log } from "./log.js";
    log.push("effect");
    export const E = 1;
  `,
  "cycle_a.js": `import { B } from "./cycle_b.js"; export const A = () => B;`,
  "cycle_b.js": `import { A } from "./cycle_a.js"; export const B = () => A;`,
  "refused.js": `export async function load() { return [await import("./effect.js"), await import("./cycle_a.js")]; }`,
};

describe("bundle rewrite: a module initialized at first use", () => {
  it("is initialized by the first use of a binding, not by its importers; its uses work as before", async () => {
    const { dir, rewrite, text, map, metafile } = await setUp("tsbpf-bundle-defer", DEFERRED_FILES);
    const file = join(dir, "out", "bundle.cjs");
    const before = await runBundle(text, file);
    // as esbuild bundles it, user.js's init initializes deferred.js
    const rest = [14, "deferred", "number", true, 21, "DEF_CONST,DefClass,STARTED,defFn", "sub of base"];
    assert.deepEqual(before, ["deferred", ...rest]);

    const { edits, deferred } = rewrite.lazyModuleEdits(text, map, metafile, ["deferred"]);
    const out = rewrite.rewriteBundle(text, map, edits);
    const after = await runBundle(out.text, file);
    // now its first use does (useFn's call), and everything else is the same
    assert.deepEqual(after, ["-", ...rest]);
    const d = deferred.find((x) => x.module === "deferred");
    // user.js initializes it once per import statement (two), reexport.js once
    assert.equal(d?.initCalls, 3, "user.js and reexport.js no longer initialize it");
    assert.ok((d?.uses ?? 0) >= 6, `${d?.uses}`);
    // the parameter `defFn` of shadow() is not the import's
    assert.match(out.text, /shadow=function \((defFn\d*)\)\{return typeof \1\}/);
    // a use still maps to its line of user.js
    const at = out.text.indexOf("(init_deferred(),defFn)(x)");
    assert.ok(at > 0, "useFn's call is wrapped");
    assert.match(sourceAt(out.map, out.text, at + "(init_deferred(),".length), /user\.js:5$/);
  });

  it("refuses a module whose top level has an effect, or which is in a cycle", async () => {
    const files = {
      ...DEFERRED_FILES,
      "main.js": `export async function run(out) { out.push((await import("./refused.js")).load); }`,
    };
    const { rewrite, text, map, metafile } = await setUp("tsbpf-bundle-defer-refused", files);
    assert.throws(
      () => rewrite.lazyModuleEdits(text, map, metafile, ["effect"]),
      /effect: marked @init-at-first-use, but its top level runs `log\.push\("effect"\)`/,
    );
    assert.throws(
      () => rewrite.lazyModuleEdits(text, map, metafile, ["cycle_a"]),
      /cycle_a: .* import cycle/,
    );
    // a module this bundle evaluates eagerly has nothing to defer
    assert.deepEqual(rewrite.lazyModuleEdits(text, map, metafile, ["nowhere"]).deferred, []);
  });
});

describe("bundle rewrite: module inits declared as functions", () => {
  it("runs the same, on esbuild's bundle and after the other rewrites, cycles included; keeps the map", async () => {
    const { dir, rewrite, text, map, metafile } = await setUp("tsbpf-bundle-init-fns", FILES);
    const file = join(dir, "out", "bundle.cjs");
    const expected = await runBundle(text, file);
    assert.match(text, /init_lazy=__esm\(\{"lazy\.js"\(\)\{/);

    const plain = rewrite.initFunctionEdits(text);
    const once = rewrite.rewriteBundle(text, map, plain.edits);
    assert.deepEqual(await runBundle(once.text, file), expected);
    assert.doesNotMatch(once.text, /__esm\(\{/);
    assert.equal(plain.inits, (text.match(/=__esm\(\{/g) ?? []).length);
    for (const m of ["lazy", "helper", "cycle_a", "cycle_b", "never"])
      assert.ok(topLevelFunctions(once.text).includes(`init_${m}`), `init_${m} is declared`);
    assert.match(
      once.text,
      /function init_lazy\(\)\{(?:"use strict";)?init_lazy=__initDone;init_helper\(\);/,
    );

    const lazy = rewrite.lazyModuleEdits(text, map, metafile);
    const first = rewrite.rewriteBundle(text, map, lazy.edits);
    const both = rewrite.rewriteBundle(first.text, first.map, rewrite.initFunctionEdits(first.text).edits);
    assert.deepEqual(await runBundle(both.text, file), expected);
    // a statement of a module's init still maps to its line
    const at = both.text.indexOf("TABLE=[");
    assert.ok(at > 0);
    assert.match(sourceAt(both.map, both.text, at), /lazy\.js:3$/);
  });

  it("keeps the declarations beside an init, before and after it, and runs an init once", async () => {
    const { dir, rewrite } = await setUp("tsbpf-bundle-init-fns-decls", FILES);
    const text = [
      "(function (exports, require, module, __filename, __dirname) {",
      "var __getOwnPropNames=Object.getOwnPropertyNames;var __esm=(fn,res)=>function(){return fn&&(res=(0,fn[__getOwnPropNames(fn)[0]])(fn=0)),res};",
      'var runs=0,init_a=__esm({"a.js"(){"use strict";runs++;init_a();}}),after=7;',
      'var init_b=__esm({"b.js"(){runs+=10;}});',
      "module.exports.run=async(out)=>{init_a();init_a();init_b();out.push(runs,after,typeof init_a);};",
      "})",
    ].join("\n");
    const { edits, inits } = rewrite.initFunctionEdits(text);
    assert.equal(inits, 2);
    const out = rewrite.rewriteBundle(text, undefined as unknown as SourceMap, edits).text;
    assert.match(
      out,
      /var runs=0;function init_a\(\)\{"use strict";init_a=__initDone;runs\+\+;init_a\(\);\}var after=7;/,
    );
    assert.match(out, /function init_b\(\)\{init_b=__initDone;runs\+=10;\};/);
    assert.deepEqual(await runBundle(out, join(dir, "out", "inits.cjs")), [11, 7, "function"]);
  });
});
