/**
 * The addon's spawnChild and waitChild (native/spawn.c), which start the
 * clang of a first compile without Node's child_process: the child gets the
 * descriptors, directory and arguments given, signals as a fresh process has
 * them (none blocked or ignored, though Node ignores SIGPIPE), and a failed
 * start throws with its errno; waitChild reports the exit code or the signal.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type NativeAddon, native } from "../../src/native.js";
import { repoRoot } from "../helpers.js";

const addon = native() as Required<Pick<NativeAddon, "spawnChild" | "waitChild" | "pipe" | "childAnyCpu">>;

/** The CPUs a process may run on, from /proc (Cpus_allowed_list: "0-3,6"). */
function allowedCpus(pid: number | "self"): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "";
  return list.split(",").flatMap((r) => {
    const [a, b] = r.split("-").map(Number) as [number, number | undefined];
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

describe("spawnChild and waitChild", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-spawn-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const files = (name: string): [string, string, number, number] => {
    const out = join(dir, `${name}.out`);
    const err = join(dir, `${name}.err`);
    return [out, err, openSync(out, "w"), openSync(err, "w")];
  };

  it("runs the program in cwd with the given stdin, stdout and stderr; reports its exit code", async () => {
    const [out, err, outFd, errFd] = files("run");
    const [readFd, writeFd] = addon.pipe();
    const pid = addon.spawnChild("/bin/sh", ["sh", "-c", "pwd; cat; echo oops >&2; exit 3"], dir, [
      readFd,
      outFd,
      errFd,
    ]);
    for (const fd of [readFd, outFd, errFd]) closeSync(fd);
    writeSync(writeFd, "from the pipe\n");
    closeSync(writeFd);
    assert.deepEqual(await addon.waitChild(pid), { code: 3, signal: null });
    assert.equal(readFileSync(out, "utf8"), `${dir}\nfrom the pipe\n`);
    assert.equal(readFileSync(err, "utf8"), "oops\n");
  });

  it("starts the child with no signal blocked or ignored (Node ignores SIGPIPE)", async () => {
    const [out, , outFd, errFd] = files("signals");
    const pid = addon.spawnChild("/bin/sh", ["sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status"], dir, [
      0,
      outFd,
      errFd,
    ]);
    closeSync(outFd);
    closeSync(errFd);
    assert.deepEqual(await addon.waitChild(pid), { code: 0, signal: null });
    assert.match(readFileSync(out, "utf8"), /^SigBlk:\s+0+\nSigIgn:\s+0+\n$/);
    const piped = addon.spawnChild("/bin/sh", ["sh", "-c", "kill -PIPE $$; exit 0"], dir, [0, 1, 2]);
    assert.deepEqual(await addon.waitChild(piped), { code: null, signal: 13 });
  });

  it("keeps a child started apart off the caller's CPU until childAnyCpu", async () => {
    const ours = allowedCpus("self");
    const pid = addon.spawnChild("/bin/sleep", ["sleep", "30"], dir, [0, 1, 2], true);
    try {
      const apart = allowedCpus(pid);
      if (ours.length < 2) assert.deepEqual(apart, ours, "one CPU: nowhere else to go");
      else {
        // All of ours but one (the CPU this thread ran on at the spawn).
        assert.equal(apart.length, ours.length - 1);
        assert.ok(apart.every((c) => ours.includes(c)));
      }
      assert.equal(addon.childAnyCpu(pid), true);
      assert.deepEqual(allowedCpus(pid), ours);
    } finally {
      process.kill(pid, "SIGKILL");
    }
    await addon.waitChild(pid);
    assert.equal(addon.childAnyCpu(pid), false, "an ended child");
    const plain = addon.spawnChild("/bin/sleep", ["sleep", "30"], dir, [0, 1, 2]);
    assert.deepEqual(allowedCpus(plain), ours, "not apart unless asked");
    process.kill(plain, "SIGKILL");
    await addon.waitChild(plain);
  });

  it("reports the signal that ended the child", async () => {
    const pid = addon.spawnChild("/bin/sleep", ["sleep", "30"], dir, [0, 1, 2]);
    process.kill(pid, "SIGKILL");
    assert.deepEqual(await addon.waitChild(pid), { code: null, signal: 9 });
  });

  it("throws with the errno of an exec or chdir that failed", () => {
    assert.throws(
      () => addon.spawnChild(join(dir, "no-such-program"), ["x"], dir, [0, 1, 2]),
      (e: NodeJS.ErrnoException) => e.code === "ENOENT" && /exec/.test(e.message),
    );
    assert.throws(
      () => addon.spawnChild("/bin/true", ["true"], join(dir, "no-such-dir"), [0, 1, 2]),
      (e: NodeJS.ErrnoException) => e.code === "ENOENT",
    );
    assert.throws(() => addon.spawnChild("/bin/true", [], dir, [0, 1, 2]), /EINVAL|Invalid argument/);
  });

  it("a compile's prestarted clang starts without loading node:child_process", { skip: !hasClang() }, () => {
    const script = `import { findClang, prestartClang } from ${JSON.stringify(join(repoRoot, "dist/src/compile/clang.js"))};
const warm = prestartClang(findClang(), ${JSON.stringify(dir)});
warm.cancel();
process.stdout.write(String(process.moduleLoadList.includes("NativeModule child_process")));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "false");
  });
});

function hasClang(): boolean {
  return spawnSync("sh", ["-c", "command -v clang"]).status === 0;
}
