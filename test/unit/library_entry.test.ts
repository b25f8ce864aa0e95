/**
 * The package's entries (package.json's exports: dist/bundle/index.mjs for
 * import, index.cjs for require; src/library_loader.ts): both hand on the
 * library's public names, exactly dist/src/index.js's and nothing of the
 * loader's own; the first run uses the build's code cache and writes the
 * library's own at exit (0600), later runs use that.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, it } from "node:test";
import { publicSurface } from "../../src/library_loader.js";
import { repoRoot, testTempDir } from "../helpers.js";

const MJS = join(repoRoot, "dist/bundle/index.mjs");
const CJS = join(repoRoot, "dist/bundle/index.cjs");

function run(cacheDir: string, script: string): { stdout: string; debug: string[] } {
  const r = spawnSync(process.execPath, [script], {
    encoding: "utf8",
    env: { ...process.env, TSBPF_CACHE_DIR: cacheDir, NODE_DEBUG: "tsbpf" },
  });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout, debug: r.stderr.split("\n").filter((l) => l.includes("code cache:")) };
}

describe("the package's entries (the library bundle)", () => {
  it("import and require give the library's public names, the classes themselves", async () => {
    const sources = await import(join(repoRoot, "dist/src/index.js"));
    const esm = await import(MJS);
    const cjs = createRequire(import.meta.url)(CJS) as Record<string, unknown>;
    const names = Object.keys(sources).sort();
    assert.ok(names.includes("BPF") && names.includes("CompileError"));
    assert.deepEqual(Object.keys(esm).sort(), names);
    assert.deepEqual(Object.keys(cjs).sort(), names);
    // one module instance behind both entries (the ES module re-exports the CommonJS one)
    assert.equal(esm.BPF, cjs.BPF);
    assert.equal(typeof esm.BPF.load, "function");
    assert.equal(new esm.CompileError("x").name, "CompileError");
    // the CommonJS surface keeps the bundle's getters, without esbuild's __esModule mark
    assert.equal(typeof Object.getOwnPropertyDescriptor(cjs, "BPF")?.get, "function");
    assert.equal("__esModule" in cjs, false);
  });

  it("the surface reads no name until asked: a name's module is initialized at its first read", () => {
    const reads: string[] = [];
    const bundle = {};
    Object.defineProperty(bundle, "__esModule", { value: true });
    for (const name of ["BPF", "flameGraphSvg", "__beforeSignalExit"]) {
      Object.defineProperty(bundle, name, {
        enumerable: true,
        get: () => {
          reads.push(name);
          return name;
        },
      });
    }
    const surface = publicSurface(bundle);
    assert.deepEqual(reads, []);
    assert.deepEqual(Object.keys(surface), ["BPF", "flameGraphSvg"]);
    assert.equal("__esModule" in surface, false);
    assert.equal(surface.flameGraphSvg, "flameGraphSvg");
    assert.deepEqual(reads, ["flameGraphSvg"]);
  });

  it("the first run uses the build's cache and writes the library's own; the next uses that", () => {
    const dir = testTempDir("tsbpf-libentry");
    const script = join(dir, "use.mjs");
    writeFileSync(
      script,
      `import { BPFMapType, mapTypeName } from ${JSON.stringify(MJS)};\nconsole.log(mapTypeName(BPFMapType.HASH));\n`,
    );
    const cache = join(dir, "cache");
    const started = Date.now();
    const first = run(cache, script);
    // It ends when the script does: its clang started early, taken by no compile, does not
    // hold the event loop until that clang's 10 s run out (it did, waited for from its start).
    assert.ok(Date.now() - started < 8000, `the first run took ${Date.now() - started} ms`);
    assert.equal(first.stdout, "HASH\n");
    // a first run starts a clang for the compile it may make (early_clang.ts): with none
    // made, the exit ended it and removed its work directory
    assert.deepEqual(existsSync(join(cache, "tmp")) ? readdirSync(join(cache, "tmp")) : [], []);
    assert.equal(first.debug.length, 2, first.debug.join("\n"));
    assert.match(first.debug[0] as string, /code cache: used .*\/dist\/bundle\/lib-[0-9a-f]{24}\.v8$/);
    assert.match(first.debug[1] as string, /code cache: written .*\/code\/library-[0-9a-f]{24}\.v8$/);
    const files = readdirSync(join(cache, "code"));
    assert.equal(files.length, 1);
    assert.equal(statSync(join(cache, "code", files[0] as string)).mode & 0o777, 0o600);

    const second = run(cache, script);
    assert.equal(second.stdout, first.stdout);
    assert.deepEqual(
      second.debug.map((l) => l.replace(/^.*code cache: /, "")),
      [`used ${join(cache, "code", files[0] as string)}`],
    );
  });
});
