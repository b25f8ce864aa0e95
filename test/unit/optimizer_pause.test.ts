/**
 * pauseOptimizer (src/optimizer_pause.ts): while a pause lasts V8 optimizes
 * nothing new; when the last of nested pauses ends it optimizes again; a
 * process started with optimizer flags of its own keeps them. Watched
 * through --trace-opt, which is no optimizer flag.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../helpers.js";

const MODULE = join(repoRoot, "dist/src/optimizer_pause.js");

/** A script whose hot functions `during` (inside two nested pauses) and `after` (once they end) each loop 3e6 times. */
const SCRIPT = `
import { pauseOptimizer } from ${JSON.stringify(MODULE)};
function during(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; }
function after(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 5) % 1000033; return s; }
const outer = pauseOptimizer();
const inner = pauseOptimizer();
for (let k = 0; k < 30; k++) during(100000);
inner[Symbol.dispose]();
for (let k = 0; k < 30; k++) during(100000);
outer[Symbol.dispose]();
outer[Symbol.dispose]();
for (let k = 0; k < 30; k++) after(100000);
await new Promise((r) => setTimeout(r, 50));
`;

function optimized(flags: string[]): Set<string> {
  const r = spawnSync(process.execPath, [...flags, "--trace-opt", "--input-type=module", "-e", SCRIPT], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return new Set(
    [...r.stdout.matchAll(/completed optimizing 0x[0-9a-f]+ <JSFunction (\w+)/g)].map((m) => m[1] as string),
  );
}

describe("pauseOptimizer", () => {
  it("optimizes nothing while paused (nested), and again once the last pause ends", () => {
    const names = optimized([]);
    assert.ok(!names.has("during"), [...names].join(" "));
    assert.ok(names.has("after"), [...names].join(" "));
  });

  it("leaves a process started with its own optimizer flags as it is", () => {
    const names = optimized(["--no-turbofan"]);
    assert.ok(!names.has("during") && !names.has("after"), [...names].join(" "));
  });
});
