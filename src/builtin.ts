/**
 * Node's built-in modules, fetched when first needed, without node:module.
 *
 * The modules that load a heavy built-in only on the paths that need it
 * (child_process to run clang or mount(8), zlib, v8) fetched it through
 * node:module's createRequire, and importing node:module itself costs a
 * start ~1.1 ms: Node's lib/module.js brings the ES module loader with it
 * (Node 20; measured in a CommonJS main, median of 5). process.getBuiltinModule
 * (Node 20.16 and 22.3) returns a built-in module without it. On an older
 * Node 20, node:module is loaded at the first such fetch (builtin_fallback.ts,
 * which the bundle initializes at its first use).
 */
import { requireWithModule } from "./builtin_fallback.js";

type GetBuiltinModule = (id: string) => unknown;

/**
 * `id` as Node's built-in module when it is one and Node can say so without
 * node:module; anything else require()d as a module at `from` (a path or a
 * file: URL; builtin_fallback.ts's own by default) would.
 */
export function builtinOrRequire(id: string, from?: string): unknown {
  const get = (process as { getBuiltinModule?: GetBuiltinModule }).getBuiltinModule;
  return get?.(id) ?? requireWithModule(id, from);
}

/** The built-in module `id` ("node:child_process"); throws as require() does for a name that is not one. */
export function builtinModule<T>(id: `node:${string}`): T {
  return builtinOrRequire(id) as T;
}
