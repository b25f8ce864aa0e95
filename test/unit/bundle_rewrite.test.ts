/**
 * scripts/bundle_rewrite.mjs: the functions of a lazily evaluated module
 * (esbuild's `__esm`) sunk into the module's init. A small program bundled
 * as scripts/bundle.mjs bundles the CLI: it prints the same after the
 * rewrite; a function of a module that nothing initialized is no longer
 * declared at the bundle's top level; the modules of an import cycle keep
 * theirs; the rewritten source map still maps each function to its source.
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
  sinkLazyFunctionEdits(text: string, map: SourceMap, metafile: Metafile): { edits: Edit[]; sunk: number };
  rewriteBundle(text: string, map: SourceMap, edits: Edit[]): { text: string; map: SourceMap };
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

async function bundled(dir: string): Promise<{ text: string; map: SourceMap; metafile: Metafile }> {
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
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
    const dir = testTempDir("tsbpf-bundle-rewrite");
    mkdirSync(join(dir, "out"));
    const rewrite = (await import(
      pathToFileURL(join(repoRoot, "scripts/bundle_rewrite.mjs")).href
    )) as Rewrite;
    const { text, map, metafile } = await bundled(dir);
    const before = await runBundle(text, join(dir, "out", "bundle.cjs"));
    assert.deepEqual(before, [2, 42, 20, "0,1,2", 120, "named", "tick0", "tick1", "b saw a"]);

    const { edits, sunk } = rewrite.sinkLazyFunctionEdits(text, map, metafile);
    const out = rewrite.rewriteBundle(text, map, edits);
    assert.deepEqual(await runBundle(out.text, join(dir, "out", "bundle.cjs")), before);

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
