// Bundles the CLI and the library into dist/bundle:
//  - cli.cjs: the whole CLI (commands, tools, the tutorial's programs, the
//    library), one CommonJS file. Every dynamic import() of the sources (a
//    command, a tool, an example, the compile pipeline, the exporter) is a
//    lazily evaluated module inside it, so a start runs only what its
//    command reaches.
//  - tsbpf.cjs: the `tsbpf` command (src/cli/launcher.ts), which runs
//    cli.cjs through V8's code cache (Node 20 has one for scripts, none for
//    ES modules; see the launcher).
//  - lib.cjs, index.cjs, index.mjs: the library, the package's entry
//    (package.json's exports), run through V8's code cache as the CLI is
//    (below). dist/src keeps the modules for the type declarations, the
//    `tsbpf/printf` subpath and the tests.
// Measured on Node 20 (bench/startup.ts): one ES module bundle of the CLI
// spent ~40 ms compiling itself at every start, and an ESM bundle split into
// chunks (esbuild's splitting) ~1 ms per chunk in Node's ES module loader;
// the cached script costs a few ms.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { build } from "esbuild";
import { INIT_AT_FIRST_USE, initFunctionEdits, lazyModuleEdits, rewriteBundle } from "./bundle_rewrite.mjs";

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  // Comments and whitespace are most of the source: dropping them halves the
  // parse time of a start. Names are kept (error classes report their name).
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  // (esbuild's default, stated: the runner maps cli.cjs and lib.cjs as
  // one-byte text, src/bundle_runner.ts, so their bytes must be their text)
  charset: "ascii",
  // The sources are ES modules: import.meta.url (where the package's files
  // are) becomes the bundle file's own URL, as an ES module bundle had it.
  define: { "import.meta.url": "__tsbpfModuleUrl" },
  banner: { js: 'var __tsbpfModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
};

// (older layouts left other files there). Removed, not written over: a
// running tsbpf maps its bundle's file (src/bundle_runner.ts), which keeps
// the old file while it runs, where a file truncated under it would end it
// (SIGBUS) when V8 next reads its text.
rmSync("dist/bundle", { recursive: true, force: true });

