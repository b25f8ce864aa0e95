/**
 * Pseudo file systems tsbpf needs (tracefs, bpffs): which mount holds a path,
 * and mounting one when the process may.
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { debuglog } from "node:util";
import { builtinModule } from "../builtin.js";

/** `NODE_DEBUG=tsbpf` prints what tsbpf does to the machine (mounts it makes). */
export const debug = debuglog("tsbpf");

export interface MountEntry {
  /** Where it is mounted. */
  dir: string;
  /** File system type ("tmpfs", "sysfs", "bpf", …). */
  type: string;
}

/** /proc/self/mountinfo's escapes (\040 for a space, …). */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Every mount of this process's mount namespace, in mount order. */
export function mounts(): MountEntry[] {
  let text = "";
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    // id parent major:minor root mount-point options [optional…] - type source super-options
    const fields = line.split(" ");
    const sep = fields.indexOf("-");
    if (sep < 5 || fields[4] === undefined || fields[sep + 1] === undefined) continue;
    out.push({ dir: unescapeOctal(fields[4]), type: fields[sep + 1] as string });
  }
  return out;
}

/** The mount that holds an existing path (the last, i.e. topmost, of the longest matching mount point). */
export function mountOf(path: string): MountEntry | undefined {
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    // keep the path as given
  }
  let best: MountEntry | undefined;
  for (const m of mounts()) {
    const inside = m.dir === "/" || real === m.dir || real.startsWith(`${m.dir}/`);
    if (inside && (!best || m.dir.length >= best.dir.length)) best = m;
  }
  return best;
}

/**
 * Runs mount(8): `mount -t type source target`, as an argument array (no
 * shell) and from util-linux's own path rather than $PATH's first `mount`.
 * Throws mount's own message. Callers mount only as root and only when what
 * they do needs the file system; `NODE_DEBUG=tsbpf` prints each mount.
 * (child_process loads only here: most starts find everything mounted.)
 */
export function mountFs(type: string, source: string, target: string): void {
  const { execFileSync } = builtinModule<typeof import("node:child_process")>("node:child_process");
  const mount =
    ["/usr/bin/mount", "/bin/mount", "/usr/sbin/mount", "/sbin/mount"].find((p) => existsSync(p)) ?? "mount";
  debug(
    "%s is not mounted and is needed: running %s -t %s %s %s (as root)",
    type,
    mount,
    type,
    source,
    target,
  );
  execFileSync(mount, ["-t", type, source, target], { stdio: "pipe" });
}
