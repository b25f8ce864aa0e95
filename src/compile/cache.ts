/**
 * tsbpf's on-disk cache: generated vmlinux.h (and its precompiled header) per
 * kernel, compiled objects per source. Writes are atomic (temp file + rename)
 * so concurrent processes never see half a file.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** $TSBPF_CACHE_DIR, else $XDG_CACHE_HOME/tsbpf, else ~/.cache/tsbpf. */
export function cacheDir(): string {
  const env = process.env.TSBPF_CACHE_DIR;
  if (env) return env;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg || join(homedir(), ".cache"), "tsbpf");
}

/** A subdirectory of the cache, created on demand. */
export function cacheSubdir(...parts: string[]): string {
  const dir = join(cacheDir(), ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** sha256 of the parts, hex, shortened. */
export function hashKey(...parts: Array<string | Uint8Array>): string {
  const h = createHash("sha256");
  for (const p of parts) {
    h.update(p);
    h.update("\0");
  }
  return h.digest("hex").slice(0, 40);
}

/** Writes a file atomically. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Reads a file, or undefined when it is missing or unreadable. */
export function readIfExists(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}
