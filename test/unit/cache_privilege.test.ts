/**
 * The compile cache and privilege (issue 17): root loads what the cache
 * holds, so a directory or file in it that another user owns or can write is
 * refused with a CacheError naming the path and the fix; what tsbpf creates
 * is 0700 (directories) and 0600 (files), written atomically.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { cacheDir, cachedFileExists, cacheSubdir, readCached, writeAtomic } from "../../src/compile/cache.js";
import * as api from "../../src/index.js";
import { CacheError } from "../../src/kernel/errors.js";
import { native } from "../../src/native.js";

const root = process.geteuid?.() === 0;
const notRoot = root ? false : "needs root to give a file to another uid (chown 65534)";
const NOBODY = 65534;

const base = mkdtempSync(join(tmpdir(), "tsbpf-cachepriv-"));
after(() => rmSync(base, { recursive: true, force: true }));

const saved = {
  TSBPF_CACHE_DIR: process.env.TSBPF_CACHE_DIR,
  XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
};
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

let n = 0;
/** A new cache root for one test (the checks are memoized per path, once per process). */
function freshRoot(create = true): string {
  const dir = join(base, `c${n++}`);
  if (create) mkdirSync(dir, { mode: 0o700 });
  process.env.TSBPF_CACHE_DIR = dir;
  return dir;
}

const mode = (p: string): number => lstatSync(p).mode & 0o7777;

/** Asserts fn throws a CacheError about path whose message contains each of `has`. */
function refuses(fn: () => unknown, path: string, ...has: string[]): CacheError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CacheError, `expected a CacheError, got ${String(caught)}`);
  assert.equal(caught.path, path);
  assert.ok(caught.message.includes(path), caught.message);
  for (const h of has) assert.ok(caught.message.includes(h), `"${h}" not in: ${caught.message}`);
  return caught;
}

