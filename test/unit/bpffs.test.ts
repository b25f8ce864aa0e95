/**
 * preparePinPath's decisions, on a pretend machine: when it mounts bpffs,
 * when it refuses and what it tells the user to run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BPF_FS_MAGIC, type PinHost, preparePinPath } from "../../src/kernel/bpffs.js";
import { BpfError, PinError } from "../../src/kernel/errors.js";

const SYSFS = 0x62656572;
const TMPFS = 0x01021994;

/** A machine with these directories on these file systems; records mounts and mkdirs. */
function host(
  dirs: Record<string, number>,
  opts: { euid?: number; mountFails?: boolean; mountedMeanwhile?: boolean } = {},
) {
  const made: string[] = [];
  const mounted: string[] = [];
  const h: PinHost = {
    euid: () => opts.euid ?? 0,
    exists: (p) => p in dirs,
    fsType: (p) => {
      const t = dirs[p];
      if (t === undefined) throw new Error(`ENOENT ${p}`);
      return t;
    },
    describe: (p) => ({ dir: p === "/tmp/x" ? "/tmp" : "/", type: dirs[p] === TMPFS ? "tmpfs" : "sysfs" }),
    mountBpffs: (target) => {
      if (opts.mountedMeanwhile) dirs[target] = BPF_FS_MAGIC;
      if (opts.mountFails) throw new Error("mount: permission denied");
      mounted.push(target);
      dirs[target] = BPF_FS_MAGIC;
    },
    mkdirs: (p) => {
      made.push(p);
      dirs[p] = BPF_FS_MAGIC;
    },
  };
  return { h, made, mounted };
}

describe("preparePinPath", () => {
  it("a pin on a mounted bpffs: creates the missing directories, mounts nothing", () => {
    const m = host({ "/": SYSFS, "/sys/fs/bpf": BPF_FS_MAGIC });
    preparePinPath("/sys/fs/bpf/a/b/counts", "map counts", m.h);
    assert.deepEqual(m.mounted, []);
    assert.deepEqual(m.made, ["/sys/fs/bpf/a/b"]);
  });

  it("root, nothing mounted at /sys/fs/bpf: mounts bpffs there, then creates the directory", () => {
    const m = host({ "/": SYSFS, "/sys/fs/bpf": SYSFS });
    preparePinPath("/sys/fs/bpf/tsbpf/counts", "map counts", m.h);
    assert.deepEqual(m.mounted, ["/sys/fs/bpf"]);
    assert.deepEqual(m.made, ["/sys/fs/bpf/tsbpf"]);
  });

  it("not root, nothing mounted at /sys/fs/bpf: PinError saying that mounting needs root, with the command", () => {
    const m = host({ "/": SYSFS, "/sys/fs/bpf": SYSFS }, { euid: 1000 });
    assert.throws(
      () => preparePinPath("/sys/fs/bpf/counts", "map counts", m.h),
      (err: unknown) =>
        err instanceof PinError &&
        err.path === "/sys/fs/bpf/counts" &&
        err.message ===
          'cannot pin map counts at /sys/fs/bpf/counts: no bpf file system is mounted at /sys/fs/bpf, and mounting one needs root; run as root, or mount it once with "mount -t bpf bpf /sys/fs/bpf"',
    );
    assert.deepEqual(m.mounted, []);
  });

  it("the mount fails: a BpfError with mount's message, unless another process mounted it meanwhile", () => {
    const failing = host({ "/": SYSFS, "/sys/fs/bpf": SYSFS }, { mountFails: true });
    assert.throws(
      () => preparePinPath("/sys/fs/bpf/counts", "map counts", failing.h),
      (err: unknown) =>
        err instanceof BpfError &&
        /mounting a bpf file system at \/sys\/fs\/bpf failed: mount: permission denied/.test(err.message),
    );
    const raced = host({ "/": SYSFS, "/sys/fs/bpf": SYSFS }, { mountFails: true, mountedMeanwhile: true });
    preparePinPath("/sys/fs/bpf/counts", "map counts", raced.h);
  });

  it("elsewhere than /sys/fs/bpf and not on bpffs: PinError naming the file system and the mount for that directory", () => {
    const m = host({ "/": SYSFS, "/tmp/x": TMPFS }, { euid: 0 });
    assert.throws(
      () => preparePinPath("/tmp/x/pins/counts", "map counts", m.h),
      (err: unknown) =>
        err instanceof PinError &&
        err.reason ===
          "/tmp/x is on a file system of type tmpfs (mounted at /tmp), and only a bpf file system (bpffs) can hold pins" &&
        err.fix ===
          'pin under /sys/fs/bpf, or mount a bpf file system for it with "mkdir -p /tmp/x/pins && mount -t bpf bpf /tmp/x/pins"',
    );
    assert.deepEqual(m.mounted, []);
  });

  it("no /sys/fs/bpf at all (sysfs not mounted): PinError", () => {
    const m = host({ "/": TMPFS, "/sys": TMPFS });
    assert.throws(
      () => preparePinPath("/sys/fs/bpf/counts", "map counts", m.h),
      (err: unknown) => err instanceof PinError && /\/sys\/fs\/bpf does not exist/.test(err.message),
    );
  });
});
