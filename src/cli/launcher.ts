/**
 * The tsbpf command's entry (dist/bundle/tsbpf.cjs): runs the CLI bundle
 * (dist/bundle/cli.cjs, one CommonJS file, already wrapped in the function
 * Node's loader makes of a module: scripts/bundle.mjs) through V8's
 * code cache, which Node 20 offers for scripts (vm.Script's cachedData) but
 * not for ES modules.
 *
 * Compiling the 1.2 MB bundle, and then each function it runs the first time
 * it runs, is most of what a start costs beyond Node's own; with the cache V8
 * deserializes the compiled code instead. The cache is written at exit by the
 * first run of a command (the functions that run compiled by then), one per
 * command (`execsnoop`, `printk-sample`, `example first_step/…`), in tsbpf's
 * cache directory under its rules (src/compile/cache.ts: owned by this user,
 * writable by nobody else; V8 runs what the file holds, so that matters).
 * Its key is the bundle's content hash (built in), Node's version and the
 * CPU; V8 also refuses a cache made with other V8 flags, and the next exit
 * then writes a fresh one. A command's first run uses the cache the build
 * wrote beside the bundle (scripts/code-cache.mjs), which holds the CLI's
 * start and the compile pipeline. Any failure here only costs the cache:
 * the bundle runs compiled from source.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { debuglog } from "node:util";
import vm from "node:vm";
import { cacheSubdir, hashKey, readCached, writeAtomic } from "../compile/cache.js";
import { lendImport } from "../optional_import.js";

const debug = debuglog("tsbpf");

/** Set by scripts/bundle.mjs: a hash of dist/bundle/cli.cjs's bytes. */
declare const __TSBPF_CLI_HASH__: string;

/**
 * The name of the code cache the build writes beside the bundle
 * (scripts/code-cache.mjs), for a command that has none yet: named by the
 * bundle's hash, because V8 checks only a cache's source length.
 */
export function builtCacheName(cliHash: string): string {
  return `cli-${cliHash.slice(0, 24)}.v8`;
}

/** The command a cache serves: the first argument (and the example's name), if it looks like one. */
function commandOf(argv: string[]): string | undefined {
  const [cmd, arg] = argv;
  if (cmd === undefined || !/^[a-z][a-z0-9_-]{0,40}$/.test(cmd)) return undefined;
  if (cmd === "example")
    return arg && /^[a-z0-9_]+\/[a-z0-9_]+$/.test(arg) ? `${cmd}-${arg.replace("/", "-")}` : undefined;
  return cmd;
}

function cachePath(command: string): string | undefined {
  try {
    const name = hashKey(__TSBPF_CLI_HASH__, process.version, process.arch, command);
    return join(cacheSubdir("code"), `${command}-${name.slice(0, 24)}.v8`);
  } catch (err) {
    debug("code cache: %s", (err as Error).message);
    return undefined;
  }
}

/**
 * The build's code cache ({@link builtCacheName}), if V8 may run it: it lies
 * beside the bundle and is trusted as the bundle is, so it must have the
 * bundle's owner and be writable by no one who cannot write the bundle.
 */
function readBuiltCache(path: string): Buffer | undefined {
  const dir = dirname(path);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined; // not built: compiled from source
  }
  try {
    const st = fstatSync(fd);
    const bundle = statSync(join(dir, "cli.cjs"));
    if (!st.isFile() || st.uid !== bundle.uid || (st.mode & 0o022 & ~bundle.mode) !== 0) {
      debug("code cache: %s is not the bundle's own (owner or mode): not read", path);
      return undefined;
    }
    return readFileSync(fd);
  } catch (err) {
    debug("code cache: %s", (err as Error).message);
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The CLI bundle (dir/cli.cjs) compiled, with V8's cache of it if one is given. */
export function compileBundle(dir: string, cachedData?: Buffer): vm.Script {
  const file = join(dir, "cli.cjs");
  // (one copy of the text: V8 keeps it for the functions it compiles later)
  return new vm.Script(readFileSync(file, "utf8"), { filename: file, cachedData });
}

/** Runs the compiled bundle as Node's loader runs a CommonJS module (it is written already wrapped). */
export function runBundle(dir: string, script: vm.Script): void {
  const file = join(dir, "cli.cjs");
  const mod = new Module(file);
  mod.filename = file;
  const require = createRequire(file);
  // import() of what the bundle leaves out (the OpenTelemetry SDK) is this module's (optional_import.ts)
  lendImport((specifier) => import(specifier));
  (script.runInThisContext() as (...args: unknown[]) => void).call(
    mod.exports,
    mod.exports,
    require,
    mod,
    file,
    dir,
  );
}

export function launch(dir: string): void {
  const command = commandOf(process.argv.slice(2));
  const path = command === undefined ? undefined : cachePath(command);
  let cachedData: Buffer | undefined;
  if (path !== undefined) {
    try {
      cachedData = readCached(path);
    } catch (err) {
      debug("code cache: %s", (err as Error).message);
    }
  }
  // No cache of this command yet: the build's.
  const built = join(dir, builtCacheName(__TSBPF_CLI_HASH__));
  const used = cachedData !== undefined ? path : built;
  cachedData ??= readBuiltCache(built);
  const script = compileBundle(dir, cachedData);
  if (cachedData !== undefined)
    debug("code cache: %s %s", script.cachedDataRejected ? "rejected" : "used", used);
  // The command's own cache, written at exit when it has none that V8 took:
  // it holds what the command ran (the build's holds what the build ran).
  if (path !== undefined && (used !== path || script.cachedDataRejected === true)) {
    process.once("exit", () => {
      try {
        writeAtomic(path, script.createCachedData());
        debug("code cache: written %s", path);
      } catch (err) {
        debug("code cache: %s", (err as Error).message);
      }
    });
  }
  runBundle(dir, script);
}
