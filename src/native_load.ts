/**
 * Finding and loading the native addon. native.ts loads it for the library
 * and throws AddonError when none loads; bundle_runner.ts loads it before
 * the bundle that holds native.ts runs (the bundle's text is mapped by the
 * addon) and does without it when none loads. Both load the same file,
 * which Node's require() loads once. Kept apart from native.ts so that the
 * runners' small bundles (dist/bundle/tsbpf.cjs, index.cjs), which Node
 * compiles at every start, hold only this.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Where the addon may be, in the order tried:
 * 1. `prebuilds/linux-<arch>/tsbpf.node`, the prebuilt addon the package ships
 *    (scripts/prebuild.sh: libbpf, libelf and zlib linked in; it needs only
 *    glibc ≥ 2.28);
 * 2. `build/Release/tsbpf.node`, a checkout's own build (scripts/bootstrap.sh),
 *    linked with the system's libbpf;
 * 3. `native/build/Release/tsbpf.node`, an installed package's addon built
 *    from source (`cd native && npx node-gyp rebuild`).
 *
 * A source build newer than the prebuild is tried before it: whoever built it
 * after the prebuild was in place (a contributor who changed native/, a user
 * who rebuilt against their own libbpf) means it to be used. A file that fails
 * to load (a glibc older than the prebuild's, a missing libbpf.so) is passed
 * over for the next one.
 *
 * (The lookup is written here rather than taken from node-gyp-build: that
 * tries build/ before prebuilds/ whatever their age, knows nothing of
 * native/build, and ends in an untyped error; this needs no dependency.)
 */
export function addonCandidates(root: string): string[] {
  const prebuild = join(root, "prebuilds", `${process.platform}-${process.arch}`, "tsbpf.node");
  const sources = [
    join(root, "build", "Release", "tsbpf.node"),
    join(root, "native", "build", "Release", "tsbpf.node"),
  ];
  const mtime = (f: string): number => {
    try {
      // (a missing file without the exception: a start stats two that are)
      return statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? -1;
    } catch {
      return -1;
    }
  };
  const prebuilt = mtime(prebuild);
  const newer = sources.filter((f) => prebuilt >= 0 && mtime(f) > prebuilt);
  return [...newer, prebuild, ...sources.filter((f) => !newer.includes(f))];
}

/** A file tried and why it did not load. */
export interface AddonAttempt {
  path: string;
  reason: string;
}

/** What loading the addon came to. */
export interface AddonLoad {
  /** The addon, from the first candidate that loaded; undefined if none did. */
  addon?: unknown;
  file?: string;
  /** Every candidate tried before it, and why it did not load. */
  tried: AddonAttempt[];
}

/**
 * One load per package root for the whole process, kept on globalThis: the
 * CLI's launcher loads the addon to map the bundle, then the bundle's own
 * copy of this module loads it again (native.ts), and the candidates' stats
 * need not be made twice.
 */
const LOADS = Symbol.for("tsbpf.addonLoads");
const globals = globalThis as { [LOADS]?: Map<string, AddonLoad> };
globals[LOADS] ??= new Map();
const loads = globals[LOADS];

/** The addon of the package at `root`, loaded once (see {@link addonCandidates} for where from). */
export function loadAddon(root: string): AddonLoad {
  let load = loads.get(root);
  if (load === undefined) {
    load = loadFrom(addonCandidates(root));
    loads.set(root, load);
  }
  return load;
}

function loadFrom(candidates: string[]): AddonLoad {
  const tried: AddonAttempt[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) {
      tried.push({ path: file, reason: "not found" });
      continue;
    }
    try {
      // What require() does with a .node file, without its module resolution
      // (createRequire and the lookups cost a start ~1.3 ms; Node 20): one load
      // per process is loadAddon's to keep.
      const mod = { exports: {} };
      process.dlopen(mod, file);
      return { addon: mod.exports, file, tried };
    } catch (err) {
      tried.push({
        path: file,
        reason: err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err),
      });
    }
  }
  return { tried };
}

/** The addons this process has loaded so far (one per package root that loaded one). */
export function loadedAddons(): unknown[] {
  return [...loads.values()].flatMap((l) => (l.addon === undefined ? [] : [l.addon]));
}
