import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, fsyncSync, openSync, rmdirSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { sprintf } from "../../../src/format/printf.js";
import { reclaimRow } from "../../../tools/drsnoop.js";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { smallMemoryCgroup } from "./activity.js";
import { traceWhile } from "./run_tool.js";

// Direct reclaim needs memory pressure on the whole machine, which a shared
// test host cannot be put under safely: the rows of bcc's events are checked
// through the formatter, and real rows through --memcg, the reclaim a task
// does at its memory cgroup's limit (a child reads a file bigger than it).
describe("drsnoop", () => {
  const e = {
    id: (1234n << 32n) | 1240n,
    nr_reclaimed: 57n,
    delta_ns: 2_345_678n,
    ts_ns: 5_500_000_000n,
    uid: 1000,
    memcg: 0,
    comm: "a-very-long-command-name",
  };

  it("formats bcc's rows", () => {
    assert.equal(sprintf(...reclaimRow(e, {})), "a-very-long-co 1234       2.35    57");
    assert.equal(
      sprintf(...reclaimRow(e, { timestamp: 5_000_000_000n, printUid: true, tid: true, free: 1024 })),
      "0.500000000   1000  a-very-long-co 1240       2.35    57      1024",
    );
  });

  it("attaches, prints bcc's header and ends by itself with -d", { skip: skipUnlessRoot }, async () => {
    const r = await traceWhile("drsnoop", ["-T", "-U", "-d", "0.5"], () => 0, { untilExit: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "TIME(s)       UID   COMM           PID     LAT(ms) PAGES");
    const v = await traceWhile("drsnoop", ["-t", "1", "-v", "-d", "0.3"], () => 0, { untilExit: true });
    assert.equal(v.lines[0], "COMM           TID     LAT(ms) PAGES  FREE(KB)");
    assert.match(v.stderr, /MemFree/);
    const j = await traceWhile("drsnoop", ["--json", "-d", "0.3"], () => 0, { untilExit: true });
    assert.equal(j.code, 0, j.stderr);
    assert.equal(j.stdout, "");
  });

  const cg = skipUnlessRoot ? undefined : smallMemoryCgroup();
  it("--memcg: a child reading a file larger than its cgroup's memory reclaims, with its PID", {
    skip: skipUnlessRoot || (cg ? false : "no memory cgroup can be made here"),
  }, async () => {
    const { dir, procs } = cg as { dir: string; procs: string };
    try {
      // 64 MB on disk, out of the page cache: reading it charges the cgroup (24 MB)
      const file = join(testTempDir("tsbpf-drsnoop"), "big");
      const fd = openSync(file, "w");
      for (let i = 0; i < 64; i++) writeSync(fd, Buffer.alloc(1 << 20, i));
      fsyncSync(fd);
      closeSync(fd);
      assert.equal(spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0"]).status, 0);
      const r = await traceWhile("drsnoop", ["--memcg", "--json"], () => {
        const c = spawnSync("/bin/sh", ["-c", `echo $$ > ${procs} && exec cat ${file} > /dev/null`]);
        // Some kernels charge a file's page cache to a cgroup as shmem (seen on a 6.18 VM kernel
        // whose ext4 reads count there): nothing is then reclaimable, and after its reclaims the
        // cgroup's OOM killer ends the reader.
        assert.ok(c.status === 0 || c.signal === "SIGKILL", `${c.status} ${c.signal} ${c.stderr}`);
        return c.pid as number;
      });
      assert.equal(r.code, 0, r.stderr);
      const mine = r.records.filter((x) => x.pid === r.result);
      assert.ok(mine.length > 0, r.stdout.slice(0, 2000));
      const first = mine[0] as Record<string, unknown>;
      assert.deepEqual(
        { comm: first.comm, reclaim: first.reclaim, uid: first.uid },
        { comm: "cat", reclaim: "memcg", uid: 0 },
      );
      assert.ok(mine.some((x) => (x.pages as number) > 0));
      assert.ok(mine.every((x) => typeof x.lat_ms === "number" && (x.lat_ms as number) >= 0));
      // without --memcg, bcc's events only: none of these
      const bcc = await traceWhile("drsnoop", ["--json"], () => {
        assert.equal(spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0"]).status, 0);
        const c = spawnSync("/bin/sh", ["-c", `echo $$ > ${procs} && exec cat ${file} > /dev/null`]);
        return c.pid as number;
      });
      assert.ok(!bcc.records.some((x) => x.pid === bcc.result && x.reclaim === "memcg"), bcc.stdout);
    } finally {
      rmdirSync(dir);
    }
  });
});
