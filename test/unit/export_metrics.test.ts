import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bucketBound, histogramValues } from "../../src/export/metrics.js";

describe("histograms from BPF buckets", () => {
  it("bucket bounds: bcc's log2 slots (2^k - 1), ebpf_exporter's exp2, exp2zero, linear, fixed", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 10].map((i) => bucketBound("log2", i, 1)),
      [0, 1, 3, 7, 1023],
    );
    assert.deepEqual(
      [0, 1, 10].map((i) => bucketBound("exp2", i, 1)),
      [1, 2, 1024],
    );
    assert.deepEqual(
      [0, 1, 2, 10].map((i) => bucketBound("exp2zero", i, 1)),
      [0, 1, 2, 512],
    );
    assert.equal(bucketBound("linear", 7, 0.5), 3.5);
    assert.equal(bucketBound("log2", 10, 1e-6), 1023e-6);
  });

  it("cumulative buckets from min to max; below min in the first, above max in +Inf only", () => {
    const counts = new Map([
      [0, 2],
      [2, 3],
      [3, 4],
      [9, 5],
    ]);
    const h = histogramValues(counts, { bucketType: "log2" }, 1, 4);
    assert.deepEqual(h.buckets, [
      [1, 2],
      [3, 5],
      [7, 9],
      [15, 9],
    ]);
    assert.equal(h.count, 14);
    assert.equal(h.sum, 0);
  });

  it("ebpf_exporter's layout keeps the sum at bucket max + 1 (times the multiplier), not a count", () => {
    const counts = new Map([
      [1, 4],
      [3, 1],
      [4, 1000],
    ]);
    const h = histogramValues(counts, { bucketType: "exp2", bucketMultiplier: 0.001 }, 0, 3, true);
    assert.deepEqual(h.buckets, [
      [0.001, 0],
      [0.002, 4],
      [0.004, 4],
      [0.008, 5],
    ]);
    assert.equal(h.count, 5);
    assert.equal(h.sum, 1);
  });

  it("fixed: the keys are the bounds, in order; other keys count in +Inf", () => {
    const counts = new Map([
      [100, 1],
      [500, 2],
      [7, 4],
    ]);
    const h = histogramValues(counts, { bucketType: "fixed", bucketKeys: [100, 200, 500] }, 0, 2);
    assert.deepEqual(h.buckets, [
      [100, 1],
      [200, 1],
      [500, 3],
    ]);
    assert.equal(h.count, 7);
  });
});
