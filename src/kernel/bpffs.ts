// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * bpffs, the file system that holds pinned maps, programs and links.
 *
 * libbpf pins only on a bpf file system (its check_path() tests the parent
 * directory's statfs magic and fails with a bare EINVAL otherwise). systemd
 * mounts one at /sys/fs/bpf at boot; a machine without systemd (a container,
 * a minimal VM) has only the empty sysfs directory there. As bpftool does, a
 * root process mounts bpffs at /sys/fs/bpf when a pin under it needs one;
 * anywhere else the pin gets a PinError that says what to mount.
 */
import { existsSync, mkdirSync, statfsSync } from "node:fs";
import { dirname, isAbsolute } from "node:path";
import { BpfError, PinError } from "./errors.js";
import { debug, mountFs, mountOf } from "./mounts.js";

/** statfs f_type of a bpf file system (BPF_FS_MAGIC). */
export const BPF_FS_MAGIC = 0xcafe4a11;

/** Where systemd, bpftool and libbpf's LIBBPF_PIN_BY_NAME put pins. */
export const DEFAULT_BPFFS = "/sys/fs/bpf";

/** What preparePinPath needs from the machine (replaced in unit tests). */
export interface PinHost {
  euid(): number;
  exists(path: string): boolean;
  /** statfs f_type of an existing path. */
  fsType(path: string): number;
  /** Mount point and file system type name of an existing path, for messages. */
  describe(path: string): { dir: string; type: string } | undefined;
  mountBpffs(target: string): void;
  mkdirs(path: string): void;
}

const realHost: PinHost = {
  euid: () => process.geteuid?.() ?? -1,
  exists: existsSync,
  fsType: (path) => Number(statfsSync(path).type),
  describe: mountOf,
  mountBpffs: (target) => mountFs("bpf", "bpf", target),
  mkdirs: (path) => mkdirSync(path, { recursive: true }),
};

function nearestExisting(host: PinHost, dir: string): string {
  let d = dir;
  while (!host.exists(d) && d !== "/") d = dirname(d);
  return d;
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * Makes `path` ready to hold a pin of `what` ("map counts"): its directory
 * exists on a bpf file system. Mounts bpffs at /sys/fs/bpf when the pin is
 * under it, nothing is mounted there and the process is root; otherwise a
 * PinError names the path, why it cannot hold a pin and the command that fixes
 * it.
 */
export function preparePinPath(path: string, what: string, host: PinHost = realHost): void {
  if (!isAbsolute(path)) {
    throw new PinError(what, path, "pin paths must be absolute", `use a path under ${DEFAULT_BPFFS}`);
  }
  const dir = dirname(path);
  const existing = nearestExisting(host, dir);
  if (host.fsType(existing) !== BPF_FS_MAGIC) {
    if (under(dir, DEFAULT_BPFFS) && !under(existing, `${DEFAULT_BPFFS}/`)) mountDefault(path, what, host);
    else {
      const m = host.describe(existing);
      const where = m
        ? `${existing} is on a file system of type ${m.type} (mounted at ${m.dir})`
        : `${existing} is not on a bpf file system`;
      throw new PinError(
        what,
        path,
        `${where}, and only a bpf file system (bpffs) can hold pins`,
        `pin under ${DEFAULT_BPFFS}, or mount a bpf file system for it with "mkdir -p ${dir} && mount -t bpf bpf ${dir}"`,
      );
    }
  }
  if (!host.exists(dir)) {
    try {
      host.mkdirs(dir);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new PinError(
        what,
        path,
        `creating ${dir} failed: ${e.message}`,
        "check the path and its permissions",
        {
          errno: typeof e.errno === "number" ? -e.errno : undefined,
          cause: err,
        },
      );
    }
  }
}

function mountDefault(path: string, what: string, host: PinHost): void {
  const fix = `mount -t bpf bpf ${DEFAULT_BPFFS}`;
  if (!host.exists(DEFAULT_BPFFS)) {
    throw new PinError(
      what,
      path,
      `${DEFAULT_BPFFS} does not exist (is sysfs mounted at /sys?)`,
      `mount sysfs, then "${fix}"`,
    );
  }
  if (host.euid() !== 0) {
    throw new PinError(
      what,
      path,
      `no bpf file system is mounted at ${DEFAULT_BPFFS}, and mounting one needs root`,
      `run as root, or mount it once with "${fix}"`,
    );
  }
  try {
    host.mountBpffs(DEFAULT_BPFFS);
  } catch (err) {
    // Another process may have mounted it in the meantime.
    if (host.fsType(DEFAULT_BPFFS) === BPF_FS_MAGIC) return;
    throw new BpfError(
      `cannot pin ${what} at ${path}: mounting a bpf file system at ${DEFAULT_BPFFS} failed: ${String((err as Error).message).trim()}`,
      { cause: err },
    );
  }
  debug("mounted a bpf file system at %s for the pin %s", DEFAULT_BPFFS, path);
}
