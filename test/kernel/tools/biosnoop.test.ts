import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { type LoopDev, loopDevice } from "./loopdev.js";
import { traceWhile } from "./run_tool.js";

describe("biosnoop", { skip: skipUnlessRoot }, () => {
  let dev: LoopDev;
  before(() => {
    dev = loopDevice();
  });
  after(() => dev.close());

  it("prints a row per direct write to a loop device: dd's pid, disk, W, sector, bytes", async () => {
    const r = await traceWhile("biosnoop", ["-d", dev.name], () => dev.write(4096, 8, 16));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  LAT(ms)");
    const rows = r.lines.slice(1);
    assert.equal(rows.length, 8, r.stdout);
    rows.forEach((row, i) => {
      const re = new RegExp(
        `^\\d+\\.\\d{6} +dd +${r.result} +${dev.name} +W ${String(128 + 8 * i).padEnd(10)} 4096 +\\d+\\.\\d\\d$`,
      );
      assert.match(row, re);
    });
  });

  it("--json -Q -P: records with queue time and pattern", async () => {
    const r = await traceWhile("biosnoop", ["--json", "-Q", "-P", "-d", dev.name], () => dev.read(8192, 4));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.records.length, 4, r.stdout);
    const [first, ...rest] = r.records;
    assert.deepEqual(
      { comm: first?.comm, pid: first?.pid, disk: first?.disk, type: first?.type, bytes: first?.bytes },
      { comm: "dd", pid: r.result, disk: dev.name, type: "R", bytes: 8192 },
    );
    assert.equal(typeof first?.lat_ms, "number");
    assert.equal(typeof first?.queue_ms, "number");
    assert.equal(typeof first?.time, "string");
    // reads one after another: each starts where the last ended
    for (const x of rest) assert.equal(x.pattern, "S");
    assert.deepEqual(
      r.records.map((x) => x.sector),
      [0, 16, 32, 48],
    );
  });
});
