/**
 * pauseForCompile (src/compile_pause.ts): while a pause lasts V8 optimizes
 * nothing new; when the last of nested pauses ends it optimizes again; a
 * pause with lingerMs holds on that long after it is disposed, without
 * keeping the process alive; a process started with optimizer flags of its
 * own keeps them. Watched through --trace-opt, which is no optimizer flag.
 * The young generation does not grow while a pause lasts, and grows again
 * after. restoreV8Flags: a code cache written at exit while a pause is held
 * is one the next start takes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../helpers.js";

const MODULE = join(repoRoot, "dist/src/compile_pause.js");

/** A script whose hot functions `during` (inside two nested pauses) and `after` (once they end) each loop 3e6 times. */
const SCRIPT = `
import { pauseForCompile } from ${JSON.stringify(MODULE)};
function during(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; }
function after(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 5) % 1000033; return s; }
const outer = pauseForCompile();
const inner = pauseForCompile();
for (let k = 0; k < 30; k++) during(100000);
inner[Symbol.dispose]();
for (let k = 0; k < 30; k++) during(100000);
outer[Symbol.dispose]();
outer[Symbol.dispose]();
for (let k = 0; k < 30; k++) after(100000);
await new Promise((r) => setTimeout(r, 50));
`;

/** `lingering` runs hot just after a pause with lingerMs ended, `after` once the linger is over. */
const LINGER_SCRIPT = `
import { pauseForCompile } from ${JSON.stringify(MODULE)};
function lingering(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; }
function after(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 5) % 1000033; return s; }
pauseForCompile({ lingerMs: 400 })[Symbol.dispose]();
for (let k = 0; k < 30; k++) lingering(100000);
await new Promise((r) => setTimeout(r, 600));
for (let k = 0; k < 30; k++) after(100000);
await new Promise((r) => setTimeout(r, 50));
// a linger outlasting everything else does not hold the process
pauseForCompile({ lingerMs: 600000 })[Symbol.dispose]();
`;

/**
 * pauseWhileQuiet with a 200 ms period: `quiet` runs hot in short calls
 * every 10 ms (a tracer's event path at a few hundred events a second, ~1%
 * of a CPU; the test takes 25% as busy, for slow machines) for 1.5 s, then the
 * process is busy (~95%) for 1 s, then `after` runs
 * hot. With `control`, no pause is taken.
 */
const quietScript = (control: boolean): string => `
import { pauseWhileQuiet } from ${JSON.stringify(MODULE)};
function quiet(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; }
function after(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 5) % 1000033; return s; }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
${control ? "" : "const held = pauseWhileQuiet({ periodMs: 200, busyShare: 0.25 });"}
for (const end = Date.now() + 1500; Date.now() < end; await sleep(10)) quiet(20000);
for (const end = Date.now() + 1000; Date.now() < end; await sleep(1)) { const t = Date.now(); while (Date.now() - t < 20); }
for (let k = 0; k < 30; k++) after(100000);
await sleep(50);
`;