describe("the compile cache refuses what another user could write", () => {
  it("CacheError is exported with the other error classes", () => {
    assert.equal(api.CacheError, CacheError);
    assert.ok(new CacheError("/x", "why", "fix") instanceof api.BpfError);
  });

  it("a cache directory chmod 0777: refused, naming the path, chmod 700 and rm -rf", () => {
    const r = freshRoot();
    const objects = join(r, "objects");
    mkdirSync(objects);
    chmodSync(objects, 0o777);
    const e = refuses(
      () => cacheSubdir("objects"),
      objects,
      "writable by group and others (mode 0777)",
      `chmod 700 ${objects}`,
      `rm -rf ${objects}`,
    );
    assert.equal(e.fix, `run "chmod 700 ${objects}" (or "rm -rf ${objects}": tsbpf rebuilds it)`);
    // Nothing was repaired behind the user's back, and a file there is refused as well.
    assert.equal(mode(objects), 0o777);
    refuses(() => readCached(join(objects, "x.o")), objects);
    refuses(() => writeAtomic(join(objects, "x.o"), "x"), objects);
  });

  it("a group-writable directory deeper down: refused (every level from the root down is checked)", () => {
    const r = freshRoot();
    mkdirSync(join(r, "kernels", "abc"), { recursive: true, mode: 0o700 });
    chmodSync(join(r, "kernels", "abc"), 0o770);
    refuses(() => cacheSubdir("kernels", "abc"), join(r, "kernels", "abc"), "writable by group (mode 0770)");
  });

  it("a TSBPF_CACHE_DIR writable by others: refused, and told to point it elsewhere (not to chmod /tmp)", () => {
    const r = freshRoot();
    chmodSync(r, 0o1777);
    const e = refuses(() => cacheSubdir("objects"), r, "others (mode 1777)", "TSBPF_CACHE_DIR");
    assert.doesNotMatch(e.fix, /rm -rf/);
  });

  it("a cached file owned by another uid: refused", { skip: notRoot }, () => {
    freshRoot();
    const file = join(cacheSubdir("objects"), "k.o");
    writeAtomic(file, "object");
    chownSync(file, NOBODY, NOBODY);
    refuses(() => readCached(file), file, `owned by uid ${NOBODY}, not by uid 0`, `rm -f ${file}`);
    refuses(() => cachedFileExists(file), file, `owned by uid ${NOBODY}`);
  });

  it("a cache directory owned by another uid: refused with rm -rf", { skip: notRoot }, () => {
    const r = freshRoot();
    mkdirSync(join(r, "macros"), { mode: 0o700 });
    chownSync(join(r, "macros"), NOBODY, NOBODY);
    const e = refuses(() => cacheSubdir("macros"), join(r, "macros"), `owned by uid ${NOBODY}`);
    assert.equal(e.fix, `run "rm -rf ${join(r, "macros")}" (tsbpf rebuilds it)`);
  });

  it("a group-writable cached file: refused", () => {
    freshRoot();
    const file = join(cacheSubdir("objects"), "k.json");
    writeAtomic(file, "{}");
    chmodSync(file, 0o660);
    refuses(() => readCached(file), file, "writable by group (mode 0660)", `rm -f ${file}`);
    chmodSync(file, 0o646);
    refuses(() => cachedFileExists(file), file, "writable by others (mode 0646)");
    chmodSync(file, 0o644); // readable by others is fine: nothing secret is cached
    assert.equal(readCached(file)?.toString(), "{}");
  });

  it("a cached file read through a mapping (the addon's mapFile) passes the same checks, and is read when it cannot be mapped", () => {
    freshRoot();
    const file = join(cacheSubdir("code"), "k.v8");
    writeAtomic(file, "cached code");
    const mapped: string[] = [];
    const map = (path: string): ArrayBuffer => {
      mapped.push(path);
      return native().mapFile(path);
    };
    assert.equal(readCached(file, map)?.toString(), "cached code");
    assert.deepEqual(mapped, [file]);
    const failing = (): ArrayBuffer => {
      throw new Error("no mapping here");
    };
    assert.equal(readCached(file, failing)?.toString(), "cached code");
    chmodSync(file, 0o660);
    refuses(() => readCached(file, map), file, "writable by group (mode 0660)");
    assert.deepEqual(mapped, [file], "a refused file is not mapped");
  });

  it("symbolic links: a cached file never is one; a directory link is followed only when ours, and its target is checked", () => {
    const r = freshRoot();
    const objects = cacheSubdir("objects");
    const elsewhere = join(base, `target${n++}`);
    writeFileSync(elsewhere, "planted", { mode: 0o600 });
    symlinkSync(elsewhere, join(objects, "k.o"));
    refuses(() => readCached(join(objects, "k.o")), join(objects, "k.o"), "symbolic link");
    refuses(() => cachedFileExists(join(objects, "k.o")), join(objects, "k.o"), "symbolic link");

    // ~/.cache/tsbpf -> somewhere private: fine.
    const privateDir = join(base, `private${n++}`);
    mkdirSync(privateDir, { mode: 0o700 });
    symlinkSync(privateDir, join(r, "kernels"));
    assert.equal(cacheSubdir("kernels"), join(r, "kernels"));
    // … -> somewhere anybody can write: refused.
    const open = join(base, `open${n++}`);
    mkdirSync(open);
    chmodSync(open, 0o777);
    symlinkSync(open, join(r, "macros"));
    refuses(() => cacheSubdir("macros"), join(r, "macros"), "mode 0777");
  });

  it("a symbolic link owned by another uid among the directories: refused", { skip: notRoot }, () => {
    const r = freshRoot();
    const privateDir = join(base, `private${n++}`);
    mkdirSync(privateDir, { mode: 0o700 });
    symlinkSync(privateDir, join(r, "objects"));
    lchownSync(join(r, "objects"), NOBODY, NOBODY);
    refuses(() => cacheSubdir("objects"), join(r, "objects"), "symbolic link owned by uid 65534");
  });

  it("a file where a directory belongs, or a directory where a file belongs: refused", () => {
    const r = freshRoot();
    writeFileSync(join(r, "tmp"), "", { mode: 0o600 });
    refuses(() => cacheSubdir("tmp"), join(r, "tmp"), "not a directory");
    const objects = cacheSubdir("objects");
    mkdirSync(join(objects, "d.o"), { mode: 0o700 });
    refuses(() => cachedFileExists(join(objects, "d.o")), join(objects, "d.o"), "not a regular file");
  });
});

