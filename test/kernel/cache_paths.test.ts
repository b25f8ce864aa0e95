/**
 * No shell between tsbpf and the tools it runs (issue 17): a program whose
 * path, and whose -I directory, hold spaces, quotes and `$(…)` compiles
 * through BPF.load({ srcFile }) and `tsbpf compile`, and the command
 * substitution in the path never runs. With a fresh cache directory, as CI's
 * first run has: what the compile creates there is 0700 and 0600.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readMeta } from "../../src/compile/object_meta.js";
import { BPF } from "../../src/index.js";
import { freshCacheDir, repoRoot, runChild, skipUnlessRoot, testTempDir, waitFor } from "../helpers.js";

/** A path segment that a shell would act on: `$(touch MARKER)` among spaces and both quotes (with its slashes, it spans directories). */
const payload = (marker: string): string =>
  `a "dir" $(touch ${marker}) 'q' \`touch ${marker}\` ; touch ${marker} #`;

/** What a shell would create: from the directory's payload, and from the CLI output's relative `touch pwned-PID`. */
const markers = [`/tmp/tsbpf-pwned-${process.pid}`, join(process.cwd(), `pwned-${process.pid}`)];
after(() => {
  for (const m of markers) rmSync(m, { force: true });
});

const PROGRAM = `#include "weird.h"
BPF_HASH(execs, u32, u64);
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 v = WEIRD_VALUE;
    execs.update(&pid, &v);
    return 0;
}
`;

describe("paths with spaces, quotes and $(…) reach clang as arguments, never through a shell", {
  skip: skipUnlessRoot,
}, () => {
  const cache = join(freshCacheDir(), "absent"); // as on CI: the cache directory does not exist yet
  const savedCache = process.env.TSBPF_CACHE_DIR;
  const base = testTempDir("tsbpf-paths");
  const dir = join(base, payload(markers[0] as string));
  const src = join(dir, `prog 'one' "two" $(id) ;x.c`);
  const incDir = join(dir, "inc $(touch x)");

  it("the path is live: a shell given it unquoted would run the command (so this test can fail)", () => {
    const probe = `/tmp/tsbpf-pwned-${process.pid}-probe`;
    try {
      spawnSync("/bin/sh", ["-c", `: ${payload(probe)}`]);
      assert.ok(existsSync(probe), "the payload did not run in a shell: the test below proves nothing");
    } finally {
      rmSync(probe, { force: true });
    }
  });

  it("BPF.load({ srcFile, cflags: [-I…] }) compiles, loads and runs it; nothing was touched", async () => {
    mkdirSync(incDir, { recursive: true });
    writeFileSync(join(incDir, "weird.h"), "#define WEIRD_VALUE 4242\n");
    writeFileSync(src, PROGRAM);
    process.env.TSBPF_CACHE_DIR = cache;
    try {
      const b = await BPF.load({ srcFile: src, cflags: [`-I${incDir}`] });
      try {
        const execs = b.getTable("execs");
        const pid = runChild(["/bin/true"]);
        assert.ok(await waitFor(() => execs.get(pid) !== undefined, 5000), "the program saw no execve");
        assert.equal(execs.get(pid), 4242n);
      } finally {
        b.close();
      }
    } finally {
      if (savedCache === undefined) delete process.env.TSBPF_CACHE_DIR;
      else process.env.TSBPF_CACHE_DIR = savedCache;
    }
    for (const m of markers) assert.equal(existsSync(m), false, `${m} exists: a shell ran the path`);
    // The cache directory did not exist: it is now 0700, and its files 0600.
    assert.equal(lstatSync(cache).mode & 0o777, 0o700);
    const objects = join(cache, "objects");
    assert.equal(lstatSync(objects).mode & 0o777, 0o700);
    const files = readdirSync(objects);
    assert.ok(files.some((f) => f.endsWith(".o")));
    for (const f of files) assert.equal(lstatSync(join(objects, f)).mode & 0o777, 0o600, f);
    assert.deepEqual(readdirSync(join(cache, "tmp")), [], "a compile's work directory was left behind");
  });

  it("tsbpf compile PATH -I DIR -o OUT, with such paths", () => {
    const out = join(dir, `out "obj" 'o' $(touch pwned-${process.pid}) \`id\`.o`);
    const c = spawnSync(
      process.execPath,
      [join(repoRoot, "dist/bundle/tsbpf.cjs"), "compile", src, `-I${incDir}`, "-o", out],
      { encoding: "utf8", env: { ...process.env, TSBPF_CACHE_DIR: freshCacheDir() } },
    );
    assert.equal(c.status, 0, c.stderr);
    const meta = readMeta(readFileSync(out), out);
    assert.equal(meta?.fileName, `prog 'one' "two" $(id) ;x.c`);
    assert.deepEqual(
      meta?.programs.map((p) => p.name),
      ["tracepoint__syscalls__sys_enter_execve"],
    );
    for (const m of markers) assert.equal(existsSync(m), false, `${m} exists: a shell ran the path`);
  });
});
