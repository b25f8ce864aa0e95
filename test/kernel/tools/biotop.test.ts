import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { type LoopDev, loopDevice } from "./loopdev.js";
import { traceWhile } from "./run_tool.js";

describe("biotop", { skip: skipUnlessRoot }, () => {
  let dev: LoopDev;
  before(() => {
    dev = loopDevice();
  });
  after(() => dev.close());

  it("-C: sums dd's direct writes per process and disk, bcc's header and row", async () => {
    const r = await traceWhile("biotop", ["-C", "30"], () => dev.write(4096, 32));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing... Output every 30 secs. Hit Ctrl-C to end");
    assert.equal(r.lines[1], "");
    assert.match(r.lines[2] as string, /^\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+\/\d+ \d+$/);
    assert.equal(r.lines[4], "PID     COMM             D MAJ MIN DISK       I/O  Kbytes  AVGms");
    const [maj, min] = dev.majorMinor();
    const row = r.lines.find((l) => l.startsWith(`${String(r.result).padEnd(7)} dd `));
    assert.ok(row, r.stdout);
    assert.match(
      row,
      new RegExp(
        `^${r.result} +dd +W ${String(maj).padEnd(3)} ${String(min).padEnd(3)} ${dev.name} +32 +128\\.0 +\\d+\\.\\d\\d$`,
      ),
    );
    assert.equal(r.lines.at(-1), "Detaching...");
  });

  it("--json -p: only the process asked for; interval and count", async () => {
    const r = await traceWhile(
      "biotop",
      ["--json", "-p", String(process.pid), "0.3", "3"],
      () => {
        dev.read(8192, 4);
        return 0;
      },
      { untilExit: true },
    );
    assert.equal(r.code, 0, r.stderr);
    // dd is another process: nothing counted for this one
    assert.equal(r.records.length, 0, r.stdout);
    const all = await traceWhile("biotop", ["--json", "5"], () => dev.read(8192, 4));
    const rec = all.records.find((x) => x.pid === all.result);
    assert.deepEqual(
      { comm: rec?.comm, type: rec?.type, disk: rec?.disk, io: rec?.io, kbytes: rec?.kbytes },
      { comm: "dd", type: "R", disk: dev.name, io: 4, kbytes: 32 },
    );
    assert.equal(typeof rec?.avg_ms, "number");
  });
});
