// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * System call names by number, for syscount and the metrics exporter's
 * `syscall` label decoder: read from the system's UAPI header
 * (`asm/unistd_64.h` on x86-64, `asm/unistd.h` elsewhere, from Debian's
 * linux-libc-dev), as bcc's tools take them from a table. A number the header
 * does not name (a newer kernel's call) shows as bcc shows it, "[NR]".
 */
import { existsSync, readFileSync } from "node:fs";

const MULTIARCH: Record<string, string> = {
  x64: "x86_64-linux-gnu",
  arm64: "aarch64-linux-gnu",
  s390x: "s390x-linux-gnu",
  ppc64: "powerpc64le-linux-gnu",
  riscv64: "riscv64-linux-gnu",
};

let table: Map<number, string> | undefined;

function headerPaths(): string[] {
  const dir = MULTIARCH[process.arch];
  const bases = [...(dir ? [`/usr/include/${dir}/asm`] : []), "/usr/include/asm"];
  return bases.flatMap((b) => [`${b}/unistd_64.h`, `${b}/unistd.h`]);
}

/** number → name of every system call the header defines. */
export function syscallTable(): Map<number, string> {
  if (table) return table;
  table = new Map();
  let text = headerPaths()
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p, "utf8"))
    .find((t) => /#define __NR\w* /.test(t));
  if (text === undefined) return table;
  // the generic header (arm64, riscv) includes asm-generic/unistd.h
  if (!/#define __NR_read \d/.test(text) && existsSync("/usr/include/asm-generic/unistd.h"))
    text += readFileSync("/usr/include/asm-generic/unistd.h", "utf8");
  const defs = new Map<string, string>();
  for (const m of text.matchAll(/^#define\s+(__NR(?:3264)?_\w+)\s+(\w+)/gm))
    defs.set(m[1] as string, m[2] as string);
  for (const [name, value] of defs) {
    if (!name.startsWith("__NR_") || name === "__NR_syscalls") continue;
    const v = /^\d+$/.test(value) ? value : defs.get(value);
    if (v !== undefined && /^\d+$/.test(v)) {
      const nr = Number(v);
      if (!table.has(nr)) table.set(nr, name.slice(5));
    }
  }
  return table;
}

/** bcc's syscall_name(): the name, or "[NR]". */
export function syscallName(nr: number): string {
  return syscallTable().get(nr) ?? `[${nr}]`;
}

/** The number of a system call by name, or undefined. */
export function syscallNumber(name: string): number | undefined {
  for (const [nr, n] of syscallTable()) if (n === name) return nr;
  return undefined;
}
