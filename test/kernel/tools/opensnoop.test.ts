import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

function run(argv: string[], cwd?: string): number {
  const r = spawnSync(argv[0] as string, argv.slice(1), { stdio: "ignore", ...(cwd ? { cwd } : {}) });
  return r.pid as number;
}

describe("opensnoop", { skip: skipUnlessRoot }, () => {
  const dir = testTempDir("tsbpf-opensnoop");
  const file = join(dir, "known-file");
  writeFileSync(file, "x\n");

  it("prints bcc's columns for a file a child opens, and a failed open", async () => {
    const r = await traceWhile("opensnoop", ["-U", "-e"], () => [
      run(["/bin/cat", file]),
      run(["/bin/cat", `${dir}/missing`]),
      run(["/bin/sh", "-c", `echo x > ${dir}/written`]),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [ok, failed, sh] = r.result;
    assert.match(r.lines[0] as string, /^UID {3}PID {4}COMM {15}FD ERR FLAGS {4}PATH$/);
    const row = r.lines.find((l) => l.endsWith(` ${file}`));
    assert.ok(row, r.stdout);
    assert.match(row, new RegExp(`^0 +${ok} +cat +3 +0 00000000 ${file}$`));
    const bad = r.lines.find((l) => l.endsWith(`${dir}/missing`));
    assert.match(bad ?? "", new RegExp(`^0 +${failed} +cat +-1 +2 00000000 `));
    const w = r.lines.find((l) => l.endsWith(`${dir}/written`));
    assert.match(w ?? "", new RegExp(`^0 +${sh} +sh +3 +0 00001101 `));
  });

  it("-F completes a relative path across mounts; -x shows only failures; -p filters", async () => {
    // /dev/shm is a mount of its own (tmpfs on devtmpfs on /): the walk crosses two mounts
    const shm = mkdtempSync("/dev/shm/tsbpf-opensnoop-");
    writeFileSync(join(shm, "rel-file"), "x");
    try {
      const r = await traceWhile("opensnoop", ["-F", "-n", "cat"], () =>
        run(["/bin/cat", "rel-file", `../${shm.split("/").pop()}/nope`], shm),
      );
      assert.equal(r.code, 0, r.stderr);
      const mine = r.lines.filter((l) => new RegExp(`^${r.result} `).test(l));
      assert.ok(
        mine.some((l) => l.endsWith(` ${shm}/rel-file`)),
        r.stdout,
      );
      const x = await traceWhile("opensnoop", ["-x", "-F"], () => run(["/bin/cat", "rel-file", "nope"], shm));
      const rows = x.lines.filter((l) => new RegExp(`^${x.result} `).test(l));
      assert.ok(
        rows.some((l) => / +-1 +2 .*\/nope$/.test(l) && l.endsWith(`${shm}/nope`)),
        x.stdout,
      );
      assert.ok(!rows.some((l) => l.endsWith("rel-file")), x.stdout);
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
    // -p: a pid that is not the child's sees none of its opens
    const p = await traceWhile("opensnoop", ["-p", "1"], () => run(["/bin/cat", file]));
    assert.ok(!p.lines.some((l) => l.endsWith(file)), p.stdout);
  });

  it("--json records, -f flag filter, -T timestamps", async () => {
    const r = await traceWhile("opensnoop", ["--json", "-f", "O_WRONLY"], () => [
      run(["/bin/cat", file]),
      run(["/bin/sh", "-c", `echo x > ${dir}/json-written`]),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [cat, sh] = r.result;
    assert.ok(!r.records.some((e) => e.pid === cat));
    const rec = r.records.find((e) => e.pid === sh && e.path === `${dir}/json-written`);
    assert.ok(rec, JSON.stringify(r.records.filter((e) => e.pid === sh)));
    assert.equal(rec.comm, "sh");
    assert.equal(rec.fd, 3);
    assert.equal(rec.err, 0);
    assert.equal(rec.flags, 0o1101);
    assert.equal(rec.tid, sh);
    assert.equal(typeof rec.ts, "number");
    assert.match(rec.time as string, /^\d{4}-\d\d-\d\dT/);
    const t = await traceWhile("opensnoop", ["-T", "-t", "1"], () => 0);
    assert.match(t.lines[0] as string, /^TIME\(s\) {7}TID {4}COMM/);
    const bad = await traceWhile("opensnoop", ["-f", "O_BOGUS"], () => 0);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Bad flag: O_BOGUS/);
  });
});
