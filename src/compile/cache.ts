/**
 * tsbpf's on-disk cache: generated vmlinux.h (and its precompiled header) per
 * kernel, compiled objects per source. Writes are atomic (temp file + rename)
 * so concurrent processes never see half a file.
 */
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

/**
 * A 128-bit hash of the parts (hex), for cache file names. Not
 * cryptographic: loading node:crypto costs ~2 ms of a warm start, so this is
 * two independent 64-bit FNV-1a lanes; callers that must never confuse two
 * inputs store the key material next to the entry and compare it on a hit.
 */
export function hashKey(...parts: Array<string | Uint8Array>): string {
  const enc = new TextEncoder();
  let a = 0xcbf29ce484222325n;
  let b = 0x84222325cbf29ce4n;
  const PRIME = 0x100000001b3n;
  const MASK = 0xffffffffffffffffn;
  // 32-bit lanes with Math.imul are much faster than BigInt per byte; fold into the BigInt state per part.
  for (const p of parts) {
    const bytes = typeof p === "string" ? enc.encode(p) : p;
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193 ^ bytes.length;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i] as number;
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    a = ((a ^ BigInt(h1 >>> 0)) * PRIME) & MASK;
    a = ((a ^ BigInt(h2 >>> 0)) * PRIME) & MASK;
    b = ((b ^ BigInt(h2 >>> 0)) * PRIME) & MASK;
    b = ((b ^ BigInt((h1 ^ bytes.length) >>> 0)) * PRIME) & MASK;
    b = ((b ^ 0xffn) * PRIME) & MASK; // part separator
  }
  return a.toString(16).padStart(16, "0") + b.toString(16).padStart(16, "0");
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
