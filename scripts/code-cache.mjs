// Writes dist/bundle/cli-HASH.v8 (HASH: the first argument, the bundle's
// hash that scripts/bundle.mjs builds into the launcher; bundle.mjs runs
// this right after it writes the bundle): V8's code cache of the CLI bundle, made at
// build time, which the launcher (src/cli/launcher.ts) uses for a command
// that has no cache of its own yet, i.e. on its first, cold, run.
//
// The cache holds the functions compiled by the time it is made: this
// script runs the bundle's `compile` command on the seed's program
// (printk_sample's C), in a temporary cache directory, so that the CLI's
// start and the compile pipeline are in it. Measured on Node 20
// (bench/startup.ts's cold printk_sample, median of 9): no cache 311 ms, a
// cache of the compiled bundle alone 265 ms, this one 252 ms.
//
// A cache is valid for the V8 that made it (version and flags); another
// Node refuses it, harmlessly, and the command then writes its own. If the
// compile fails here (no clang, no kernel BTF), the cache still holds what
// ran before the failure, at least the bundle's top level.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const dir = resolve("dist/bundle");
const { builtCacheName, compileBundle, runBundle } = await import(resolve("dist/src/cli/launcher.js"));

if (process.argv[2] === "--child") {
  // The bundle, compiled as the launcher compiles it, run with the workload's arguments.
  const out = process.argv[3];
  const script = compileBundle(dir);
  process.argv = [process.argv[0], join(dir, "tsbpf.cjs"), ...process.argv.slice(4)];
  process.once("exit", () => {
    writeFileSync(`${out}.tmp`, script.createCachedData(), { mode: 0o644 });
    renameSync(`${out}.tmp`, out);
  });
  runBundle(dir, script);
} else {
  const out = join(dir, builtCacheName(process.argv[2]));
  const work = mkdtempSync(join(tmpdir(), "tsbpf-code-cache-"));
  try {
    const { bpfText } = await import(resolve("dist/examples/first_step/printk_sample.js"));
    const c = join(work, "printk_sample.c");
    writeFileSync(c, bpfText);
    rmSync(out, { force: true });
    const r = spawnSync(
      process.execPath,
      [process.argv[1], "--child", out, "compile", c, "-o", join(work, "printk_sample.o")],
      { encoding: "utf8", env: { ...process.env, TSBPF_CACHE_DIR: join(work, "cache") } },
    );
    if (r.status !== 0)
      console.error(`code-cache: the compile workload failed (the cache holds less):\n${r.stderr}`);
    // No cache only costs a cold start its compile time: not a build failure.
    if (existsSync(out)) console.log(`code-cache: wrote ${out} (${statSync(out).size} bytes)`);
    else console.error(`code-cache: no cache written:\n${r.stderr}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
