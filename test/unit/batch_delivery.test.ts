/** BatchDelivery: a callback that throws loses no record of its batch. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BatchDelivery } from "../../src/maps/batch_delivery.js";

/** A batch of one-byte records 0..n-1 laid out as the ring buffer reader does ([offset, length] pairs). */
function ringBatch(first: number, n: number): { bytes: Uint8Array; index: Uint32Array } {
  const bytes = new Uint8Array(n);
  const index = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    bytes[i] = first + i;
    index[2 * i] = i;
    index[2 * i + 1] = 1;
  }
  return { bytes, index };
}

describe("BatchDelivery", () => {
  it("keeps the records after a throw and delivers them before the next batch, in order", () => {
    const seen: number[] = [];
    const d = new BatchDelivery((_m, data) => {
      seen.push(data[0] as number);
      if (data[0] === 2 && seen.filter((x) => x === 2).length === 1) throw new Error("boom");
    }, 2);
    const a = ringBatch(0, 5);
    assert.throws(() => d.deliver(a.bytes, a.index, 5), /boom/);
    // the batch's bytes are reused by the reader once the call returns
    a.bytes.fill(99);
    assert.equal(d.waiting, 2);
    const b = ringBatch(5, 2);
    d.deliver(b.bytes, b.index, 2);
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6]);
    assert.equal(d.waiting, 0);
  });

  it("delivers the kept records on the next turn of the event loop when no batch comes", async () => {
    const seen: number[] = [];
    let thrown = false;
    const d = new BatchDelivery((_m, data) => {
      seen.push(data[0] as number);
      if (!thrown) {
        thrown = true;
        throw new Error("first");
      }
    }, 2);
    const a = ringBatch(10, 3);
    assert.throws(() => d.deliver(a.bytes, a.index, 3), /first/);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [10, 11, 12]);
  });

  it("passes the CPU of perf buffer records ([cpu, offset, length] triples)", () => {
    const got: Array<[number, number]> = [];
    const d = new BatchDelivery((cpu, data) => {
      got.push([cpu, data[0] as number]);
      if (got.length === 1) throw new Error("x");
    }, 3);
    const bytes = new Uint8Array([7, 8]);
    const index = new Uint32Array([1, 0, 1, 0, 1, 1]);
    assert.throws(() => d.deliver(bytes, index, 2));
    d.flush();
    assert.deepEqual(got, [
      [1, 7],
      [0, 8],
    ]);
  });
});
