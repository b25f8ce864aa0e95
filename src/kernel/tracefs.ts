/**
 * tracefs: where it is (mounting it when we may), the tracepoints it lists and
 * their format files.
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BpfError, NotSupportedError, PermissionError } from "./errors.js";
import { debug, mountFs, mounts } from "./mounts.js";

let cachedRoot: string | undefined;

function mountedTracefs(): string | undefined {
  const all = mounts();
  const tracefs = all.find((m) => m.type === "tracefs");
  if (tracefs) return tracefs.dir;
  // Kernels before 4.1 (or tracefs mounted only under debugfs) show it there.
  const debugfs = all.find((m) => m.type === "debugfs" && existsSync(join(m.dir, "tracing", "trace_pipe")));
  return debugfs ? join(debugfs.dir, "tracing") : undefined;
}

/**
 * The tracefs mount point. tracefs is not mounted at boot on every system
 * (a fresh Debian 12 without systemd's sys-kernel-tracing.mount); as root we mount it at /sys/kernel/tracing, the place
 * libbpf also looks.
 */
export function tracefsRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  const found = mountedTracefs();
  if (found) {
    cachedRoot = found;
    return found;
  }
  const target = "/sys/kernel/tracing";
  // Mounting needs root (the effective uid: a setuid or sudo start counts).
  if (process.geteuid?.() !== 0) {
    throw new PermissionError(
      `tracefs is not mounted and mounting it needs root: run as root, or mount it with "mount -t tracefs nodev ${target}"`,
      "CAP_SYS_ADMIN",
    );
  }
  if (!existsSync(target)) {
    throw new NotSupportedError("tracefs", `${target} does not exist (CONFIG_TRACING is off)`);
  }
  try {
    mountFs("tracefs", "nodev", target);
    debug("mounted tracefs at %s", target);
  } catch (err) {
    throw new BpfError(`could not mount tracefs at ${target}: ${String((err as Error).message).trim()}`, {
      cause: err,
    });
  }
  cachedRoot = target;
  return target;
}

/** Path of a file in tracefs. */
export function tracefsPath(...parts: string[]): string {
  return join(tracefsRoot(), ...parts);
}

/** True when tracepoint category:event exists. */
export function tracepointExists(category: string, event: string): boolean {
  return existsSync(tracefsPath("events", category, event, "format"));
}

/** Every tracepoint as "category:event", optionally filtered by a regular expression. */
export function listTracepoints(re?: RegExp): string[] {
  const events = tracefsPath("events");
  const out: string[] = [];
  for (const cat of readdirSync(events, { withFileTypes: true })) {
    if (!cat.isDirectory()) continue;
    for (const ev of readdirSync(join(events, cat.name), { withFileTypes: true })) {
      if (!ev.isDirectory()) continue;
      const name = `${cat.name}:${ev.name}`;
      if (!re || re.test(name)) out.push(name);
    }
  }
  return out.sort();
}

/** Text of the format file of category:event; throws with the closest names when it does not exist. */
export function readTracepointFormat(category: string, event: string): string {
  const path = tracefsPath("events", category, event, "format");
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new BpfError(unknownTracepointMessage(`${category}:${event}`));
  }
}

/**
 * "tracepoint x:y does not exist on this kernel; did you mean …" (tracepoints
 * come and go across kernel versions: random:urandom_read went in 5.18).
 */
export function unknownTracepointMessage(name: string): string {
  const close = closestNames(name, listTracepoints(), 3);
  return `tracepoint ${name} does not exist on this kernel${close.length ? `; did you mean ${close.join(", ")}?` : ""}`;
}

/** Levenshtein distance (small strings). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, k) => k);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/**
 * The candidates closest to name: by edit distance, preferring those that
 * share the part after ':' (the event) when name has one.
 */
export function closestNames(name: string, candidates: string[], n: number): string[] {
  const ev = name.includes(":") ? name.slice(name.indexOf(":") + 1) : name;
  const limit = Math.max(3, Math.floor(ev.length / 2));
  const scored: Array<{ c: string; d: number }> = [];
  for (const c of candidates) {
    const cev = c.includes(":") ? c.slice(c.indexOf(":") + 1) : c;
    // An edit distance is at least the difference in length: most of a long
    // list (the kernel's ~60,000 functions) is ruled out without computing one.
    if (Math.abs(name.length - c.length) > limit + 1 && Math.abs(ev.length - cev.length) > limit) continue;
    const d = Math.min(editDistance(name, c), editDistance(ev, cev) + 1);
    const contains = cev.includes(ev) || ev.includes(cev) ? -1 : 0;
    if (d + contains <= limit) scored.push({ c, d: d + contains });
  }
  scored.sort((x, y) => x.d - y.d || x.c.localeCompare(y.c));
  return scored.slice(0, n).map((s) => s.c);
}
