/**
 * A tool whose consumer falls behind: the ring buffer fills, the events it
 * had no room for are counted in BPF (tool.bpf.h's events_lost) and the tool
 * says how many on stderr; every event it kept is printed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

const OPENS = 200_000;

describe("lost events", { skip: skipUnlessRoot }, () => {
  it("opensnoop: a full ring buffer is counted and reported, and what was delivered is printed", async () => {
    // spawnSync blocks this process's event loop (the tool runs in it): nothing is consumed
    // while the child opens /dev/null OPENS times, more than the ring holds (bcc's 64 pages per CPU).
    const r = await traceWhile(
      "opensnoop",
      ["-n", "sh"],
      () =>
        spawnSync("/bin/sh", ["-c", `i=0; while [ $i -lt ${OPENS} ]; do : < /dev/null; i=$((i+1)); done`], {
          stdio: "ignore",
        }).pid as number,
      { settleMs: 2000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const m =
      /opensnoop: lost (\d+) events: the ring buffer was full, the consumer fell behind \((\d+) lost since start\)/.exec(
        r.stderr,
      );
    assert.ok(m, `no report of lost events:\n${r.stderr}`);
    const lost = Number(m[2]);
    const printed = r.lines.filter((l) => new RegExp(`^${r.result} +sh +\\d+ +0 /dev/null$`).test(l)).length;
    assert.ok(printed > 1000, `${printed} of the child's opens printed`);
    assert.ok(printed < OPENS, "the ring cannot have held them all");
    // lost counts every process's events, printed only the child's: together at least its opens
    assert.ok(printed + lost >= OPENS, `${printed} printed + ${lost} lost < ${OPENS} opens`);
  });
});
