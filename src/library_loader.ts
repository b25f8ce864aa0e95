/**
 * The library's entry for `require("tsbpf")` (dist/bundle/index.cjs; the
 * ES module entry dist/bundle/index.mjs re-exports it): runs the library
 * bundle (dist/bundle/lib.cjs) through V8's code cache
 * (src/bundle_runner.ts), as the tsbpf command runs the CLI's. Node 20 has
 * no code cache for ES modules: imported as one ES module bundle, the
 * library was compiled at every start. Measured (bench/startup.ts's library
 * row, both builds interleaved in one run, median of 9): warm 91 -> 81 ms,
 * cold 287 -> 255 ms. The surface it hands on keeps the bundle's getters
 * (publicSurface): a module is initialized when a name it gives is read.
 *
 * The library's own cache ("library") is written when the process ends,
 * by the first run that has none V8 takes: at 'exit', or, when the library
 * ends the process for SIGINT or SIGTERM (src/lifecycle.ts re-raises the
 * signal, so 'exit' listeners do not run), just before.
 */
import { join } from "node:path";
import { compileCached, runBundle } from "./bundle_runner.js";
import { startEarlyClang } from "./compile/early_clang.js";

/** Set by scripts/bundle.mjs: a hash of dist/bundle/lib.cjs's bytes. */
declare const __TSBPF_LIB_HASH__: string;

interface LibraryBundle {
  __beforeSignalExit(fn: () => void): void;
  [name: string]: unknown;
}

export function loadLibrary(dir: string): Record<string, unknown> {
  const file = join(dir, "lib.cjs");
  // The library's first run in a cache directory is likely a first compile:
  // its clang starts now (src/compile/early_clang.ts; ended in 10 s if no
  // compile takes it).
  // (the build's cache of a start whose program is compiled, after a first run that compiled)
  const { script, saveCache } = compileCached(
    file,
    __TSBPF_LIB_HASH__,
    "library",
    (run) => (run === "first" ? "lib" : "lib-run"),
    startEarlyClang,
  );
  const bundle = runBundle(file, script) as LibraryBundle;
  if (saveCache) {
    process.once("exit", saveCache);
    bundle.__beforeSignalExit(saveCache);
  }
  return publicSurface(bundle);
}

/**
 * The bundle's public names, with their getters: the bundle evaluates its
 * modules lazily (scripts/bundle.mjs), and reading a name initializes what
 * it needs, so a copy of the values (a spread) would initialize every
 * module at the start. Without the loader's own name and esbuild's
 * `__esModule` mark (not enumerable; a spread dropped it too, and with it
 * a default import of the CommonJS entry would be `undefined`).
 */
export function publicSurface(bundle: object): Record<string, unknown> {
  const surface: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(bundle))) {
    if (!d.enumerable || name === "__beforeSignalExit") continue;
    Object.defineProperty(surface, name, { ...d, configurable: true });
  }
  return surface;
}
