/**
 * The tsbpf command's launcher (src/cli/launcher.ts): the first run of a
 * command writes V8's code cache for it into tsbpf's cache directory (0600),
 * later runs use it, a cache V8 refuses is written afresh, and one that
 * fails the cache's ownership rules is never read; the command's output is
 * the same every time.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import { builtCacheFor } from "../../src/cli/launcher.js";
import { repoRoot, testTempDir } from "../helpers.js";

const CLI = join(repoRoot, "dist/bundle/tsbpf.cjs");

function run(cacheDir: string, args: string[], cli = CLI): { stdout: string; debug: string[] } {
  const r = spawnSync(process.execPath, [cli, ...args], {
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
    assert.equal(first.debug.length, 2, first.debug.join("\n"));
    // the first run has the build's cache (scripts/code-cache.mjs), V8 takes it: help is no tool, so the one with the compile pipeline
    assert.match(
      first.debug[0] as string,
      /code cache: used .*\/dist\/bundle\/cli-compile-[0-9a-f]{24}\.v8$/,
    );
    assert.match(first.debug[1] as string, /code cache: written .*\/code\/help-[0-9a-f]{24}\.v8$/);
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
    assert.doesNotMatch(again.debug.join("\n"), /code cache: (used|rejected) .*\/code\//);
    assert.match(again.debug.join("\n"), /writable by/);
    // (the build's cache serves instead, as for a command with no cache)
    assert.match(again.debug.join("\n"), /code cache: used .*\/cli-compile-[0-9a-f]{24}\.v8\n/);
  });

  it("reads the build's cache only when it is the bundle's own, and runs without it", () => {
    // a copy of the bundle, whose build cache the test may change
    const bundle = testTempDir("tsbpf-launcher-bundle");
    for (const f of readdirSync(join(repoRoot, "dist/bundle")).filter((f) => !f.endsWith(".map")))
      copyFileSync(join(repoRoot, "dist/bundle", f), join(bundle, f));
    const built = readdirSync(bundle).find((f) => /^cli-compile-[0-9a-f]{24}\.v8$/.test(f));
    assert.ok(built, "the build wrote no code cache");
    const cli = join(bundle, "tsbpf.cjs");
    const { stdout } = run(testTempDir("tsbpf-launcher-b1"), ["help"], cli);

    chmodSync(join(bundle, built), 0o666);
    const loose = run(testTempDir("tsbpf-launcher-b2"), ["help"], cli);
    assert.equal(loose.stdout, stdout);
    assert.match(loose.debug.join("\n"), /is not the bundle's own \(owner or mode\): not read/);
    assert.doesNotMatch(loose.debug.join("\n"), /code cache: (used|rejected)/);
    assert.match(loose.debug.join("\n"), /code cache: written /);

    rmSync(join(bundle, built));
    const none = run(testTempDir("tsbpf-launcher-b3"), ["help"], cli);
    assert.equal(none.stdout, stdout);
    assert.deepEqual(
      none.debug.map((l) => l.replace(/^.*code cache: (\w+) .*$/, "$1")),
      ["written"],
    );
  });

  it("has three build caches: a tool's first run takes the one of a tool's start, any other command's the one with the compile pipeline, the run after a first compile the one of a cached program's start", () => {
    const dir = join(repoRoot, "dist/bundle");
    const files = readdirSync(dir);
    for (const name of ["cli", "cli-compile", "cli-run"])
      assert.ok(
        files.some((f) => new RegExp(`^${name}-[0-9a-f]{24}\\.v8$`).test(f)),
        `the build wrote no ${name} cache`,
      );
    assert.ok(existsSync(join(repoRoot, "dist/tools/execsnoop.bpf.o")));
    assert.equal(builtCacheFor(dir, "execsnoop"), "cli");
    assert.equal(builtCacheFor(dir, "printk-sample"), "cli-compile");
    assert.equal(builtCacheFor(dir, "example-first_step-hello"), "cli-compile");
    assert.equal(builtCacheFor(dir, "help"), "cli-compile");
    assert.equal(builtCacheFor(dir, undefined), "cli-compile");
    assert.equal(builtCacheFor(dir, "printk-sample", "after-compile"), "cli-run");
    assert.equal(builtCacheFor(dir, "execsnoop", "after-compile"), "cli");
  });

  it("leaves a command's first run that compiled no cache of its own: the next run writes it from the build's cache of a cached program's start", () => {
    const dir = testTempDir("tsbpf-launcher-compiled");
    const program = (name: string, event: string): string => {
      const file = join(dir, name);
      writeFileSync(
        file,
        `TRACEPOINT_PROBE(sched, ${event}) { bpf_trace_printk("${event}\\n"); return 0; }\n`,
      );
      return file;
    };
    const src = program("prog.c", "sched_process_exec");
    const other = program("other.c", "sched_process_fork");
    const cache = join(dir, "cache");
    const compile = (file: string) =>
      run(cache, ["compile", file, "-o", join(dir, "out.o")]).debug.map((l) =>
        l.replace(/^.*code cache: /, ""),
      );
    const own = () => readdirSync(join(cache, "code")).sort();

    // the first run compiles: it takes the build's cache with the compile pipeline and leaves only a mark
    const first = compile(src);
    assert.match(first[0] as string, /^used .*\/dist\/bundle\/cli-compile-[0-9a-f]{24}\.v8$/);
    assert.match(first[1] as string, /^marked .*\/code\/compile-[0-9a-f]{24}\.compiled$/);
    assert.deepEqual(own(), [basename(first[1] as string)]);
    assert.equal(statSync(join(cache, "code", own()[0] as string)).mode & 0o777, 0o600);

    // the next, whose object is cached, starts from the build's cache of such a start and writes the command's own
    const second = compile(src);
    assert.match(second[0] as string, /^used .*\/dist\/bundle\/cli-run-[0-9a-f]{24}\.v8$/);
    assert.match(second[1] as string, /^written .*\/code\/compile-[0-9a-f]{24}\.v8$/);
    const ownCache = (second[1] as string).replace(/^written /, "");
    // ... smaller than a cache with the compile pipeline
    const built = readdirSync(join(repoRoot, "dist/bundle")).find((f) =>
      /^cli-compile-[0-9a-f]{24}\.v8$/.test(f),
    );
    assert.ok(statSync(ownCache).size < statSync(join(repoRoot, "dist/bundle", built as string)).size);
    assert.deepEqual(compile(src), [`used ${ownCache}`]);

    // a command whose run after the mark compiles again keeps what it compiled
    rmSync(ownCache);
    const again = compile(other);
    assert.match(again[0] as string, /^used .*\/cli-run-[0-9a-f]{24}\.v8$/);
    assert.equal(again[1], `written ${ownCache}`);
  });

  it("compiles the CLI's bundle from its file's mapped pages: V8 reads only what it compiles from the text", () => {
    // (a hook that reports, as the process ends, how much of cli.cjs's mapping is resident)
    const dir = testTempDir("tsbpf-launcher-mapped");
    const hook = join(dir, "smaps.cjs");
    writeFileSync(
      hook,
      `process.on("exit", () => {
        let rss = 0, size = 0;
        for (const e of require("node:fs").readFileSync("/proc/self/smaps", "utf8").split(/\\n(?=[0-9a-f]+-[0-9a-f]+ )/))
          if (e.split("\\n")[0].endsWith("/dist/bundle/cli.cjs")) {
            rss += Number(/^Rss:\\s+(\\d+)/m.exec(e)[1]);
            size += Number(/^Size:\\s+(\\d+)/m.exec(e)[1]);
          }
        if (size > 0) process.stderr.write("cli.cjs mapped: rss " + rss + " size " + size + "\\n");
      });`,
    );
    const cache = join(dir, "cache");
    const report = (): { rss: number; size: number } => {
      const r = spawnSync(process.execPath, ["--require", hook, CLI, "help"], {
        encoding: "utf8",
        env: { ...process.env, TSBPF_CACHE_DIR: cache },
      });
      assert.equal(r.status, 0, r.stderr);
      const m = /cli\.cjs mapped: rss (\d+) size (\d+)/.exec(r.stderr);
      assert.ok(m, `cli.cjs is not mapped:\n${r.stderr}`);
      return { rss: Number(m[1]), size: Number(m[2]) };
    };
    report(); // (writes help's own cache)
    const { rss, size } = report();
    assert.equal(size, Math.ceil(statSync(join(repoRoot, "dist/bundle/cli.cjs")).size / 4096) * 4);
    // run from its own cache, help compiles nothing from the text
    assert.ok(rss * 4 < size, `${rss} of ${size} kB resident`);
  });

  it("starts without loading node:module (it brings the ES module loader) or node:os where Node has process.getBuiltinModule", {
    skip:
      typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule !== "function" &&
      "this Node has no process.getBuiltinModule",
  }, () => {
    const dir = testTempDir("tsbpf-launcher-builtins");
    const hook = join(dir, "modules.cjs");
    // (what the process loaded from Node's own modules, as it ends)
    writeFileSync(
      hook,
      `process.on("exit", () => process.stderr.write("loaded: " + process.moduleLoadList.join(",") + "\\n"));`,
    );
    for (const args of [["help"], ["help"], ["execsnoop", "-h"]]) {
      const r = spawnSync(process.execPath, ["--require", hook, CLI, ...args], {
        encoding: "utf8",
        env: { ...process.env, TSBPF_CACHE_DIR: join(dir, "cache") },
      });
      assert.equal(r.status, 0, r.stderr);
      const loaded = /^loaded: (.*)$/m.exec(r.stderr)?.[1]?.split(",") ?? [];
      assert.ok(loaded.includes("NativeModule vm"), `the hook saw no module list:\n${r.stderr}`);
      assert.ok(!loaded.includes("NativeModule module"), `${args.join(" ")} loaded node:module`);
      assert.ok(!loaded.includes("NativeModule os"), `${args.join(" ")} loaded node:os`);
    }
  });
});