function optimized(flags: string[], script = SCRIPT): Set<string> {
  const r = spawnSync(process.execPath, [...flags, "--trace-opt", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.signal, null, "the process did not end by itself");
  assert.equal(r.status, 0, r.stderr);
  return new Set(
    [...r.stdout.matchAll(/completed optimizing 0x[0-9a-f]+ <JSFunction (\w+)/g)].map((m) => m[1] as string),
  );
}

/**
 * The young generation's size (V8's new space) at the start, after keeping
 * 300,000 objects alive inside a pause (or, with `paused` false, no pause),
 * and after as many again once the pause ended.
 */
function youngSizes(paused: boolean): { start: number; during: number; after: number } {
  const r = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import v8 from "node:v8";
import { pauseForCompile } from ${JSON.stringify(MODULE)};
const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size;
const keep = [];
const survivors = () => { for (let i = 0; i < 300000; i++) keep.push({ i, s: "x" + i }); };
const start = young();
const pause = ${paused ? "pauseForCompile()" : "{ [Symbol.dispose]() {} }"};
survivors();
const during = young();
pause[Symbol.dispose]();
survivors();
process.stdout.write(JSON.stringify({ start, during, after: young() }));`,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe("pauseWhileQuiet", () => {
  it("optimizes nothing while the process is quiet, and again for good once it is busy", () => {
    const control = optimized([], quietScript(true));
    assert.ok(
      control.has("quiet"),
      `without the pause V8 optimizes the quiet loop: ${[...control].join(" ")}`,
    );
    const names = optimized([], quietScript(false));
    assert.ok(!names.has("quiet"), [...names].join(" "));
    assert.ok(names.has("after"), [...names].join(" "));
  });
});

describe("pauseForCompile", () => {
  it("holds the young generation near its size while paused; it grows again after", () => {
    const control = youngSizes(false);
    const paused = youngSizes(true);
    // (V8 11 doubles the young generation when more than its size has survived since it last grew)
    assert.ok(control.during >= 8 * control.start, JSON.stringify(control));
    assert.ok(paused.during <= 2 * paused.start, JSON.stringify(paused));
    assert.ok(paused.after >= 4 * paused.during, JSON.stringify(paused));
  });

  it("optimizes nothing while paused (nested), and again once the last pause ends", () => {
    const names = optimized([]);
    assert.ok(!names.has("during"), [...names].join(" "));
    assert.ok(names.has("after"), [...names].join(" "));
  });

  it("sets the flags through the addon once one is loaded, without loading node:v8", () => {
    const viaAddon = `import { native } from ${JSON.stringify(join(repoRoot, "dist/src/native.js"))};
native();
${SCRIPT}
process.stdout.write(\`\\nnode:v8 loaded: \${process.moduleLoadList.includes("NativeModule v8")}\\n\`);`;
    const r = spawnSync(process.execPath, ["--trace-opt", "--input-type=module", "-e", viaAddon], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /node:v8 loaded: false/);
    const names = new Set(
      [...r.stdout.matchAll(/completed optimizing 0x[0-9a-f]+ <JSFunction (\w+)/g)].map(
        (m) => m[1] as string,
      ),
    );
    assert.ok(!names.has("during"), [...names].join(" "));
    assert.ok(names.has("after"), [...names].join(" "));
  });

  it("leaves a process started with its own optimizer flags as it is", () => {
    const names = optimized(["--no-turbofan"]);
    assert.ok(!names.has("during") && !names.has("after"), [...names].join(" "));
  });

  it("holds a pause lingerMs past its end, then optimizes again; the linger keeps no process alive", () => {
    const names = optimized([], LINGER_SCRIPT);
    assert.ok(!names.has("lingering"), [...names].join(" "));
    assert.ok(names.has("after"), [...names].join(" "));
  });

  it("restoreV8Flags: a code cache written at exit during a pause is taken by the next start", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-optpause-"));
    try {
      const source = "function f(x) { return x + 1; } f(1);";
      const write = (restore: boolean): void => {
        const out = join(dir, `${restore}.v8`);
        const r = spawnSync(
          process.execPath,
          [
            "--input-type=module",
            "-e",
            `import vm from "node:vm";
import { writeFileSync } from "node:fs";
import { pauseForCompile, restoreV8Flags } from ${JSON.stringify(MODULE)};
const script = new vm.Script(${JSON.stringify(source)});
pauseForCompile({ lingerMs: 600000 })[Symbol.dispose]();
process.on("exit", () => { ${restore ? "restoreV8Flags();" : ""} writeFileSync(${JSON.stringify(out)}, script.createCachedData()); });`,
          ],
          { encoding: "utf8", timeout: 60_000 },
        );
        assert.equal(r.status, 0, r.stderr);
      };
      const rejected = (restore: boolean): string => {
        const r = spawnSync(
          process.execPath,
          [
            "-e",
            `const vm = require("node:vm");
const s = new vm.Script(${JSON.stringify(source)}, { cachedData: require("node:fs").readFileSync(${JSON.stringify(join(dir, `${restore}.v8`))}) });
process.stdout.write(String(s.cachedDataRejected));`,
          ],
          { encoding: "utf8", timeout: 60_000 },
        );
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
      };
      write(false);
      write(true);
      // the flags are in the cache's check: written paused, a cache is refused
      assert.equal(rejected(false), "true");
      assert.equal(rejected(true), "false");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