describe("what the compile cache creates", () => {
  it("directories 0700 and files 0600 whatever the umask; the parents of the root keep their default mode", () => {
    const home = join(base, `home${n++}`);
    mkdirSync(home, { mode: 0o755 });
    delete process.env.TSBPF_CACHE_DIR;
    process.env.XDG_CACHE_HOME = join(home, ".cache"); // absent, as on CI's fresh HOME
    const old = process.umask(0);
    try {
      assert.equal(cacheDir(), join(home, ".cache", "tsbpf"));
      const dir = cacheSubdir("kernels", "id");
      writeAtomic(join(dir, "vmlinux.h"), "struct x;");
      assert.equal(mode(join(home, ".cache", "tsbpf")), 0o700);
      assert.equal(mode(join(home, ".cache", "tsbpf", "kernels")), 0o700);
      assert.equal(mode(dir), 0o700);
      assert.equal(mode(join(dir, "vmlinux.h")), 0o600);
      // ~/.cache is not ours to tighten: created with the default mode (0777 under this umask).
      assert.equal(mode(join(home, ".cache")), 0o777);
      assert.equal(mode(home), 0o755);
      assert.equal(cachedFileExists(join(dir, "vmlinux.h")), true);
      assert.equal(cachedFileExists(join(dir, "missing.pch")), false);
      assert.equal(readCached(join(dir, "missing")), undefined);
      assert.equal(readCached(join(dir, "vmlinux.h"))?.toString(), "struct x;");
    } finally {
      process.umask(old);
    }
  });

  it("a cache made before (0755 directories, 0644 files) is still used: only writable-by-others is refused", () => {
    const r = freshRoot();
    chmodSync(r, 0o755);
    mkdirSync(join(r, "objects"), { mode: 0o755 });
    writeFileSync(join(r, "objects", "k.o"), "old", { mode: 0o644 });
    assert.equal(readCached(join(cacheSubdir("objects"), "k.o"))?.toString(), "old");
  });

  it("a failed write leaves no temp file behind", () => {
    freshRoot();
    const dir = cacheSubdir("objects");
    mkdirSync(join(dir, "busy.o", "inside"), { recursive: true, mode: 0o700 }); // rename cannot replace a non-empty directory
    assert.throws(() => writeAtomic(join(dir, "busy.o"), "x"), CacheError);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
    );
  });

  it("concurrent writers never leave a partial file, and no temp files", async () => {
    freshRoot();
    const dir = cacheSubdir("objects");
    const target = join(dir, "shared.o");
    const cacheJs = fileURLToPath(new URL("../../src/compile/cache.js", import.meta.url));
    const SIZE = 1 << 20;
    const writer = (byte: number) =>
      new Promise<number | null>((resolve, reject) => {
        const c = spawn(
          process.execPath,
          [
            "--input-type=module",
            "-e",
            `import { writeAtomic } from ${JSON.stringify(cacheJs)};
             const buf = Buffer.alloc(${SIZE}, ${byte});
             for (let i = 0; i < 40; i++) writeAtomic(${JSON.stringify(target)}, buf);`,
          ],
          { env: process.env, stdio: ["ignore", "ignore", "inherit"] },
        );
        c.on("error", reject);
        c.on("exit", resolve);
      });
    const running = [1, 2, 3, 4].map(writer);
    let done = false;
    const all = Promise.all(running).then((codes) => {
      done = true;
      return codes;
    });
    let reads = 0;
    while (!done) {
      const b = readCached(target);
      if (b) {
        reads++;
        assert.equal(b.length, SIZE, "a partial file was seen");
        const first = b[0] as number;
        assert.ok(first >= 1 && first <= 4);
        assert.equal(b.indexOf(first === 1 ? 2 : 1), -1, "a mixed file was seen");
        assert.ok(
          b.every((x) => x === first),
          "a mixed file was seen",
        );
      }
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await all, [0, 0, 0, 0]);
    assert.ok(reads > 0);
    assert.equal(statSync(target).size, SIZE);
    assert.equal(mode(target), 0o600);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f !== "shared.o"),
      [],
    );
  });
});
