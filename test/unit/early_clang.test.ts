/**
 * A first compile's clang started early by the CLI's launcher
 * (src/compile/early_clang.ts): a compile's cache miss takes it, with its
 * work directory, and it compiles as a prestarted clang does; one nobody
 * takes is ended, its directory removed, and so is one started for another
 * clang than the compile's.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { adoptClang, type Clang } from "../../src/compile/clang.js";
import { dropEarlyClang, startEarlyClang, takeEarlyClang } from "../../src/compile/early_clang.js";
import { native } from "../../src/native.js";
import { clangOrSkip, processEnded } from "../clang_helpers.js";
import { waitFor } from "../helpers.js";

const clang = clangOrSkip();

describe("early clang", { skip: typeof clang === "string" ? clang : false }, () => {
  const c = clang as Clang;
  const saved = process.env.TSBPF_CACHE_DIR;
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsbpf-early-"));
    process.env.TSBPF_CACHE_DIR = dir;
  });
  after(() => {
    dropEarlyClang();
    if (saved === undefined) delete process.env.TSBPF_CACHE_DIR;
    else process.env.TSBPF_CACHE_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it("is taken by a compile, with its work directory in the cache, and compiles", async () => {
    startEarlyClang(native());
    const early = takeEarlyClang(c.path);
    assert.ok(early, "this machine's addon starts clang");
    assert.ok(early.work.startsWith(join(dir, "tmp")), early.work);
    assert.equal(takeEarlyClang(c.path), undefined, "taken once");
    const run = await adoptClang(early.started, c, early.work).run(["-E", "-dM", "-x", "c", "/dev/null"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^#define __clang__ 1$/m);
    rmSync(early.work, { recursive: true, force: true });
  });

  it("one nobody takes is ended and its directory removed", async () => {
    startEarlyClang(native());
    const early = takeEarlyClang(c.path);
    assert.ok(early);
    // put it back as the launcher left it, then drop it as a cache hit does
    rmSync(early.work, { recursive: true, force: true });
    early.started.cancel();
    await early.started.ended.catch(() => undefined);
    startEarlyClang(native());
    const pid = (globalThis as Record<symbol, { started: { pid: number }; work: string } | undefined>)[
      Symbol.for("tsbpf.earlyClang")
    ];
    assert.ok(pid);
    dropEarlyClang();
    assert.ok(await waitFor(() => processEnded(pid.started.pid), 5000), "the clang ended");
    assert.ok(!existsSync(pid.work), "its work directory is gone");
  });

  it("one started for another clang is ended when a compile asks with its own", async () => {
    startEarlyClang(native());
    const held = (globalThis as Record<symbol, { started: { pid: number }; work: string } | undefined>)[
      Symbol.for("tsbpf.earlyClang")
    ];
    assert.ok(held);
    assert.equal(takeEarlyClang("/usr/bin/some-other-clang"), undefined);
    assert.ok(await waitFor(() => processEnded(held.started.pid), 5000), "the clang ended");
    assert.ok(!existsSync(held.work));
  });
});
