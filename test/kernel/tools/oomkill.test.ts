import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { sprintf } from "../../../src/format/printf.js";
import { formatKill } from "../../../tools/oomkill.js";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/**
 * A memory cgroup with a small limit, made under this process's own one:
 * cgroup v2 (memory.max) where the memory controller is there, else v1
 * (memory.limit_in_bytes). Undefined when neither can be made.
 */
function smallMemoryCgroup(): { dir: string; procs: string } | undefined {
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" "));
  const own = readFileSync("/proc/self/cgroup", "utf8").split("\n");
  const name = `tsbpf-oomkill-${process.pid}`;
  const v2 = mounts.find((f) => f[2] === "cgroup2")?.[1];
  if (v2 && readFileSync(join(v2, "cgroup.controllers"), "utf8").includes("memory")) {
    const path = own.find((l) => l.startsWith("0::"))?.slice(3) ?? "/";
    const dir = join(v2, path, name);
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, "memory.max"), "24M");
      writeFileSync(join(dir, "memory.swap.max"), "0");
      return { dir, procs: join(dir, "cgroup.procs") };
    } catch {
      if (existsSync(dir)) rmdirSync(dir);
    }
  }
  const v1 = mounts.find((f) => f[2] === "cgroup" && (f[3] ?? "").split(",").includes("memory"))?.[1];
  if (!v1) return undefined;
  const path = own.find((l) => /^\d+:memory:/.test(l))?.replace(/^\d+:memory:/, "") ?? "/";
  const dir = join(v1, path, name);
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, "memory.limit_in_bytes"), "24M");
    return { dir, procs: join(dir, "cgroup.procs") };
  } catch {
    if (existsSync(dir)) rmdirSync(dir);
    return undefined;
  }
}

/** A shell that moves itself into the cgroup, then a python that allocates until it is killed. */
function hog(procs: string): number {
  const r = spawnSync(
    "/bin/sh",
    [
      "-c",
      `echo $$ > ${procs} && exec /usr/bin/python3 -c 'a = []\nwhile True: a.append(bytearray(1 << 20))'`,
    ],
    { stdio: "ignore" },
  );
  assert.equal(r.signal, "SIGKILL");
  return r.pid as number;
}

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
