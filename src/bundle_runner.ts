/**
 * Runs one of tsbpf's CommonJS bundles through V8's code cache: the CLI
 * (dist/bundle/cli.cjs, by src/cli/launcher.ts) and the library
 * (dist/bundle/lib.cjs, by src/library_loader.ts). Node 20 offers a code
 * cache for scripts (vm.Script's cachedData) but none for ES modules or for
 * what its CommonJS loader compiles, so each bundle is written already
 * wrapped in the function Node's loader makes of a module
 * (scripts/bundle.mjs) and compiled here as a script.
 *
 * Compiling a bundle, and then each function it runs the first time it runs,
 * is most of what a start costs beyond Node's own; with a cache V8
 * deserializes the compiled code instead. Two caches serve a bundle:
 *  - its own cache for one use (a CLI command, the library), in tsbpf's
 *    cache directory under its rules (src/compile/cache.ts: owned by this
 *    user, writable by nobody else; V8 runs what the file holds, so that
 *    matters), written when the process ends by the first run of that use
 *    (holding the functions that ran by then). Its key is the bundle's
 *    content hash (built in by scripts/bundle.mjs), Node's version and the
 *    CPU; V8 also refuses a cache made with other V8 flags, and that run
 *    writes a fresh one;
 *  - else the cache the build wrote beside the bundle (scripts/code-cache.mjs),
 *    named by the bundle's hash, because V8 checks only a cache's source
 *    length.
 * Any failure here only costs the cache: the bundle runs compiled from source.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { debuglog } from "node:util";
import vm from "node:vm";
import { builtinOrRequire } from "./builtin.js";
import { cacheSubdir, hashKey, readCached, writeAtomic } from "./compile/cache.js";
import { restoreV8Flags } from "./compile_pause.js";
import { compiledHere } from "./compiled_here.js";
import type { NativeAddon } from "./native.js";
import { loadAddon } from "./native_load.js";
import { lendImport } from "./optional_import.js";
import { notePackageRoot } from "./paths.js";

const debug = debuglog("tsbpf");

/** The bundle file's stem: "cli" for cli.cjs. */
function stemOf(bundleFile: string): string {
  return basename(bundleFile).replace(/\.cjs$/, "");
}

/** The name of a code cache the build writes beside a bundle ("cli", "cli-compile" or "lib"), named by the bundle's hash. */
export function builtCacheName(stem: string, bundleHash: string): string {
  return `${stem}-${bundleHash.slice(0, 24)}.v8`;
}

/** Where the code cache of one use of a bundle lives in tsbpf's cache directory. */
function ownCachePath(bundleHash: string, use: string): string | undefined {
  try {
    const name = hashKey(bundleHash, process.version, process.arch, use);
    return join(cacheSubdir("code"), `${use}-${name.slice(0, 24)}.v8`);
  } catch (err) {
    debug("code cache: %s", (err as Error).message);
    return undefined;
  }
}

/**
 * The build's code cache, if V8 may run it: it lies beside the bundle and
 * is trusted as the bundle is, so it must have the bundle's owner and be
 * writable by no one who cannot write the bundle.
 */
