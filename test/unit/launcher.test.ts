/**
 * The tsbpf command's launcher (src/cli/launcher.ts): the first run of a
 * command writes V8's code cache for it into tsbpf's cache directory (0600),
 * later runs use it, a cache V8 refuses is written afresh, and one that
 * fails the cache's ownership rules is never read; the command's output is
 * the same every time.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot, testTempDir } from "../helpers.js";

const CLI = join(repoRoot, "dist/bundle/tsbpf.cjs");

function run(cacheDir: string, args: string[]): { stdout: string; debug: string[] } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    env: { ...process.env, TSBPF_CACHE_DIR: cacheDir, NODE_DEBUG: "tsbpf" },
  });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout, debug: r.stderr.split("\n").filter((l) => l.includes("code cache:")) };
}

describe("tsbpf launcher: V8 code cache", () => {
  it("writes one per command on the first run and uses it on the next", () => {
    const dir = testTempDir("tsbpf-launcher");
    const first = run(dir, ["help"]);
    assert.match(first.stdout, /^usage: tsbpf/);
    assert.equal(first.debug.length, 1, first.debug.join("\n"));
    assert.match(first.debug[0] as string, /code cache: written .*\/code\/help-[0-9a-f]{24}\.v8$/);
    const files = readdirSync(join(dir, "code"));
    assert.equal(files.length, 1);
    assert.equal(statSync(join(dir, "code", files[0] as string)).mode & 0o777, 0o600);

    const second = run(dir, ["help"]);
    assert.equal(second.stdout, first.stdout);
    assert.deepEqual(
      second.debug.map((l) => l.replace(/^.*code cache: /, "")),
      [`used ${join(dir, "code", files[0] as string)}`],
    );
    // another command has a cache of its own
    run(dir, ["exporter", "--help"]);
    assert.equal(readdirSync(join(dir, "code")).length, 2);
  });

  it("writes a fresh cache when V8 refuses the one there", () => {
    const dir = testTempDir("tsbpf-launcher-bad");
    const { stdout } = run(dir, ["help"]);
    const file = join(dir, "code", readdirSync(join(dir, "code"))[0] as string);
    writeFileSync(file, Buffer.alloc(statSync(file).size, 0x5a));
    const again = run(dir, ["help"]);
    assert.equal(again.stdout, stdout);
    assert.match(again.debug.join("\n"), /code cache: rejected .*\n.*code cache: written /);
    assert.match(run(dir, ["help"]).debug.join("\n"), /code cache: used /);
  });

  it("never reads a cache file others could have written", () => {
    const dir = testTempDir("tsbpf-launcher-perm");
    const { stdout } = run(dir, ["help"]);
    const file = join(dir, "code", readdirSync(join(dir, "code"))[0] as string);
    chmodSync(file, 0o666);
    const again = run(dir, ["help"]);
    assert.equal(again.stdout, stdout);
    assert.doesNotMatch(again.debug.join("\n"), /code cache: (used|rejected)/);
    assert.match(again.debug.join("\n"), /writable by/);
  });
});
