// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Whether this process has compiled a program (a compile cache miss), which
 * a bundle's runner asks as it writes the code cache of a command's first
 * run (src/bundle_runner.ts): a cache written then holds the compile
 * pipeline, which later runs of the command, whose object is cached, never
 * run but would deserialize at every start. Kept in a global, because the
 * runner in the launcher's bundle and the compile in the CLI's or the
 * library's bundle are two copies of tsbpf's modules.
 */
const KEY = Symbol.for("tsbpf.compiledHere");
const globals = globalThis as { [KEY]?: boolean };

/** Notes that this process compiles a program. */
export function noteCompiled(): void {
  globals[KEY] = true;
}

/** Whether this process compiled a program. */
export function compiledHere(): boolean {
  return globals[KEY] === true;
}