// cli.cjs and lib.cjs are written as the function Node's CommonJS loader
// would make of them (Module.wrap's parameters), so that their runner
// (src/bundle_runner.ts) compiles the file's text as it is: wrapping it at
// run time held two more copies of the 1.3 MB source (the "#!" line
// replaced, then the wrapped string V8 flattens) at the start's peak. Each
// is therefore a script for its runner, not a module to require. Returns
// the bundle's hash, which its runner has built in. `entry`: a module's path,
// or CommonJS text (`{ contents }`, resolved from dist/src) as runner()'s are.
async function wrappedBundle(stem, entry) {
  const file = `dist/bundle/${stem}.cjs`;
  const { metafile } = await build({
    ...common,
    ...(typeof entry === "string"
      ? { entryPoints: [entry] }
      : { stdin: { contents: entry.contents, resolveDir: "dist/src", sourcefile: `${stem}-entry.cjs` } }),
    banner: {
      js: `(function (exports, require, module, __filename, __dirname) {\n${common.banner.js}`,
    },
    footer: { js: "})" },
    outfile: file,
    sourcemap: true,
    metafile: true,
    // The OpenTelemetry SDK (--otlp) is an optional dependency, imported
    // dynamically by src/export/otlp.ts only when asked for: left out of the
    // bundle, it costs a start nothing and need not be installed to build;
    // Node resolves it from node_modules beside the package at run time.
    external: [
      "@opentelemetry/sdk-metrics",
      "@opentelemetry/exporter-metrics-otlp-http",
      "@opentelemetry/resources",
    ],
  });
  const out = rewriteLazily(file, stem, metafile);
  const bytes = Buffer.from(out.text, "latin1");
  const wide = bytes.findIndex((b) => b > 0x7f);
  if (wide >= 0) throw new Error(`${file}: a byte outside ASCII at offset ${wide}`);
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * One rewrite of a bundle and its map (scripts/bundle_rewrite.mjs says why
 * and when each is safe): the lazy modules' functions and exports sunk into
 * their inits (a start no longer creates a closure for each function of
 * every tool and command it does not run), the modules marked
 * `// @init-at-first-use` initialized when first used rather than by their
 * importers, and the __name helper made cheap; then each module's init made
 * a declared function. Writes the bundle and its map; returns the text.
 */
function rewriteLazily(file, stem, metafile) {
  const text = readFileSync(file, "latin1");
  const map = JSON.parse(readFileSync(`${file}.map`, "utf8"));
  // (the mark is read from the TypeScript source: tsc drops a comment before
  // an import it elides)
  const atFirstUse = Object.keys(metafile.inputs)
    .map((path) => path.replace(/^dist\//, "").replace(/\.js$/, ""))
    .filter((key) => existsSync(`${key}.ts`) && INIT_AT_FIRST_USE.test(readFileSync(`${key}.ts`, "utf8")));
  const lazy = lazyModuleEdits(text, map, metafile, atFirstUse);
  const edits = [...lazy.edits, ...nameHelperEdits(file, text)];
  const deferred = lazy.deferred.filter((d) => d.initCalls > 0 || d.uses > 0);
  console.log(
    `bundle: ${stem}.cjs: ${lazy.sunk} functions and ${lazy.exportsSunk} namespaces sunk into their modules' inits, ${lazy.localized} bindings declared there; ` +
      `${deferred.length} modules initialized at first use (${deferred.reduce((n, d) => n + d.uses, 0)} uses)`,
  );
  const first = rewriteBundle(text, map, edits);
  // then each module's init made a declared function (initFunctionEdits says why)
  const inits = initFunctionEdits(first.text);
  const out = rewriteBundle(first.text, first.map, inits.edits);
  console.log(`bundle: ${stem}.cjs: ${inits.inits} module inits declared as functions`);
  writeFileSync(file, out.text, "latin1");
  writeFileSync(`${file}.map`, JSON.stringify(out.map));
  return out;
}

/**
 * keepNames makes esbuild call its `__name` helper on every function and
 * class when its module starts (~2,100 calls in cli.cjs), and the helper
 * redefines the `name` property each time: ~280 KB of a start's heap, and
 * with it one of the young generation's scavenges (Node 20). A name needs
 * it only where esbuild renamed the function or class (a collision:
 * `parse2`, or `class _BPF` for a class that refers to itself), so the
 * helper is rewritten to define the name only where it differs from the one
 * the function already has: every name stays what keepNames makes it.
 */
function nameHelperEdits(file, text) {
  const helper = 'var __name=(target,value)=>__defProp(target,"name",{value,configurable:!0})';
  if (!text.includes("__name(")) return [];
  const at = text.indexOf(helper);
  if (at < 0 || text.indexOf(helper, at + 1) >= 0)
    throw new Error(`${file}: esbuild's __name helper is not the one scripts/bundle.mjs rewrites; update nameHelperEdits`);
  const cheap = 'var __name=(target,value)=>target.name===value?target:__defProp(target,"name",{value,configurable:!0})';
  return [{ start: at, end: at + helper.length, pieces: [cheap] }];
}

/**
 * A bundle's runner: `contents` (CommonJS), with the bundle's hash as
 * `hashName`. Its entry require()s the runner's module, so esbuild wraps
 * each module in an init, and the runner gets the bundles' rewrite
 * (rewriteLazily): a module marked `// @init-at-first-use` (such as
 * builtin_fallback.ts, which loads node:module) is initialized only when
 * first used in the runner too. The rewrite works on a module wrapper, so the
 * runner is built inside one, which it then calls with its own module's
 * arguments; the source map the rewrite reads is not kept.
 */
async function runner(outfile, contents, hashName, hash, shebang = "") {
  const { metafile } = await build({
    ...common,
    stdin: { contents, resolveDir: ".", sourcefile: `${outfile}-entry.js` },
    outfile,
    sourcemap: "external",
    metafile: true,
    define: { ...common.define, [hashName]: JSON.stringify(hash) },
    banner: { js: `${shebang}(function (exports, require, module, __filename, __dirname) {\n${common.banner.js}` },
    footer: { js: "})" },
  });
  const { text } = rewriteLazily(outfile, basename(outfile, ".cjs"), metafile);
  const end = text.lastIndexOf("})");
  if (end < 0 || text.slice(end + 2).trim() !== "") throw new Error(`${outfile}: the wrapper's end is not where it was written`);
  writeFileSync(outfile, `${text.slice(0, end)}}).call(this, exports, require, module, __filename, __dirname);\n`, "latin1");
  rmSync(`${outfile}.map`);
}

// The CLI: cli.cjs and the `tsbpf` command, tsbpf.cjs.
const cliHash = await wrappedBundle("cli", "dist/src/cli/main.js");
await runner(
  "dist/bundle/tsbpf.cjs",
  'require("./dist/src/cli/launcher.js").launch(__dirname);\n',
  "__TSBPF_CLI_HASH__",
  cliHash,
  "#!/usr/bin/env node\n",
);

// The library (what `import … from "tsbpf"` or `require("tsbpf")` loads),
// run through V8's code cache as the CLI is (src/library_loader.ts):
//  - lib.cjs: the library (src/library_bundle.ts);
//  - index.cjs: its runner, the package's entry for require();
//  - index.mjs: the entry for import, index.cjs's names as an ES module's
//    (fixed here: an ES module's exports are static).
// Measured on Node 20 (bench/startup.ts's library row): the library's ~80
// modules took ~95 ms and ~13 MB to import, one ES module bundle ~25 ms and
// ~5 MB, compiled again at every start; this, warm, ~20 ms less than that.
// Bundled CommonJS dependencies (prom-client, yaml) keep their require().
// The bundle's entry require()s the library's (src/library_bundle.ts): esbuild
// then evaluates every module lazily, as the CLI's commands are, so the modules
// marked `// @init-at-first-use` are initialized when first used, and the
// others' functions are sunk into their inits (scripts/bundle_rewrite.mjs).
// As one ES module graph, lib.cjs evaluated all ~110 modules at its start and
// declared ~490 functions at its top level; now an import of the package that
// loads a program and reads a perf buffer initializes ~50 (the names index.mjs
// reads, and what they use). Measured (bench/startup.ts's library row, warm,
// 15 interleaved rounds each, two runs): 50.0 -> 45.4 and 51.9 -> 45.4 ms over
// a bare Node.
const libHash = await wrappedBundle("lib", { contents: 'module.exports = require("./library_bundle.js");\n' });
await runner(
  "dist/bundle/index.cjs",
  'module.exports = require("./dist/src/library_loader.js").loadLibrary(__dirname);\n',
  "__TSBPF_LIB_HASH__",
  libHash,
);
const names = Object.keys(await import(resolve("dist/src/index.js")))
  .filter((n) => n !== "default")
  .sort();
writeFileSync(
  "dist/bundle/index.mjs",
  `// The library for import (package.json's exports): the names of index.cjs,
// which runs lib.cjs through V8's code cache (scripts/bundle.mjs). require()d,
// not imported: Node imports a CommonJS module only after a scan of its text
// for the names it exports (cjs-module-lexer), which took 7-12 ms of an
// import of the package for index.cjs's 25 KB, and made V8 optimize the
// lexer on a worker thread (~15 ms of CPU, at a first compile's start,
// beside clang's dynamic loader); node:module, which an ES module's loader
// has loaded already, costs ~0.6 ms (Node 20).
const { createRequire } = process.getBuiltinModule?.("node:module") ?? (await import("node:module"));
const library = createRequire(import.meta.url)("./index.cjs");
export const { ${names.join(", ")} } = library;
`,
);

// V8's code caches of cli.cjs and lib.cjs for a first run (scripts/code-cache.mjs),
// made with every new bundle: a cache only serves the bundle it was made from.
for (const [stem, hash] of [
  ["cli", cliHash],
  ["lib", libHash],
]) {
  const cache = spawnSync(process.execPath, ["scripts/code-cache.mjs", stem, hash], { stdio: "inherit" });
  if (cache.status !== 0) process.exit(cache.status ?? 1);
}
