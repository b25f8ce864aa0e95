/**
 * A script as a user writes one, importing the package's entry (the library
 * bundle run through V8's code cache, src/library_loader.ts), reports an
 * event of a process the test spawns; Ctrl-C (SIGINT, the script has no
 * handler of its own) ends it by that signal with nothing left in the
 * kernel. The first run compiled its program, so it leaves only a mark
 * (src/bundle_runner.ts); the second writes the library's code cache on that
 * way out, where 'exit' listeners do not run (src/lifecycle.ts re-raises the
 * signal); the third uses the cache and reports as well.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import {
  assertNothingLeft,
  kernelObjects,
  repoRoot,
  sameOnEveryKernel,
  skipUnlessRoot,
  startNode,
  testTempDir,
  waitFor,
} from "../helpers.js";

const SCRIPT = `
import { BPF } from ${JSON.stringify(join(repoRoot, "dist/bundle/index.mjs"))};
const b = await BPF.load({ text: \`
struct data_t { u32 pid; };
BPF_PERF_OUTPUT(events);
TRACEPOINT_PROBE(sched, sched_process_exec) {
    struct data_t d = { .pid = bpf_get_current_pid_tgid() >> 32 };
    events.perf_submit(args, &d, sizeof(d));
    return 0;
}\` });
const events = b.getTable("events");
events.openPerfBuffer((_cpu, data) => process.stdout.write(\`exec \${events.event(data).pid}\\n\`));
console.log("ready");
`;

async function runOnce(script: string, cache: string): Promise<string> {
  // (startNode runs a script under dist/)
  const run = startNode(relative(join(repoRoot, "dist"), script), [], {
    TSBPF_CACHE_DIR: cache,
    NODE_DEBUG: "tsbpf",
  });
  assert.ok(await waitFor(() => run.stdout().includes("ready"), 30_000), `no "ready": ${run.stderr()}`);
  const target = spawn("/bin/true", [], { stdio: "ignore" });
  await new Promise((r) => target.on("exit", r));
  assert.ok(
    await waitFor(() => run.stdout().includes(`exec ${target.pid}\n`)),
    `no event of pid ${target.pid}: ${run.stdout()}`,
  );
  run.child.kill("SIGINT");
  assert.deepEqual(await run.exited, { code: null, signal: "SIGINT" }, run.stderr());
  return run.stderr();
}

describe("the package's entry in a traced process", { skip: skipUnlessRoot || sameOnEveryKernel }, () => {
  it("reports an event, ends by Ctrl-C with nothing left, and writes the library's code cache then (on the run after the one that compiled)", async () => {
    const dir = testTempDir("tsbpf-libentry-k");
    const script = join(dir, "trace.mjs");
    writeFileSync(script, SCRIPT);
    const cache = join(dir, "cache");
    const before = kernelObjects();
    const first = await runOnce(script, cache);
    await assertNothingLeft(before);
    // (it compiled its program: the mark that makes the next run start from the build's cache without the compile pipeline)
    assert.match(first, /code cache: marked .*\/code\/library-[0-9a-f]{24}\.compiled\n/);
    assert.doesNotMatch(first, /code cache: written/);

    const second = await runOnce(script, cache);
    await assertNothingLeft(before);
    assert.match(second, /code cache: used .*\/dist\/bundle\/lib-run-[0-9a-f]{24}\.v8\n/);
    assert.match(second, /code cache: written .*\/code\/library-[0-9a-f]{24}\.v8\n/);
    const cached = readdirSync(join(cache, "code")).filter((f) => /^library-.*\.v8$/.test(f));
    assert.equal(cached.length, 1);

    const third = await runOnce(script, cache);
    await assertNothingLeft(before);
    assert.match(third, new RegExp(`code cache: used ${join(cache, "code", cached[0] as string)}\\n`));
    assert.doesNotMatch(third, /code cache: written/);
  });
});
