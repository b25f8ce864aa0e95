import assert from "node:assert/strict";
import { rmdirSync } from "node:fs";
import { describe, it } from "node:test";
import { sprintf } from "../../../src/format/printf.js";
import { formatKill } from "../../../tools/oomkill.js";
import { skipUnlessRoot } from "../../helpers.js";
import { hog, smallMemoryCgroup } from "./activity.js";
import { traceWhile } from "./run_tool.js";

describe("oomkill", () => {
  it("formats bcc's line", () => {
    const e = {
      fpid: 10,
      tpid: 11,
      pages: 1234n,
      anon_rss: 0n,
      file_rss: 0n,
      shmem_rss: 0n,
      uid: 0,
      oom_score_adj: 0,
      fcomm: "a",
      tcomm: "b",
    };
    assert.equal(
      sprintf(...formatKill(e, "12:00:00", "0.1 0.2 0.3 1/2 3")),
      '12:00:00 Triggered by PID 10 ("a"), OOM kill of PID 11 ("b"), 1234 pages, loadavg: 0.1 0.2 0.3 1/2 3',
    );
  });

  const cg = skipUnlessRoot ? undefined : smallMemoryCgroup();
  const skip = skipUnlessRoot || (cg ? false : "no memory cgroup can be made here");
  it("reports the kill of a process that outgrows its memory cgroup", { skip }, async () => {
    try {
      const text = await traceWhile("oomkill", [], () => hog((cg as { procs: string }).procs));
      assert.equal(text.code, 0, text.stderr);
      assert.equal(text.lines[0], "Tracing OOM kills... Ctrl-C to stop.");
      const pid = text.result;
      assert.match(
        text.stdout,
        new RegExp(
          `\\d\\d:\\d\\d:\\d\\d Triggered by PID ${pid} \\("python3"\\), OOM kill of PID ${pid} \\("python3"\\), \\d+ pages, loadavg: \\d`,
        ),
      );
      assert.match(text.stderr, /oom:mark_victim/);
      const json = await traceWhile("oomkill", ["--json"], () => hog((cg as { procs: string }).procs));
      const rec = json.records.find((r) => r.tpid === json.result);
      assert.ok(rec, json.stdout);
      assert.equal(rec.fpid, json.result);
      assert.equal(rec.tcomm, "python3");
      assert.equal(rec.fcomm, "python3");
      assert.equal(typeof rec.pages, "number");
      assert.ok((rec.anon_rss as number) > 1000, JSON.stringify(rec));
      assert.match(rec.time as string, /^\d{4}-\d\d-\d\dT/);
    } finally {
      rmdirSync((cg as { dir: string }).dir);
    }
  });
});
