/**
 * The tsbpf command's entry (dist/bundle/tsbpf.cjs): runs the CLI bundle
 * (dist/bundle/cli.cjs) through V8's code cache (src/bundle_runner.ts), one
 * cache per command (`execsnoop`, `printk-sample`, `example first_step/…`),
 * written at exit by the command's first run; a command's first run uses the
 * cache the build wrote beside the bundle (scripts/code-cache.mjs), which
 * holds the CLI's start and the compile pipeline.
 */
import { join } from "node:path";
import { compileCached, runBundle } from "../bundle_runner.js";

/** Set by scripts/bundle.mjs: a hash of dist/bundle/cli.cjs's bytes. */
declare const __TSBPF_CLI_HASH__: string;

/** The command a cache serves: the first argument (and the example's name), if it looks like one. */
function commandOf(argv: string[]): string | undefined {
  const [cmd, arg] = argv;
  if (cmd === undefined || !/^[a-z][a-z0-9_-]{0,40}$/.test(cmd)) return undefined;
  if (cmd === "example")
    return arg && /^[a-z0-9_]+\/[a-z0-9_]+$/.test(arg) ? `${cmd}-${arg.replace("/", "-")}` : undefined;
  return cmd;
}

export function launch(dir: string): void {
  const file = join(dir, "cli.cjs");
  const { script, saveCache } = compileCached(file, __TSBPF_CLI_HASH__, commandOf(process.argv.slice(2)));
  // (the CLI's commands end through process.exit or the event loop's end, on a signal too)
  if (saveCache) process.once("exit", saveCache);
  runBundle(file, script);
}
