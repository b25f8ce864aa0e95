// Writes V8's code caches of a bundle at build time, for a first (cold) run
// that has no cache of its own yet (src/bundle_runner.ts):
//   node scripts/code-cache.mjs cli HASH   -> dist/bundle/cli-HASH.v8, cli-compile-HASH.v8, cli-run-HASH.v8
//   node scripts/code-cache.mjs lib HASH   -> dist/bundle/lib-HASH.v8, lib-run-HASH.v8
// HASH is the bundle's hash, which scripts/bundle.mjs builds into the
// bundle's runner and passes here right after it writes the bundle.
//
// A cache holds the functions compiled by the time it is made, so child
// processes run workloads through the bundle first, in a temporary cache
// directory. Each CLI cache is made by one workload from no cache:
//  1. `execsnoop` until it has printed rows: a tool's start (its prebuilt
//     object, the CO-RE BTF, attaching, the ring buffer, its rows). This is
//     cli-HASH.v8, the cache of a tool's first run;
//  2. `printk-sample` with nothing compiled yet: the compile pipeline, then
//     a program's load, attach and trace_pipe. This is cli-compile-HASH.v8,
//     the cache of any other command's first run (src/cli/launcher.ts says
//     why two);
//  3. `printk-sample` again, its object cached: a start that loads a
//     compiled program. This is cli-run-HASH.v8, the cache of the run after
//     a first that compiled, which writes the command's own cache
//     (src/bundle_runner.ts's compileCached: that first run writes none, so
//     that the compile pipeline is not in every later start's cache).
// Not one after the other, each from the cache the one before made (a cache
// made by a run that started from another holds both runs' functions), as
// they were: a command's own cache, written by its first run, holds all the
// cache that run started from held, and V8 deserializes all of it at every
// later start. Apart, a tool's own cache is ~65 KB smaller (execsnoop's
// 683 KB instead of 747) and printk_sample's ~145 KB (740 instead of 884),
// ~1 and ~2 ms of every warm start (Node 20); a first run of trace or argdist,
// which compiles, compiles the tool's own start from source.
// The library's: BPF.load of a program with a perf buffer, an event, close()
// (the compile included: the library's cold start is the closer to its
// target), lib-HASH.v8; and the same with the program cached, from no
// cache, lib-run-HASH.v8. The CLI's steps and the library's load need root (the build's
// bootstrap has it); elsewhere they fail and the cache holds what ran
// before, at least the bundle's top level.
//
// A cache is valid for the V8 that made it (version and flags); another
// Node refuses it, harmlessly, and the run then writes its own.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const dir = resolve("dist/bundle");
const { builtCacheName, codeCacheOf, compileBundle, runBundle } = await import(resolve("dist/src/bundle_runner.js"));

/** The library's workload: what a script that reports events does. */
const LIB_PROGRAM = `
struct data_t { u32 pid; char comm[16]; };
BPF_PERF_OUTPUT(events);
TRACEPOINT_PROBE(sched, sched_process_exec) {
    struct data_t d = { .pid = bpf_get_current_pid_tgid() >> 32 };
    bpf_get_current_comm(&d.comm, sizeof(d.comm));
    events.perf_submit(args, &d, sizeof(d));
    return 0;
}`;

async function libWorkload(BPF) {
  let b;
  try {
    b = await BPF.load({ text: LIB_PROGRAM });
    const events = b.getTable("events");
    let seen = false;
    events.openPerfBuffer((_cpu, data) => {
      seen = events.event(data).pid > 0;
    });
    for (let i = 0; i < 100 && !seen; i++) {
      spawn("/bin/true").unref();
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (err) {
    console.error(`code-cache: the library's workload failed (the cache holds what ran): ${err.message}`);
  } finally {
    b?.close();
  }
}

if (process.argv[2] === "--child") {
  // The bundle, compiled as its runner compiles it (from the cache of the
  // step before, if any), running the workload.
  const [, , , stem, input, out, ...args] = process.argv;
  const file = join(dir, `${stem}.cjs`);
  const script = compileBundle(file, input === "-" ? undefined : readFileSync(input));
  if (script.cachedDataRejected) console.error(`code-cache: ${input} rejected`);
  process.once("exit", () => {
    writeFileSync(`${out}.tmp`, codeCacheOf(script), { mode: 0o644 });
    renameSync(`${out}.tmp`, out);
  });
  if (stem === "cli") {
    process.argv = [process.argv[0], join(dir, "tsbpf.cjs"), ...args];
    runBundle(file, script);
  } else {
    await libWorkload(runBundle(file, script).BPF);
  }
} else {
  const [stem, hash] = process.argv.slice(2);
  if ((stem !== "cli" && stem !== "lib") || !hash) {
    console.error("usage: node scripts/code-cache.mjs cli|lib HASH");
    process.exit(2);
  }
  const work = mkdtempSync(join(tmpdir(), "tsbpf-code-cache-"));
  /**
   * One step: a child from the cache `input` writing `output`, with tsbpf's
   * cache directory `cacheDir` (under the work directory). A step with
   * `rows` runs a tracer: the step execs /bin/true until the tracer has
   * printed that many lines, then ends it with SIGINT (Ctrl-C).
   */
  const step = (input, output, args, rows, cacheDir = "cache") =>
    new Promise((done) => {
      const child = spawn(process.execPath, [process.argv[1], "--child", stem, input, output, ...args], {
        env: { ...process.env, TSBPF_CACHE_DIR: join(work, cacheDir) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      const execs = rows === undefined ? undefined : setInterval(() => spawn("/bin/true").unref(), 20);
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        // (a moment for the rows' own code to run)
        setTimeout(() => child.kill("SIGINT"), 300);
      };
      const limit = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.stdout.on("data", (b) => {
        stdout += b;
        if (rows !== undefined && stdout.split("\n").length > rows) stop();
      });
      child.stderr.on("data", (b) => {
        stderr += b;
      });
      child.on("exit", (code, signal) => {
        clearTimeout(limit);
        if (execs) clearInterval(execs);
        const ok = existsSync(output);
        if (!ok || (rows === undefined ? code !== 0 : !stopping) || /code-cache: /.test(stderr))
          console.error(
            `code-cache: ${stem} ${args.join(" ") || "workload"} ended ${signal ?? code}` +
              `${ok ? "" : " without a cache"} (the cache holds less):\n${stderr.trim()}`,
          );
        done(ok ? output : input);
      });
    });
  /** Keeps the cache a step made as the build's cache `name`. */
  const keep = (cache, name) => {
    const out = join(dir, builtCacheName(name, hash));
    // No cache only costs a cold start its compile time: not a build failure.
    if (cache === "-") return console.error(`code-cache: no ${name} cache written`);
    // (the work directory may be on another file system)
    copyFileSync(cache, out);
    console.log(`code-cache: wrote ${out} (${statSync(out).size} bytes)`);
  };
  try {
    const names = stem === "cli" ? ["cli", "cli-compile", "cli-run"] : [stem, `${stem}-run`];
    for (const name of names) rmSync(join(dir, builtCacheName(name, hash)), { force: true });
    if (stem === "cli") {
      keep(await step("-", join(work, "0.v8"), ["execsnoop"], 3), "cli");
      keep(await step("-", join(work, "1.v8"), ["printk-sample"], 3, "cold"), "cli-compile");
      keep(await step("-", join(work, "2.v8"), ["printk-sample"], 3, "cold"), "cli-run");
    } else {
      keep(await step("-", join(work, "0.v8"), [], undefined), stem);
      keep(await step("-", join(work, "1.v8"), [], undefined), `${stem}-run`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
