/**
 * A fixed-seed slice of the fuzz properties (test/fuzz/properties.ts): every
 * target, a few dozen inputs each, the same inputs every time. `npm run fuzz`
 * runs them for longer with fresh seeds.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { cleanup, targets } from "../fuzz/properties.js";

const SEED = 20261203;

describe("fuzz slice (fixed seed)", () => {
  after(cleanup);
  for (const t of targets) {
    it(`${t.name}: ${t.covers}`, () => {
      const details = fc.check(t.property(), { seed: SEED, numRuns: t.sliceRuns ?? 60 });
      if (details.failed) {
        const err = details.errorInstance as Error | undefined;
        assert.fail(
          `${t.name} failed (seed ${details.seed}, path ${details.counterexamplePath}):\n` +
            `${err?.message ?? String(details.errorInstance)}\ncounterexample: ${fc.stringify(details.counterexample)}`,
        );
      }
    });
  }
});
