// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * node:zlib, loaded when first used. Every start of the CLI and of a tool
 * initializes the modules that gunzip a kernel configuration or gzip a pprof
 * profile, and few of them do either: loading zlib costs a Node process
 * ~1 MB of RSS, half of it a buffer its Brotli support allocates at load.
 */
import { builtinModule } from "./builtin.js";

let zlib: typeof import("node:zlib") | undefined;

export function lazyZlib(): typeof import("node:zlib") {
  zlib ??= builtinModule<typeof import("node:zlib")>("node:zlib");
  return zlib;
}
