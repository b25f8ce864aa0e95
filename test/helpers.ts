/** Shared helpers for the kernel tests. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { native } from "../src/native.js";

/** Kernel tests need root; they skip with this reason otherwise. */
export const skipUnlessRoot: string | false =
  process.getuid?.() === 0 ? false : "kernel tests load BPF programs and need root (run them with sudo)";

/** The repository's root (tests run from dist/test). */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Runs /bin/true (or argv) to completion and returns its pid. */
export function runChild(argv: string[] = ["/bin/true"]): number {
  const r = spawnSync(argv[0] as string, argv.slice(1), { stdio: "ignore" });
  if (r.error) throw r.error;
  if (r.pid === undefined) throw new Error(`could not spawn ${argv.join(" ")}`);
  return r.pid;
}

/** IDs of every BPF program and link in the kernel now. */
export function kernelObjects(): { progs: Set<number>; links: Set<number>; maps: Set<number> } {
  const n = native();
  return { progs: new Set(n.progIds()), links: new Set(n.linkIds()), maps: new Set(n.mapIds()) };
}

/** What appeared in the kernel since `before` (ids present now and not then). */
export function leftSince(before: ReturnType<typeof kernelObjects>): {
  progs: number[];
  links: number[];
  maps: number[];
} {
  const now = kernelObjects();
  return {
    progs: [...now.progs].filter((id) => !before.progs.has(id)),
    links: [...now.links].filter((id) => !before.links.has(id)),
    maps: [...now.maps].filter((id) => !before.maps.has(id)),
  };
}

/**
 * Asserts that every program, link and map made since `before` is gone. A
 * program's maps are released after an RCU grace period, in a workqueue
 * (bpf_prog_free_deferred, kernel/bpf/core.c), so this waits up to 3 s.
 */
export async function assertNothingLeft(before: ReturnType<typeof kernelObjects>): Promise<void> {
  const empty = (): boolean => {
    const left = leftSince(before);
    return left.progs.length + left.links.length + left.maps.length === 0;
  };
  // the kernel frees programs and maps after their last reference goes, not at once
  await waitFor(empty, 10_000);
  assert.deepEqual(leftSince(before), { progs: [], links: [], maps: [] });
}

/** Polls until check() is true or the time is up. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}

/** A child process whose stdout/stderr are collected as they arrive. */
export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node dist/<script> args` with collected output (in network namespace `netns` when given). */
export function startNode(
  script: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  netns?: string,
  cwd?: string,
): Running {
  const argv = [process.execPath, join(repoRoot, "dist", script), ...args];
  // (`ip netns exec` execs the command: the child's pid is node's.)
  if (netns !== undefined) argv.unshift("ip", "netns", "exec", netns);
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(cwd === undefined ? {} : { cwd }),
  });
  return collected(child);
}

/** A spawned child (stdout and stderr piped) whose output is collected as it arrives. */
export function collected(child: ChildProcess): Running {
  let out = "";
  let err = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** A new directory under the system's temporary directory, removed when this test file's process exits. */
export function testTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh cache directory (so a test can measure or exercise a cold start). */
export function freshCacheDir(): string {
  return testTempDir("tsbpf-cache");
}

/**
 * Runs `sh -c "read x; exec CMD"`: the child's pid is known (and handed to
 * setTarget, e.g. to put it in a map the program filters on) before it
 * calls execve; resolves when it has exited. Returns the pid.
 */
export async function execTargeted(setTarget: (pid: number) => void, cmd = "/bin/true"): Promise<number> {
  const child = spawn("/bin/sh", ["-c", `read x; exec ${cmd}`], { stdio: ["pipe", "ignore", "ignore"] });
  const exited = new Promise((r) => child.on("exit", r));
  setTarget(child.pid as number);
  child.stdin?.end("go\n");
  await exited;
  return child.pid as number;
}

/**
 * The skip option of a test that behaves the same on every kernel, among the
 * tests the kernel matrix picks (scripts/matrix-tests.mjs): it runs on the
 * host only, since a test there takes 10-20 times as long under emulation.
 */
export const sameOnEveryKernel: string | false =
  process.env.TSBPF_MATRIX === "1" ? "behaves the same on every kernel: runs on the host only" : false;
