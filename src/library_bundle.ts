/**
 * The library bundle's module (dist/bundle/lib.cjs, whose entry require()s
 * it so that esbuild evaluates every module lazily: scripts/bundle.mjs): the
 * public surface, and what its loader (src/library_loader.ts) needs of the
 * inside, which the loader keeps out of the surface it hands on.
 */
export * from "./index.js";
export { beforeSignalExit as __beforeSignalExit } from "./lifecycle.js";
