// @init-at-first-use (scripts/bundle_rewrite.mjs)
/** tsbpf's header directory (shipped as source, not compiled) and what identifies its contents. */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { native } from "../native.js";
import { packageRoot } from "../paths.js";

/** Where tsbpf's headers live: its own (tsbpf/, bcc/) and the kernel-macro shims. */
export const HEADERS_DIR = join(packageRoot(), "src", "compile", "headers");

/**
 * Every file of the headers directory as "path:size:mtime", in a fixed order:
 * what cache keys use to notice a changed header (stat only, so a warm start
 * reads no header). Made by the addon where it can (native/tree_stamps.c:
 * the walk in JavaScript took 2-7 ms of a warm start's cache lookup), else
 * here; the two spell a stamp differently, and a key made from one matches
 * only keys made from the same one.
 */
export function headerStamps(dir = HEADERS_DIR): string[] {
  let walk: ((dir: string) => string) | undefined;
  try {
    walk = native().treeStamps;
  } catch {
    // no addon: the stamps in JavaScript
  }
  return walk ? [walk(dir)] : stampsIn(dir, "");
}

function stampsIn(dir: string, base: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...stampsIn(join(dir, e.name), rel));
    else {
      const st = statSync(join(dir, e.name));
      out.push(`${rel}:${st.size}:${st.mtimeMs}`);
    }
  }
  return out;
}
