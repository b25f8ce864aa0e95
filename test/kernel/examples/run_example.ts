/**
 * Running a tutorial example as a user does (a child `node
 * dist/examples/<chapter>/<program>.js`) while generating the activity it
 * watches, then reading back what it printed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BPF } from "../../../src/index.js";
import { kernelObjects, leftSince, repoRoot, startNode, waitFor } from "../../helpers.js";

export interface ExampleResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Whether `until` became true before the time ran out. */
  matched: boolean;
}

export interface ExampleRunOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Output that shows the example is attached (default: any stdout). */
  ready?: (stdout: string, stderr: string) => boolean;
  /** Called every `everyMs` once ready, until `until` holds or time runs out. */
  activity?: () => unknown;
  everyMs?: number;
  /** Stop (SIGINT) as soon as this holds. Without it, waits for the example to exit. */
  until?: (stdout: string, stderr: string) => boolean;
  /** Overall limit in ms (default 30 s). */
  timeoutMs?: number;
  /** Assert that nothing the example loaded is left in the kernel (default true). */
  assertClean?: boolean;
  /** Run it inside this network namespace (`ip netns exec`). */
  netns?: string;
}

/**
 * Starts the example, waits until it is ready, runs `activity` every
 * `everyMs` until `until` holds (or the time is up), then stops it with
 * SIGINT and waits for it to exit. Also asserts that it left nothing behind.
 */
export async function runExample(id: string, opts: ExampleRunOptions = {}): Promise<ExampleResult> {
  const before = kernelObjects();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const end = Date.now() + timeoutMs;
  const r = startNode(`examples/${id}.js`, opts.args ?? [], opts.env ?? {}, opts.netns);
  const exited = (): boolean => r.child.exitCode !== null || r.child.signalCode !== null;
  const ready = opts.ready ?? ((out: string) => out.length > 0);
  await waitFor(() => ready(r.stdout(), r.stderr()) || exited(), timeoutMs);
  let matched = false;
  while (!exited() && Date.now() < end) {
    if (opts.until?.(r.stdout(), r.stderr())) {
      matched = true;
      break;
    }
    try {
      await opts.activity?.();
    } catch (err) {
      r.child.kill("SIGKILL");
      throw err;
    }
    await new Promise((res) => setTimeout(res, opts.everyMs ?? 200));
  }
  if (!exited()) r.child.kill("SIGINT");
  const { code, signal } = await r.exited;
  if (!matched && opts.until) matched = opts.until(r.stdout(), r.stderr());
  if (opts.assertClean ?? true) {
    // Freeing programs and maps is deferred in the kernel (RCU): allow a moment.
    await waitFor(() => {
      const left = leftSince(before);
      return left.progs.length + left.links.length + left.maps.length === 0;
    }, 3000);
    assert.deepEqual(
      leftSince(before),
      { progs: [], links: [], maps: [] },
      `${id} left objects in the kernel`,
    );
  }
  return { stdout: r.stdout(), stderr: r.stderr(), code, signal, matched };
}

/** Runs the example to completion (for examples that exit by themselves, and errors). */
export function runExampleSync(
  id: string,
  args: string[] = [],
  timeoutMs = 60_000,
): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [join(repoRoot, "dist", "examples", `${id}.js`), ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/**
 * Asserts the example's stderr against this kernel: when it supports
 * `feature` (a BPF.supports name such as "kprobe" or "kfunc"), the original
 * ran and nothing was announced; otherwise exactly one line says what is
 * missing and that `alternative` is used instead.
 */
export function assertMechanism(program: string, stderr: string, feature: string, alternative: RegExp): void {
  if (BPF.supports(feature) === "yes") {
    assert.doesNotMatch(
      stderr,
      /not available on this kernel/,
      `${program} fell back although the kernel has ${feature}`,
    );
    return;
  }
  const notices = stderr.split("\n").filter((l) => /not available on this kernel/.test(l));
  assert.equal(notices.length, 1, `expected one fallback line on stderr, got:\n${stderr}`);
  const line = notices[0] as string;
  assert.ok(line.startsWith(`${program}: `), line);
  assert.match(line, /not available on this kernel \(.+\); using .+ instead$/);
  assert.match(line, alternative);
}

/** Whether the kernel has `feature` (for tests whose expectations differ between kernels). */
export function kernelHas(feature: string): boolean {
  return BPF.supports(feature) === "yes";
}
