/**
 * Where tsbpf's own files are: the package root holds the native addon
 * (prebuilds/, or a source build) and the shim headers (src/compile/headers).
 * Found by walking up from this module to the package.json named "tsbpf", so
 * it works from dist/src/*.js, from the CLI bundle, in a checkout and in an
 * installed package (which has no binding.gyp at its root) alike.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/**
 * The package roots known, by the URL of a directory a copy of this module
 * may be bundled in: the runner of a bundle knows its root
 * (src/bundle_runner.ts), and the bundle's copy of this module then need not
 * walk up and read package.json (~0.4 ms of a start).
 */
const FOUND = Symbol.for("tsbpf.packageRoots");
const globals = globalThis as { [FOUND]?: Map<string, string> };
globals[FOUND] ??= new Map();
const found = globals[FOUND];

/** Records that code in the directory dirUrl (a file: URL) belongs to the package at root. */
export function notePackageRoot(dirUrl: string, root: string): void {
  found.set(dirUrl, root);
}

function isTsbpfPackage(dir: string): boolean {
  const file = join(dir, "package.json");
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { name?: unknown }).name === "tsbpf";
  } catch {
    return false;
  }
}

/** The tsbpf package's root directory. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const here = import.meta.url.slice(0, import.meta.url.lastIndexOf("/"));
  root = found.get(here);
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (isTsbpfPackage(dir)) {
      root = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`tsbpf: cannot find the package root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
