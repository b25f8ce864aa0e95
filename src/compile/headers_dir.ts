/** tsbpf's header directory (shipped as source, not compiled) and what identifies its contents. */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../paths.js";

/** Where tsbpf's headers live: its own (tsbpf/, bcc/) and the kernel-macro shims. */
export const HEADERS_DIR = join(packageRoot(), "src", "compile", "headers");

/**
 * Every file of the headers directory as "path:size:mtime", in a fixed order:
 * what cache keys use to notice a changed header (stat only, so a warm start
 * reads no header).
 */
export function headerStamps(dir = HEADERS_DIR, base = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...headerStamps(join(dir, e.name), rel));
    else {
      const st = statSync(join(dir, e.name));
      out.push(`${rel}:${st.size}:${st.mtimeMs}`);
    }
  }
  return out;
}
