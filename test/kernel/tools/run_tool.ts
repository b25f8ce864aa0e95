/** Runs a tool in-process around some activity and returns what it printed. */
import { loadTool } from "../../../tools/index.js";
import { runTool } from "../../../tools/lib/runtime.js";

/** What a tool run printed and returned, and what the activity returned. */
export interface ToolRun<T> {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout's lines, without the empty last one. */
  lines: string[];
  /** With --json: each line parsed. */
  records: Array<Record<string, unknown>>;
  result: T;
}

/**
 * Starts tool `name` with argv, waits until it has attached, runs activity,
 * lets the events arrive (settleMs), then stops it as Ctrl-C would (or lets
 * it end by itself when `untilExit`: an interval/count or --duration run).
 */
export async function traceWhile<T>(
  name: string,
  argv: string[],
  activity: () => T | Promise<T>,
  opts: { settleMs?: number; untilExit?: boolean } = {},
): Promise<ToolRun<T>> {
  const tool = await loadTool(name);
  if (!tool) throw new Error(`no tool ${name}`);
  let stdout = "";
  let stderr = "";
  const ctl = new AbortController();
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    markReady = r;
  });
  const running = runTool(tool, argv, {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
    signal: ctl.signal,
    onReady: () => markReady(),
  });
  // A run that fails before it is ready ends here with its error output.
  const early = await Promise.race([ready.then(() => undefined), running]);
  let result: T | undefined;
  if (early === undefined) {
    try {
      result = await activity();
    } catch (err) {
      // A failed activity (an assertion in it) stops the tool, which would otherwise keep this
      // test process (and the programs it attached) running after the test has failed.
      ctl.abort();
      await running.catch(() => undefined);
      throw err;
    }
    if (!opts.untilExit) {
      await new Promise((r) => setTimeout(r, opts.settleMs ?? 400));
      ctl.abort();
    }
  }
  const code = await running;
  const lines = stdout.split("\n").filter((l, i, all) => i < all.length - 1 || l !== "");
  const records = argv.includes("--json") ? lines.map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  return { code, stdout, stderr, lines, records, result: result as T };
}
