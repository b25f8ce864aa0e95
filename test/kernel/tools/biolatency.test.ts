import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { type LoopDev, loopDevice } from "./loopdev.js";
import { traceWhile } from "./run_tool.js";

describe("biolatency", { skip: skipUnlessRoot }, () => {
  let dev: LoopDev;
  before(() => {
    dev = loopDevice();
  });
  after(() => dev.close());

  it("counts the direct writes made to a loop device (-d), bcc's histogram", async () => {
    const r = await traceWhile("biolatency", ["-d", dev.name], () => dev.write(4096, 64));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing block device I/O... Hit Ctrl-C to end.");
    assert.match(r.stdout, /\n {5}usecs {15}: count {5}distribution\n/);
    const counts = [...r.stdout.matchAll(/-> \d+ +: (\d+) +\|/g)].map((m) => Number(m[1]));
    assert.equal(
      counts.reduce((x, y) => x + y, 0),
      64,
      r.stdout,
    );
  });

  it("-D -e: a section per disk named from /sys, and the average line", async () => {
    const r = await traceWhile("biolatency", ["-D", "-e", "-d", dev.name], () => dev.write(8192, 16));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`\ndisk = ${dev.name}\n {5}usecs {15}: count`));
    assert.match(r.stdout, /\navg = \d+ usecs, total: \d+ usecs, count: 16\n/);
  });

  it("--json -F -Q: bcc's JSON histogram per set of flags", async () => {
    const r = await traceWhile("biolatency", ["--json", "-F", "-Q", "-m", "-d", dev.name], () => {
      dev.write(4096, 8);
      dev.read(4096, 8);
    });
    assert.equal(r.code, 0, r.stderr);
    const byFlags = new Map(
      r.records.map((x) => [
        x.flags as string,
        (x.data as Array<{ count: number }>).reduce((s, d) => s + d.count, 0),
      ]),
    );
    assert.equal(r.records[0]?.val_type, "msecs");
    const writes = [...byFlags].filter(([f]) => f.endsWith("Write")).reduce((s, [, n]) => s + n, 0);
    const reads = [...byFlags].filter(([f]) => f.endsWith("Read")).reduce((s, [, n]) => s + n, 0);
    assert.equal(writes, 8, JSON.stringify([...byFlags]));
    assert.equal(reads, 8, JSON.stringify([...byFlags]));
  });

  it("prints interval summaries with -T and stops after count; rejects -D with -F", async () => {
    const r = await traceWhile("biolatency", ["-T", "0.3", "2"], () => 0, { untilExit: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.filter((l) => /^\d\d:\d\d:\d\d$/.test(l)).length, 2, r.stdout);
    const bad = await traceWhile("biolatency", ["-D", "-F"], () => 0);
    assert.equal(bad.code, 2);
    const nodisk = await traceWhile("biolatency", ["-d", "tsbpf-no-such-disk"], () => 0);
    assert.equal(nodisk.code, 2);
    assert.match(nodisk.stderr, /no such disk 'tsbpf-no-such-disk'/);
  });
});
