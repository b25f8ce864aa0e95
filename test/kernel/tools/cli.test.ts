/**
 * The tools from the command line, as users run them: every tool starts
 * from the CLI bundle with no compiler on PATH (their objects are built
 * with the package), `tsbpf tools` lists them, and every way a tool ends
 * (Ctrl-C, SIGTERM, SIGKILL, --duration) leaves nothing in the kernel.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { native } from "../../../src/native.js";
import { toolNames } from "../../../tools/index.js";
import {
  assertNothingLeft,
  freshCacheDir,
  kernelObjects,
  type Running,
  repoRoot,
  skipUnlessRoot,
  startNode,
  testTempDir,
  waitFor,
} from "../../helpers.js";

const CLI = `${repoRoot}dist/bundle/tsbpf.cjs`;

/** What the tools with a required argument are given. */
const REQUIRED_ARGS: Record<string, string[]> = {
  argdist: ["-C", "t:sched:sched_switch()"],
  stackcount: ["t:sched:sched_switch"],
  funccount: ["t:sched:sched_switch"],
  funclatency: ["c:getppid"],
  trace: ["t:sched:sched_switch"],
};

/** An environment whose PATH holds no compiler, with an empty compile cache. */
function noCompilerEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: testTempDir("tsbpf-nopath"), TSBPF_CACHE_DIR: freshCacheDir() };
}

/**
 * A preload for node's --require that writes Node's own module list to a file
 * at exit: what a start loaded.
 */
function moduleReport(prefix: string): { preload: string; modules: () => string[] } {
  const dir = testTempDir(prefix);
  const report = `${dir}/modules.txt`;
  const preload = `${dir}/report.cjs`;
  writeFileSync(
    preload,
    `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(report)}, process.moduleLoadList.join("\\n")));\n`,
  );
  return { preload, modules: () => readFileSync(report, "utf8").split("\n") };
}

