// Writes V8's code cache of a bundle at build time, for a first (cold) run
// that has no cache of its own yet (src/bundle_runner.ts):
//   node scripts/code-cache.mjs cli HASH   -> dist/bundle/cli-HASH.v8
//   node scripts/code-cache.mjs lib HASH   -> dist/bundle/lib-HASH.v8
// HASH is the bundle's hash, which scripts/bundle.mjs builds into the
// bundle's runner and passes here right after it writes the bundle.
//
// A cache holds the functions compiled by the time it is made, so a child
// process runs a workload through the bundle first, in a temporary cache
// directory, on the seed program (printk_sample's C):
//  - cli: the `compile` command, so that the CLI's start and the compile
//    pipeline are in the cache. Measured on Node 20 (bench/startup.ts's
//    cold printk_sample, median of 9): no cache 311 ms, a cache of the
//    compiled bundle alone 265 ms, this one 252 ms;
//  - lib: BPF.load of the program and close(), the library's start, compile
//    and load. As root it loads the program into the kernel for a moment;
//    elsewhere the load fails after the compile, and the cache holds the rest.
//
// A cache is valid for the V8 that made it (version and flags); another
// Node refuses it, harmlessly, and the run then writes its own. If the
// workload fails (no clang, no kernel BTF), the cache still holds what ran
// before the failure, at least the bundle's top level.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const dir = resolve("dist/bundle");
const { builtCacheName, compileBundle, runBundle } = await import(resolve("dist/src/bundle_runner.js"));

if (process.argv[2] === "--child") {
  // The bundle, compiled as its runner compiles it, running the workload.
  const [, , , stem, out, c, ...args] = process.argv;
  const file = join(dir, `${stem}.cjs`);
  const script = compileBundle(file);
  process.once("exit", () => {
    writeFileSync(`${out}.tmp`, script.createCachedData(), { mode: 0o644 });
    renameSync(`${out}.tmp`, out);
  });
  if (stem === "cli") {
    process.argv = [process.argv[0], join(dir, "tsbpf.cjs"), ...args];
    runBundle(file, script);
  } else {
    const { BPF } = runBundle(file, script);
    const { readFileSync } = await import("node:fs");
    let b;
    try {
      b = await BPF.load({ text: readFileSync(c, "utf8") });
    } catch (err) {
      console.error(`code-cache: the load workload failed (the cache holds the compile): ${err.message}`);
    } finally {
      b?.close();
    }
  }
} else {
  const [stem, hash] = process.argv.slice(2);
  if ((stem !== "cli" && stem !== "lib") || !hash) {
    console.error("usage: node scripts/code-cache.mjs cli|lib HASH");
    process.exit(2);
  }
  const out = join(dir, builtCacheName(stem, hash));
  const work = mkdtempSync(join(tmpdir(), "tsbpf-code-cache-"));
  try {
    const { bpfText } = await import(resolve("dist/examples/first_step/printk_sample.js"));
    const c = join(work, "printk_sample.c");
    writeFileSync(c, bpfText);
    rmSync(out, { force: true });
    const args = stem === "cli" ? ["compile", c, "-o", join(work, "printk_sample.o")] : [];
    const r = spawnSync(process.execPath, [process.argv[1], "--child", stem, out, c, ...args], {
      encoding: "utf8",
      env: { ...process.env, TSBPF_CACHE_DIR: join(work, "cache") },
    });
    if (r.status !== 0 || r.stderr.includes("workload failed"))
      console.error(`code-cache: the ${stem} workload failed (the cache holds less):\n${r.stderr}`);
    // No cache only costs a cold start its compile time: not a build failure.
    if (existsSync(out)) console.log(`code-cache: wrote ${out} (${statSync(out).size} bytes)`);
    else console.error(`code-cache: no cache written:\n${r.stderr}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
