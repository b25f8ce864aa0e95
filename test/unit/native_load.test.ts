/**
 * Finding and loading the addon (src/native_load.ts): the candidates in
 * order, a file that does not load passed over with its reason, one load
 * per package root.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { native } from "../../src/native.js";
import { addonCandidates, loadAddon } from "../../src/native_load.js";
import { packageRoot } from "../../src/paths.js";

describe("loading the addon", () => {
  const root = mkdtempSync(join(tmpdir(), "tsbpf-addon-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const prebuild = join(root, "prebuilds", `${process.platform}-${process.arch}`, "tsbpf.node");
  const build = join(root, "build", "Release", "tsbpf.node");
  const installed = join(root, "native", "build", "Release", "tsbpf.node");

  it("tries the prebuild first, then the source builds; a source build newer than the prebuild before it", () => {
    assert.deepEqual(addonCandidates(root), [prebuild, build, installed]);
    mkdirSync(join(build, ".."), { recursive: true });
    mkdirSync(join(prebuild, ".."), { recursive: true });
    writeFileSync(prebuild, "");
    writeFileSync(build, "");
    utimesSync(prebuild, new Date(1_000_000), new Date(1_000_000));
    assert.deepEqual(addonCandidates(root), [build, prebuild, installed]);
  });

  it("passes over a file that does not load, saying why, and loads the next", () => {
    // build/ (newer) is not a shared object; the prebuild is this process's addon
    writeFileSync(build, "not an ELF file");
    native(); // the package's own addon, loaded
    const own = loadAddon(packageRoot()).file;
    assert.ok(own, "the package's addon loaded");
    copyFileSync(own, prebuild);
    utimesSync(prebuild, new Date(1_000_000), new Date(1_000_000));
    const load = loadAddon(root);
    assert.equal(load.file, prebuild);
    assert.equal(typeof (load.addon as { digest?: unknown }).digest, "function");
    assert.equal(load.tried.length, 1);
    assert.equal(load.tried[0]?.path, build);
    assert.match(load.tried[0]?.reason ?? "", /invalid ELF header|file too short/);
    assert.equal(loadAddon(root), load, "one load per root");
  });
});