describe("tools from the CLI", { skip: skipUnlessRoot }, () => {
  it("tsbpf tools lists every tool with its hooks on this kernel", () => {
    const r = spawnSync(process.execPath, [CLI, "tools"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    for (const name of toolNames()) assert.match(r.stdout, new RegExp(`^${name} +\\S`, "m"));
  });

  it("every tool runs with no compiler on PATH and prints its output", () => {
    const env = noCompilerEnv();
    const failed: string[] = [];
    for (const name of toolNames()) {
      const r = spawnSync(
        process.execPath,
        [CLI, name, "--duration", "0.5", ...(REQUIRED_ARGS[name] ?? [])],
        {
          encoding: "utf8",
          env,
          timeout: 30_000,
        },
      );
      if (r.status !== 0 || r.stdout.length === 0) failed.push(`${name}: status ${r.status}\n${r.stderr}`);
    }
    assert.deepEqual(failed, []);
  });

  for (const signal of ["SIGINT", "SIGTERM", "SIGKILL"] as const) {
    it(`a tool ended by ${signal} leaves nothing in the kernel`, async () => {
      const before = kernelObjects();
      const child = spawn(process.execPath, [CLI, "execsnoop"], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
      });
      const exited = new Promise<{ code: number | null; sig: string | null }>((r) =>
        child.on("exit", (code, sig) => r({ code, sig })),
      );
      assert.ok(await waitFor(() => out.includes("PCOMM"), 15_000), "execsnoop printed its header");
      child.kill(signal);
      const { code, sig } = await exited;
      if (signal === "SIGKILL") assert.equal(sig, "SIGKILL");
      else assert.equal(code, 0, `ended by ${signal}: status ${code} ${sig}`);
      await assertNothingLeft(before);
    });
  }

  it("a tool's start loads only what it uses: no HTTP server, zlib, stdio streams or node:v8; a 256 KiB event ring", () => {
    // What the process holds when it ends (a preload module reports Node's
    // own module list at exit): node:http is for --prometheus, node:zlib for
    // a kernel configuration in /proc/config.gz or a pprof file; each costs
    // every start ~1 MB of RSS.
    const report = moduleReport("tsbpf-footprint");
    const r = spawnSync(process.execPath, ["-r", report.preload, CLI, "execsnoop", "--duration", "1"], {
      encoding: "utf8",
      env: { ...process.env, TSBPF_CACHE_DIR: freshCacheDir() },
    });
    assert.equal(r.status, 0, r.stderr);
    const modules = report.modules();
    assert.ok(modules.includes("NativeModule vm"), "the report lists Node's modules");
    for (const m of ["NativeModule http", "NativeModule zlib", "NativeModule _http_server"])
      assert.ok(!modules.includes(m), `${m} was loaded`);
    // Nor the streams of stdout and stderr (pipes here: node's net and stream
    // modules, ~5 ms of a start), which a tool writes with fs; nor node:v8
    // (~3 ms), whose flags the compile pause sets through the addon.
    for (const m of ["NativeModule net", "NativeModule tty", "NativeModule stream", "NativeModule v8"])
      assert.ok(!modules.includes(m), `${m} was loaded`);
    // The ring's size, as the kernel has it (tool.bpf.h's TOOL_RING_BYTES)
    const obj = new (native().NativeObject)(
      readFileSync(`${repoRoot}dist/tools/execsnoop.bpf.o`),
      "execsnoop",
    );
    try {
      assert.equal(obj.maps().find((m) => m.name === "events")?.maxEntries, 256 * 1024);
    } finally {
      obj.close();
    }
  });

  it("a tutorial program from the CLI prints its rows and notes without making stdio streams; a reader gone ends it quietly", async () => {
    // printk-sample prints with printf and its runner's notes (src/stdio.ts):
    // to the descriptors, as the stream of neither was made.
    const report = moduleReport("tsbpf-stdio");
    const env = { TSBPF_CACHE_DIR: freshCacheDir(), NODE_OPTIONS: `--require ${report.preload}` };
    const start = (): Running => startNode("bundle/tsbpf.cjs", ["printk-sample"], env);
    const before = kernelObjects();
    const r = start();
    assert.ok(await waitFor(() => r.stdout().includes("PID    COMM         OUTPUT"), 30_000), r.stderr());
    const pids: number[] = [];
    const printed = await waitFor(
      () => {
        pids.push(spawnSync("/bin/true").pid as number);
        return pids.some((p) => r.stdout().includes(`pid = ${p},`));
      },
      10_000,
      100,
    );
    r.child.kill("SIGINT");
    assert.equal((await r.exited).code, 0, r.stderr());
    assert.ok(printed, r.stdout());
    // (on a kernel without kprobes, the one line that says so, whole)
    assert.match(r.stderr(), /^(printk_sample: kprobes are not available on this kernel .*instead\n)?$/);
    const modules = report.modules();
    assert.ok(modules.includes("NativeModule vm"), "the report lists Node's modules");
    for (const m of ["NativeModule net", "NativeModule tty", "NativeModule stream"])
      assert.ok(!modules.includes(m), `${m} was loaded`);
    await assertNothingLeft(before);

    // `tsbpf printk-sample | head -1`: the row written after the reader went
    // away fails with EPIPE, which ends the command with status 0 and no message.
    const again = start();
    assert.ok(await waitFor(() => again.stdout().includes("OUTPUT"), 30_000), again.stderr());
    again.child.stdout?.destroy();
    await waitFor(
      () => {
        spawnSync("/bin/true");
        return again.child.exitCode !== null;
      },
      10_000,
      100,
    );
    const { code } = await again.exited;
    assert.equal(code, 0, again.stderr());
    assert.doesNotMatch(again.stderr(), /EPIPE|Error/);
    await assertNothingLeft(before);
  });

  it("a compiling command's first run starts clang early, and leaves no clang or work directory however its compile ends", () => {
    // printk-sample compiles: its first run in a cache directory starts clang
    // from the launcher (src/compile/early_clang.ts), which the compile's miss
    // takes; with the object cached but no code cache of the command's own, the
    // clang started is not needed and is ended.
    const cache = freshCacheDir();
    const env = { ...process.env, TSBPF_CACHE_DIR: cache };
    const clangsIn = (): number[] =>
      readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readlinkSync(`/proc/${p}/cwd`).startsWith(cache);
          } catch {
            return false;
          }
        })
        .map(Number);
    for (const step of ["cold", "object cached, no code cache"]) {
      if (step !== "cold") rmSync(join(cache, "code"), { recursive: true, force: true });
      const r = spawnSync(process.execPath, [CLI, "printk-sample", "--duration", "0.5"], {
        encoding: "utf8",
        env,
      });
      assert.equal(r.status, 0, `${step}: ${r.stderr}`);
      assert.deepEqual(
        readdirSync(join(cache, "tmp")),
        [],
        `${step}: the compile's work directories are gone`,
      );
      assert.deepEqual(clangsIn(), [], `${step}: no process is left in the cache`);
    }
    assert.ok(
      readdirSync(join(cache, "objects")).some((f) => f.endsWith(".o")),
      "the object was cached",
    );
  });

  it("a tool with no buffer to poll (profile) runs until Ctrl-C, then prints what it counted", async (t) => {
    // A child that spends its time in the kernel (copying zeroes), so the
    // kernel stacks sampled are its own whatever else the machine does: on
    // an idle machine profile -K alone may sample nothing in a second.
    const dd = spawn("dd", ["if=/dev/zero", "of=/dev/null", "bs=64k"], { stdio: "ignore" });
    t.after(() => dd.kill("SIGKILL"));
    const child = spawn(process.execPath, [CLI, "profile", "-F", "49", "-K", "-p", String(dd.pid)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    assert.ok(await waitFor(() => out.includes("Sampling at 49 Hertz"), 15_000), out);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(child.exitCode, null, `profile ended by itself: ${out}`);
    child.kill("SIGINT");
    assert.equal(await exited, 0);
    assert.match(out, new RegExp(`\\n {4}- {16}dd \\(${dd.pid}\\)\\n {8}\\d+\\n`));
  });
});
