/**
 * What cache keys use to notice a changed tsbpf header: every file under the
 * headers directory as "path:size:mtime" (src/compile/headers_dir.ts), made by
 * the addon's treeStamps (native/tree_stamps.c). A changed, added or removed
 * file changes them; the order is the names' byte order at each level.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { HEADERS_DIR, headerStamps } from "../../src/compile/headers_dir.js";
import { type NativeAddon, native } from "../../src/native.js";

const addon = native() as Required<Pick<NativeAddon, "treeStamps">>;

describe("header stamps", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-stamps-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "linux"));
  mkdirSync(join(dir, "bcc"));
  writeFileSync(join(dir, "linux", "sched.h"), "#define X 1\n");
  writeFileSync(join(dir, "bcc", "helpers.h"), "int x;\n");
  writeFileSync(join(dir, "Z.h"), "");
  symlinkSync(join(dir, "Z.h"), join(dir, "alias.h"));

  it("lists every file with its size and mtime, names in byte order, subdirectories walked", () => {
    const lines = addon.treeStamps(dir).trimEnd().split("\n");
    assert.deepEqual(
      lines.map((l) => l.split(":").slice(0, 2).join(":")),
      // "Z" (0x5a) sorts before the lower-case names; a link is stamped as what it names
      ["Z.h:0", "alias.h:0", "bcc/helpers.h:7", "linux/sched.h:12"],
    );
    for (const l of lines) assert.match(l, /^[\w./]+:\d+:\d+\.\d{9}$/);
  });

  it("changes when a file's content, its mtime, or the set of files changes", () => {
    const before = addon.treeStamps(dir);
    assert.equal(addon.treeStamps(dir), before, "the same tree, the same stamps");
    writeFileSync(join(dir, "linux", "sched.h"), "#define X 2\n"); // same size
    utimesSync(join(dir, "linux", "sched.h"), new Date(1_000_000), new Date(1_000_000));
    const touched = addon.treeStamps(dir);
    assert.notEqual(touched, before);
    writeFileSync(join(dir, "bcc", "proto.h"), "");
    const added = addon.treeStamps(dir);
    assert.notEqual(added, touched);
    assert.match(added, /^bcc\/proto\.h:0:/m);
    rmSync(join(dir, "bcc", "proto.h"));
    assert.equal(addon.treeStamps(dir), touched);
  });

  it("throws with the errno of a directory that cannot be read", () => {
    assert.throws(() => addon.treeStamps(join(dir, "missing")), { code: "ENOENT" });
    assert.throws(() => addon.treeStamps(join(dir, "Z.h")), { code: "ENOTDIR" });
  });

  it("headerStamps stamps tsbpf's own headers with it", () => {
    assert.deepEqual(headerStamps(), [addon.treeStamps(HEADERS_DIR)]);
    assert.match(headerStamps()[0] as string, /^tsbpf\/\S+\.h:\d+:/m);
  });
});
