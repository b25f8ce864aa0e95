/**
 * Every way out of a process detaches everything: return, uncaught
 * exception, SIGINT/SIGTERM without a handler of the program's own.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { assertNothingLeft, kernelObjects, repoRoot, skipUnlessRoot, testTempDir } from "../helpers.js";

const index = JSON.stringify(join(repoRoot, "dist/src/index.js"));

/** A script that loads and attaches a program, prints "attached", then does `then`. */
function script(then: string): string {
  const dir = testTempDir("tsbpf-life");
  const path = join(dir, "prog.mjs");
  writeFileSync(
    path,
    `import { BPF } from ${index};
const b = await BPF.load({ text: "int f(void *ctx) { return 0; }\\nint g(struct bpf_raw_tracepoint_args *ctx) { return 0; }" });
b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "f" });
b.attachRawTracepoint({ tp: "sched_switch", fnName: "g" });
console.log("attached");
${then}
`,
  );
  return path;
}

async function run(
  path: string,
  signal?: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [path], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
    if (signal && out.includes("attached")) child.kill(signal);
  });
  child.stderr.on("data", (b: Buffer) => {
    err += b.toString();
  });
  return new Promise((resolve) =>
    child.on("exit", (code, sig) => resolve({ code, signal: sig, stderr: err })),
  );
}

describe("lifecycle", { skip: skipUnlessRoot }, () => {
  it("a normal return leaves nothing", async () => {
    const before = kernelObjects();
    const r = await run(script(""));
    assert.equal(r.code, 0, r.stderr);
    await assertNothingLeft(before);
  });

  it("an uncaught exception leaves nothing", async () => {
    const before = kernelObjects();
    const r = await run(script('throw new Error("boom");'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /boom/);
    await assertNothingLeft(before);
  });

  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    it(`${sig} with no handler of the program's own: cleaned up, then the signal ends the process`, async () => {
      const before = kernelObjects();
      const r = await run(script("setInterval(() => {}, 1000);"), sig);
      assert.equal(r.signal, sig, r.stderr);
      await assertNothingLeft(before);
    });
  }

  it("a program's own SIGINT handler runs with everything still attached", async () => {
    const before = kernelObjects();
    const r = await run(
      script(`process.on("SIGINT", () => {
  console.error("handler sees " + b.numOpenTracepoints() + " tracepoint(s)");
  b.close();
  process.exit(0);
});
setInterval(() => {}, 1000);`),
      "SIGINT",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /handler sees 1 tracepoint\(s\)/);
    await assertNothingLeft(before);
  });
});