function readBuiltCache(path: string, bundleFile: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined; // not built: compiled from source
  }
  try {
    const st = fstatSync(fd);
    const bundle = statSync(bundleFile);
    if (!st.isFile() || st.uid !== bundle.uid || (st.mode & 0o022 & ~bundle.mode) !== 0) {
      debug("code cache: %s is not the bundle's own (owner or mode): not read", path);
      return undefined;
    }
    const map = addonOf(bundleFile)?.mapFile;
    if (map) {
      try {
        // (see readCached: a mapping costs less than a read, and V8 only reads it)
        return Buffer.from(map(path));
      } catch {
        // read it
      }
    }
    return readFileSync(fd);
  } catch (err) {
    debug("code cache: %s", (err as Error).message);
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The addon, loaded from the package the bundle is in (dist/bundle/NAME.cjs under its root); undefined when none loads. */
function addonOf(bundleFile: string): Pick<NativeAddon, "mapText" | "mapFile"> | undefined {
  try {
    const root = join(dirname(bundleFile), "..", "..");
    notePackageRoot(pathToFileURL(dirname(bundleFile)).href, root);
    return loadAddon(root).addon as Pick<NativeAddon, "mapText" | "mapFile">;
  } catch (err) {
    debug("addon: %s", (err as Error).message);
    return undefined;
  }
}

/**
 * A bundle's text as V8 will keep it: V8 keeps a script's source for as
 * long as the script lives (for the functions it compiles later), so the
 * text is mapped from the file by the addon (native/mapfile.c's mapText)
 * where it can be. Run from a code cache, V8 then reads only the pages of
 * the functions it compiles from source (execsnoop and printk_sample, warm
 * or cold, none of the CLI bundle's 1.3 MB; the library 4 pages), where a
 * string read from the file costs its whole size on the heap. Measured on
 * Node 20 (median of 9, A/B in one run): execsnoop's peak 49.3 -> 47.8 MB
 * warm, 50.6 -> 48.9 MB cold. Read from the file when no
 * addon loads (the CLI then says why) or this Node cannot map a string.
 * A bundle is ASCII (esbuild escapes the rest; scripts/bundle.mjs checks),
 * so its bytes are its characters.
 */
function bundleText(bundleFile: string): string {
  try {
    const text = addonOf(bundleFile)?.mapText?.(bundleFile);
    if (text !== undefined) return text;
  } catch (err) {
    debug("bundle text: %s", (err as Error).message);
  }
  return readFileSync(bundleFile, "utf8");
}

/** A bundle compiled, with V8's cache of it if one is given. */
export function compileBundle(bundleFile: string, cachedData?: Buffer): vm.Script {
  return new vm.Script(bundleText(bundleFile), { filename: bundleFile, cachedData });
}

/**
 * V8's code cache of a compiled bundle, as the next start will check it:
 * V8's flags are part of that check, so the flags a compile pauses are first set
 * back as the process started, whatever compile's pause is still held.
 */
export function codeCacheOf(script: vm.Script): Buffer {
  restoreV8Flags();
  return script.createCachedData();
}

/**
 * Runs a compiled bundle as Node's loader runs a CommonJS module (it is
 * written already wrapped): its exports. Of its `module`, a bundle uses only
 * `exports`, so it is given a plain object, not a node:module Module.
 */
export function runBundle(bundleFile: string, script: vm.Script): unknown {
  const mod = { exports: {} as unknown, filename: bundleFile, id: bundleFile };
  // A bundle require()s only Node's built-in modules (esbuild put every
  // package into it): those without node:module, whose load costs a start
  // ~1.1 ms (builtin.ts); anything else as a require() at the bundle's path.
  const require = (id: string): unknown => builtinOrRequire(id, bundleFile);
  // import() of what the bundle leaves out (the OpenTelemetry SDK) is this module's (optional_import.ts)
  lendImport((specifier) => import(specifier));
  (script.runInThisContext() as (...args: unknown[]) => void).call(
    mod.exports,
    mod.exports,
    require,
    mod,
    bundleFile,
    dirname(bundleFile),
  );
  return mod.exports;
}

export interface CachedBundle {
  script: vm.Script;
  /**
   * Writes the use's own cache (the functions compiled by then), once; set
   * only when the use has none that V8 took. The caller runs it as the
   * process ends.
   */
  saveCache?: () => void;
}

/** Which run of a use this is, as its cache directory tells: its first, or a later one after a first that compiled. */
export type RunOfUse = "first" | "after-compile";

/**
 * A bundle compiled with the best cache there is for `use` (undefined: no
 * cache of its own, the build's only). `built` names which of the build's
 * caches serves a use that has none of its own yet (scripts/code-cache.mjs
 * writes "cli", "cli-compile" and "cli-run" for the CLI, "lib" and
 * "lib-run" for the library), asked only then; the bundle's stem by default.
 *
 * A use's own cache holds all that the cache its first run started from
 * held, and what that run compiled; V8 deserializes all of it at every later
 * start (~13 us a KB on Node 20). So a first run that compiled a program
 * (compiled_here.ts) leaves only a mark that it did (`USE-KEY.compiled`),
 * and the next run, likely one whose object is cached, starts from the
 * build's cache of such a run (`built("after-compile")`) and writes the
 * use's own: without the compile pipeline, ~150 KB smaller (printk_sample's
 * 593 KB instead of 740). A use whose run after the mark compiles again
 * (`tsbpf compile` of one file after another) keeps what it compiled.
 */
export function compileCached(
  bundleFile: string,
  bundleHash: string,
  use: string | undefined,
  built: (run: RunOfUse) => string = () => stemOf(bundleFile),
  /** Called, before the bundle compiles, when `use` has no cache of its own yet (its first run here). */
  firstRun?: (addon: unknown) => void,
): CachedBundle {
  const path = use === undefined ? undefined : ownCachePath(bundleHash, use);
  let cachedData: Buffer | undefined;
  if (path !== undefined) {
    try {
      const map = addonOf(bundleFile)?.mapFile;
      cachedData = readCached(path, map && ((p) => map(p)));
    } catch (err) {
      debug("code cache: %s", (err as Error).message);
    }
  }
  let used = path;
  const mark = path?.replace(/\.v8$/, ".compiled");
  let run: RunOfUse = "first";
  if (cachedData === undefined && mark !== undefined) {
    try {
      if (readCached(mark) !== undefined) run = "after-compile";
    } catch (err) {
      debug("code cache: %s", (err as Error).message);
    }
    if (run === "first") firstRun?.(addonOf(bundleFile));
  }
  if (cachedData === undefined) {
    // No cache of this use yet: the build's.
    used = join(dirname(bundleFile), builtCacheName(built(run), bundleHash));
    cachedData = readBuiltCache(used, bundleFile);
  }
  const script = compileBundle(bundleFile, cachedData);
  if (cachedData !== undefined)
    debug("code cache: %s %s", script.cachedDataRejected ? "rejected" : "used", used);
  // The use's own cache, when it has none that V8 took: it holds what the
  // use ran (the build's holds what the build ran).
  if (path === undefined || mark === undefined || (used === path && script.cachedDataRejected !== true))
    return { script };
  let saved = false;
  const saveCache = (): void => {
    if (saved) return;
    saved = true;
    try {
      if (run === "first" && used !== path && compiledHere()) {
        writeAtomic(mark, Buffer.alloc(0));
        debug("code cache: marked %s", mark);
        return;
      }
      writeAtomic(path, codeCacheOf(script));
      debug("code cache: written %s", path);
    } catch (err) {
      debug("code cache: %s", (err as Error).message);
    }
  };
  return { script, saveCache };
}
