/**
 * A clang started before its arguments (prestartClang): it reads them from a
 * pipe as a response file, gets them exactly as a command line would give
 * them, runs in the directory it was started in, and is never left waiting:
 * not when cancelled, and not when the process that started it dies.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { adoptClang, type Clang, outputFile, prestartClang, runClang } from "../../src/compile/clang.js";
import { startClangWithAddon } from "../../src/compile/clang_start.js";
import { native } from "../../src/native.js";
import { clangOrSkip, processEnded } from "../clang_helpers.js";
import { waitFor } from "../helpers.js";

const clang = clangOrSkip();
const skip = typeof clang === "string" ? clang : false;

describe("prestartClang", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-prestart-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const c = clang as Clang;

  it("gives clang the arguments a command line would, quotes, spaces and backslashes included", async () => {
    const args = [
      "-E",
      "-dM",
      "-x",
      "c",
      "-DSPACED=one two",
      "-DBACK=a\\b\\\\c",
      "-DQUOTED=\"q\" 's'",
      "-DNEWLINE_FREE=$HOME*?",
      "/dev/null",
    ];
    const warm = prestartClang(c, dir);
    assert.ok(warm, "this machine's addon has pipe()");
    const [viaPipe, direct] = await Promise.all([warm.run(args), runClang(c, args, dir)]);
    assert.equal(viaPipe.code, 0, viaPipe.stderr);
    assert.equal(viaPipe.stdout, direct.stdout);
    assert.match(viaPipe.stdout, /^#define SPACED one two$/m);
    assert.match(viaPipe.stdout, /^#define BACK a\\b\\\\c$/m);
    assert.match(viaPipe.stdout, /^#define QUOTED "q" 's'$/m);
    assert.match(viaPipe.stdout, /^#define NEWLINE_FREE \$HOME\*\?$/m);
  });

  it("runs in its directory and reports clang's errors as runClang does", async () => {
    writeFileSync(join(dir, "ok.c"), "int x;\n");
    writeFileSync(join(dir, "bad.c"), "int x = ;\n");
    const ok = prestartClang(c, dir);
    assert.equal((await ok?.run(["-fsyntax-only", "ok.c"]))?.code, 0);
    const bad = prestartClang(c, dir);
    const r = await bad?.run(["-fsyntax-only", "bad.c"]);
    assert.notEqual(r?.code, 0);
    assert.match(r?.stderr ?? "", /^bad\.c:1:9: error: expected expression$/m);
  });

  it("a cancelled clang ends", async () => {
    const warm = prestartClang(c, dir);
    const pid = warm?.pid as number;
    assert.ok(pid > 0);
    assert.equal(processEnded(pid), false, "it waits for its arguments");
    warm?.cancel();
    assert.ok(await waitFor(() => processEnded(pid), 5000), `clang ${pid} still runs`);
  });

  it("a clang whose starter is killed ends (it reads no arguments)", async () => {
    // A process that starts clang, says its pid and waits: SIGKILL leaves it no cleanup.
    const module = fileURLToPath(new URL("../../src/compile/clang.js", import.meta.url));
    assert.ok(existsSync(module));
    const starter = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const { findClang, prestartClang } = await import(${JSON.stringify(module)});
         const w = prestartClang(findClang(), ${JSON.stringify(dir)});
         console.log(w.pid);
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const pid = await new Promise<number>((resolve) =>
      starter.stdout.once("data", (b: Buffer) => resolve(Number(String(b).trim()))),
    );
    assert.ok(pid > 0);
    assert.equal(processEnded(pid), false, "it waits for its arguments");
    starter.kill("SIGKILL");
    assert.ok(await waitFor(() => processEnded(pid), 5000), `clang ${pid} outlived its starter`);
  });
});

describe("a compile's clang, done at its object", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-output-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in for clang: reads its arguments, warns, writes out.o as `write` says, then lingers before exiting. */
  const fakeClang = (name: string, write: string, code: number, lingerS: number): Clang => {
    const path = join(dir, name);
    writeFileSync(
      path,
      `#!/bin/sh
cat > args.txt
echo "x.c:1:1: warning: a warning before the object" >&2
${write}
sleep ${lingerS}
exit ${code}
`,
    );
    chmodSync(path, 0o755);
    return { path } as Clang;
  };
  const start = (c: Clang) => {
    const started = startClangWithAddon(native(), c.path, dir);
    assert.ok(started?.pid, "this machine's addon starts a child");
    return { run: adoptClang(started, c, dir), pid: started.pid as number };
  };

  it("names the object a compile writes", () => {
    assert.equal(outputFile(["-O2", "-c", "x.c", "-o", "out.o"], "/w"), "/w/out.o");
    assert.equal(outputFile(["-c", "x.c", "-o", "/abs/y.o"], "/w"), "/abs/y.o");
    assert.equal(outputFile(["-E", "x.c", "-o", "out.i"], "/w"), undefined);
    assert.equal(outputFile(["-c", "x.c", "-o", "-"], "/w"), undefined);
  });

  it("resolves once clang has renamed its object into place, with its diagnostics, before it exits", async () => {
    const c = fakeClang("renames.sh", "printf obj > out-1e143149.o.tmp && mv out-1e143149.o.tmp out.o", 0, 3);
    const { run, pid } = start(c);
    try {
      const r = await run.run(["-c", "x.c", "-o", join(dir, "out.o")]);
      assert.equal(r.code, 0);
      assert.match(r.stderr, /warning: a warning before the object/);
      assert.equal(readFileSync(join(dir, "out.o"), "utf8"), "obj");
      assert.equal(processEnded(pid), false, "resolved before clang's exit");
      assert.match(readFileSync(join(dir, "args.txt"), "utf8"), /"-o"/);
    } finally {
      process.kill(pid, "SIGKILL");
      rmSync(join(dir, "out.o"), { force: true });
    }
  });

  it("waits for the exit of a clang that writes its object in place (it may be incomplete)", async () => {
    const c = fakeClang("in_place.sh", "printf part > out.o", 3, 0.3);
    const { run, pid } = start(c);
    const r = await run.run(["-c", "x.c", "-o", join(dir, "out.o")]);
    assert.equal(r.code, 3, "its exit status, not an early success");
    assert.ok(processEnded(pid));
    rmSync(join(dir, "out.o"), { force: true });
  });
});
