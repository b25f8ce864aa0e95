import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { hasTracepoint } from "../../../tools/lib/runtime.js";
import { skipUnlessRoot } from "../../helpers.js";
import { rawSocket } from "./activity.js";
import { traceWhile } from "./run_tool.js";

const skip =
  skipUnlessRoot || (hasTracepoint("capability:cap_capable") ? false : "no cap_capable tracepoint");

describe("capable", { skip }, () => {
  it("prints bcc's columns for a CAP_NET_RAW check of a child", async () => {
    const r = await traceWhile("capable", [], rawSocket);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0] as string, /^TIME {6}UID {4}PID {4}COMM {13}CAP {2}NAME {17}AUDIT $/);
    const row = r.lines.find((l) =>
      new RegExp(`^\\S+ +0 +${r.result} +python3 +13 +CAP_NET_RAW +N/A`).test(l),
    );
    assert.ok(row, r.stdout);
    assert.match(row, /^\d\d:\d\d:\d\d {2}0 {6}\d+ +python3 {10}13 {3}CAP_NET_RAW {10}N\/A {3}$/);
  });

  it("-x -p PID --unique: TID column, only that process, each check once; -K kernel stacks", async () => {
    const child = spawnSync("true"); // warm up the spawn path
    assert.equal(child.status, 0);
    const r = await traceWhile("capable", ["-x", "--unique", "-K"], () => {
      rawSocket();
      return rawSocket();
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0] as string, /^TIME +UID +PID +TID +COMM +CAP +NAME +AUDIT +INSETID$/);
    const rows = r.lines.filter((l) => new RegExp(` ${r.result} +${r.result} +python3 +13 `).test(l));
    assert.equal(rows.length, 1, r.stdout);
    assert.match(r.stdout, /\n {8}cap_capable\+0x[0-9a-f]+ \[kernel\]\n|\n {8}\S*capable\S*\n/);
  });

  it("--json: one object per check, filtered by -p", async () => {
    let pid = 0;
    const r = await traceWhile("capable", ["--json", "-U"], () => {
      pid = rawSocket();
      return pid;
    });
    assert.equal(r.code, 0, r.stderr);
    const mine = r.records.filter((x) => x.pid === pid);
    assert.ok(mine.length > 0, r.stdout);
    const raw = mine.find((x) => x.cap === 13);
    assert.deepEqual(
      { comm: raw?.comm, name: raw?.name, uid: raw?.uid, ret: raw?.ret, audit: raw?.audit, tid: raw?.tid },
      { comm: "python3", name: "CAP_NET_RAW", uid: 0, ret: 0, audit: null, tid: pid },
    );
    assert.ok(Array.isArray(raw?.user_stack));
    const other = await traceWhile("capable", ["--json", "-p", "1"], rawSocket);
    assert.equal(
      other.records.some((x) => x.pid === other.result),
      false,
    );
  });
});
