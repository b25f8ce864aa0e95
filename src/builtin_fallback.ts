// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * require() from node:module, for what process.getBuiltinModule cannot give:
 * a built-in module on a Node older than 20.16 (builtin.ts), a package
 * (bundle_runner.ts). In the bundles, node:module loads at this module's first use.
 */
import { createRequire } from "node:module";

/** require(id) as a module at `from` (a path or a file: URL) would; this module's own by default. */
export function requireWithModule(id: string, from: string = import.meta.url): unknown {
  return createRequire(from)(id);
}
