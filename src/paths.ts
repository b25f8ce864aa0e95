/**
 * Where tsbpf's own files are: the package root holds the native addon
 * (build/Release) and the shim headers (src/compile/headers). Found by walking
 * up from this module, so it works from dist/src/*.js and from a bundle alike.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/** The tsbpf package's root directory. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "binding.gyp")) && existsSync(join(dir, "package.json"))) {
      root = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`tsbpf: cannot find the package root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
