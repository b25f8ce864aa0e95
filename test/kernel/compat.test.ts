/**
 * Programs nobody here wrote: every bcc tool Debian ships (bpfcc-tools),
 * started with default arguments under a stand-in bcc.BPF that records its C
 * text and calls, then replayed through tsbpf (test/compat/). Every program
 * must compile and verify unchanged unless this kernel cannot support it,
 * and then its error must name what this kernel lacks. The counts are floors
 * that only go up (README, "Compatibility").
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { runCompat, summarize } from "../compat/bcc_tools.js";
import { skipUnlessRoot } from "../helpers.js";

/** Measured on Debian 12's bpfcc-tools 0.26 and the 6.18 kernel these tests run on (2026-12-02). */
const FLOOR = { programs: 76, compiled: 75, verified: 75, attached: 23 };

const missing = existsSync("/usr/sbin/execsnoop-bpfcc")
  ? false
  : "Debian's bpfcc-tools is not installed (scripts/bootstrap.sh --test installs it)";

describe("Debian's bcc tools through tsbpf", { skip: skipUnlessRoot || missing }, () => {
  it("compile and verify unchanged; what fails names what this kernel lacks", {
    timeout: 600_000,
  }, async () => {
    const results = await runCompat();
    const s = summarize(results);
    const failures = results.flatMap((r) =>
      r.programs
        .filter((p) => p.failedAt !== "ok" && !p.kernelLacks)
        .map((p) => `${r.record.tool}#${p.index} (${p.failedAt}): ${p.error}`),
    );
    assert.deepEqual(failures, [], "every failure names a difference of this kernel");
    assert.ok(s.programs >= FLOOR.programs, `programs: ${s.programs} < ${FLOOR.programs}`);
    assert.ok(s.compiled >= FLOOR.compiled, `compiled: ${s.compiled} < ${FLOOR.compiled}`);
    assert.ok(s.verified >= FLOOR.verified, `verified: ${s.verified} < ${FLOOR.verified}`);
    assert.ok(s.attached >= FLOOR.attached, `attached: ${s.attached} < ${FLOOR.attached}`);
    // The known ones this kernel cannot run, each with its reason.
    const byTool = new Map(results.map((r) => [r.record.tool, r.programs]));
    assert.match(
      byTool.get("nfsslower")?.[0]?.error ?? "",
      /this kernel's BTF has no struct nfs_commit_data/,
    );
    assert.match(
      byTool.get("compactsnoop")?.[0]?.error ?? "",
      /reads ctx->args\[\d\], but mm_compaction_begin passes/,
    );
    assert.match(byTool.get("readahead")?.[0]?.error ?? "", /this kernel has no function do_page_cache_ra/);
  });
});
