import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sprintf } from "../../../src/format/printf.js";
import { reclaimRow } from "../../../tools/drsnoop.js";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

// Direct reclaim needs memory pressure on the whole machine (a memory
// cgroup's limit reclaims through another path), which a shared test host
// cannot be put under safely: the kernel test covers start-up and the
// header; the rows are checked through the formatter.
describe("drsnoop", () => {
  const e = {
    id: (1234n << 32n) | 1240n,
    nr_reclaimed: 57n,
    delta_ns: 2_345_678n,
    ts_ns: 5_500_000_000n,
    uid: 1000,
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
});
