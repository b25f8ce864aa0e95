/** `tsbpf exporter` as the exporter tests run it: started from the CLI bundle on a free port, stopped by a signal. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { repoRoot, waitFor } from "../helpers.js";

export const CLI = `${repoRoot}dist/bundle/tsbpf.cjs`;

export interface RunningExporter {
  child: ChildProcess;
  /** http://127.0.0.1:PORT/metrics */
  url: string;
  stderr: () => string;
}

/**
 * Starts `tsbpf exporter --config.dir dir --config.names names` on a free
 * port of 127.0.0.1 and waits for `ready` on its stderr (by default the line
 * saying where it serves); a start that fails kills it and fails the test.
 */
export async function startExporter(
  dir: string,
  names: string,
  opts: { extra?: string[]; env?: NodeJS.ProcessEnv; ready?: RegExp } = {},
): Promise<RunningExporter> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      "exporter",
      "--config.dir",
      dir,
      "--config.names",
      names,
      "--web.listen-address",
      "127.0.0.1:0",
      ...(opts.extra ?? []),
    ],
    { stdio: ["ignore", "ignore", "pipe"], env: opts.env },
  );
  let err = "";
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  const ready = opts.ready ?? /serving .* at http:\S+/;
  const ok = await waitFor(() => ready.test(err) || child.exitCode !== null, 60_000);
  const m = /serving .* at (http:\S+)/.exec(err);
  if (!ok || !m || child.exitCode !== null) {
    child.kill("SIGKILL");
    assert.fail(`the exporter did not start: ${err}`);
  }
  return { child, url: m[1] as string, stderr: () => err };
}

/** Ends the exporter with `signal`; resolves with its exit status (at once when it has already ended). */
export async function stopExporter(
  r: RunningExporter,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<number | null> {
  if (r.child.exitCode !== null) return r.child.exitCode;
  const exited = once(r.child, "exit");
  r.child.kill(signal);
  const [code] = (await exited) as [number | null];
  return code;
}
