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
 * then writes a fresh one. Any failure here only costs the cache: the
 * bundle runs compiled from source.
 */
import { readFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { join } from "node:path";
import { debuglog } from "node:util";
import vm from "node:vm";
import { cacheSubdir, hashKey, readCached, writeAtomic } from "../compile/cache.js";
import { lendImport } from "../optional_import.js";

const debug = debuglog("tsbpf");

/** Set by scripts/bundle.mjs: a hash of dist/bundle/cli.cjs's bytes. */
declare const __TSBPF_CLI_HASH__: string;

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

export function launch(dir: string): void {
  const file = join(dir, "cli.cjs");
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
  // (one copy of the text: V8 keeps it for the functions it compiles later)
  const script = new vm.Script(readFileSync(file, "utf8"), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  // import() of what the bundle leaves out (the OpenTelemetry SDK) is this module's (optional_import.ts)
  lendImport((specifier) => import(specifier));
  if (cachedData !== undefined)
    debug("code cache: %s %s", script.cachedDataRejected ? "rejected" : "used", path);
  if (path !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    process.once("exit", () => {
      try {
        writeAtomic(path, script.createCachedData());
        debug("code cache: written %s", path);
      } catch (err) {
        debug("code cache: %s", (err as Error).message);
      }
    });
  }
  const mod = new Module(file);
  mod.filename = file;
  const require = createRequire(file);
  (script.runInThisContext() as (...args: unknown[]) => void).call(
    mod.exports,
    mod.exports,
    require,
    mod,
    file,
    dir,
  );
}
