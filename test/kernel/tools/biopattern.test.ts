import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { type LoopDev, loopDevice } from "./loopdev.js";
import { traceWhile } from "./run_tool.js";

describe("biopattern", { skip: skipUnlessRoot }, () => {
  let dev: LoopDev;
  before(() => {
    dev = loopDevice();
  });
  after(() => dev.close());

  it("sees sequential direct writes to a loop device as 100% sequential (-d)", async () => {
    const r = await traceWhile("biopattern", ["-d", dev.name], () => dev.write(4096, 33));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "TIME      DISK     %RND  %SEQ    COUNT     KBYTES");
    assert.equal(r.lines.length, 2, r.stdout);
    // the first I/O only sets the position (as in bcc): 32 counted, 128 KiB
    assert.match(r.lines[1] as string, new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${dev.name} +0 +100 +32 +128$`));
  });

  it("--json: random reads jump around", async () => {
    const r = await traceWhile("biopattern", ["--json", "-d", dev.name, "0.2", "50"], () => {
      for (const skip of [100, 3, 700, 50, 900]) dev.read(4096, 1, skip);
    });
    assert.equal(r.code, 0, r.stderr);
    const total = r.records.reduce((s, x) => s + (x.count as number), 0);
    const rnd = r.records.reduce((s, x) => s + ((x.random_pct as number) * (x.count as number)) / 100, 0);
    assert.equal(total, 4, r.stdout);
    assert.equal(rnd, 4, r.stdout);
    assert.equal(r.records[0]?.disk, dev.name);
    assert.equal(typeof r.records[0]?.time, "string");
  });
});
