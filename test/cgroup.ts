/** cgroup v2 helpers for the kernel tests that attach programs to a cgroup of their own. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { testTempDir } from "./helpers.js";

/** The cgroup v2 mount, or one made for this test file. */
export function cgroup2Root(): string {
  const line = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" "))
    .find((f) => f[2] === "cgroup2");
  if (line?.[1]) return line[1];
  const dir = testTempDir("tsbpf-cgroup2");
  const r = spawnSync("mount", ["-t", "cgroup2", "none", dir]);
  assert.equal(r.status, 0, `mount cgroup2: ${r.stderr}`);
  process.once("exit", () => spawnSync("umount", [dir]));
  return dir;
}

/** Runs a Node script inside cgroup `cg`; its stdout. */
export function runInCgroup(cg: string, script: string): string {
  const r = spawnSync(
    "/bin/sh",
    ["-c", `echo $$ > ${cg}/cgroup.procs && exec "${process.execPath}" -e "$TSBPF_SCRIPT"`],
    { encoding: "utf8", env: { ...process.env, TSBPF_SCRIPT: script }, timeout: 20_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}
