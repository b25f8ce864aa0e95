import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { type LoopDev, loopDevice } from "./loopdev.js";
import { traceWhile } from "./run_tool.js";

/** The rows of the section headed `Process Name = comm`: [low, count]. */
function section(stdout: string, comm: string): Array<[number, number]> {
  const at = stdout.indexOf(`\nProcess Name = ${comm}\n`);
  if (at < 0) return [];
  const body = stdout.slice(at + 1).split("\n\n")[0] as string;
  return [...body.matchAll(/^ +(\d+) -> \d+ +: (\d+) +\|/gm)].map((m) => [Number(m[1]), Number(m[2])]);
}

describe("bitesize", { skip: skipUnlessRoot }, () => {
  let dev: LoopDev;
  before(() => {
    dev = loopDevice();
  });
  after(() => dev.close());

  it("puts dd's direct I/O in its size buckets, bcc's layout", async () => {
    const r = await traceWhile("bitesize", [], () => {
      dev.write(4096, 10);
      dev.write(65536, 5);
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing block I/O... Hit Ctrl-C to end.");
    assert.match(r.stdout, /\nProcess Name = dd\n {5}Kbytes {14}: count {5}distribution\n/);
    const rows = new Map(section(r.stdout, "dd"));
    // 4 KiB: slot "4 -> 7"; 64 KiB: slot "64 -> 127" (other dd runs on the machine may add to them)
    assert.ok((rows.get(4) ?? 0) >= 10, r.stdout);
    assert.ok((rows.get(64) ?? 0) >= 5, r.stdout);
  });

  it("--json: a histogram record per process name", async () => {
    const r = await traceWhile("bitesize", ["--json"], () => dev.read(16384, 6));
    assert.equal(r.code, 0, r.stderr);
    const dd = r.records.find((x) => x.comm === "dd") as {
      val_type: string;
      data: Array<Record<string, number>>;
    };
    assert.ok(dd, r.stdout);
    assert.equal(dd.val_type, "Kbytes");
    const b16 = dd.data.find((d) => d["interval-start"] === 16);
    assert.ok((b16?.count ?? 0) >= 6, JSON.stringify(dd));
  });
});
