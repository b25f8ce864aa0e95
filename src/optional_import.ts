/**
 * import() of a package tsbpf does not bundle (the optional OpenTelemetry
 * SDK), resolved from where tsbpf is installed.
 *
 * The CLI bundle runs as a vm.Script (src/cli/launcher.ts, for V8's code
 * cache), where import() needs an experimental flag on Node 20; there the
 * launcher, an ordinary module, lends its own import() under a global
 * symbol. Everywhere else this module's import() is used.
 */
const LAUNCHER_IMPORT = Symbol.for("tsbpf.launcher.import");

export function importOptional<T>(specifier: string): Promise<T> {
  const lent = (globalThis as Record<symbol, unknown>)[LAUNCHER_IMPORT];
  if (typeof lent === "function") return (lent as (s: string) => Promise<T>)(specifier);
  return import(specifier) as Promise<T>;
}

/** What the launcher calls: its import() for the bundle's importOptional. */
export function lendImport(importer: (specifier: string) => Promise<unknown>): void {
  Object.defineProperty(globalThis, LAUNCHER_IMPORT, { value: importer, configurable: true });
}
