/**
 * The tsbpf command's entry (dist/bundle/tsbpf.cjs): runs the CLI bundle
 * (dist/bundle/cli.cjs) through V8's code cache (src/bundle_runner.ts), one
 * cache per command (`execsnoop`, `printk-sample`, `example first_step/…`),
 * written at exit by the command's first run. A command's first run uses
 * one of the caches the build wrote beside the bundle
 * (scripts/code-cache.mjs): a tool that opens its prebuilt object
 * (dist/tools/NAME.bpf.o) the one of a tool's start; any other command the
 * one of a first compile (the compile pipeline, then a program's load and
 * attach), which its first run is likely to run, and the run after a first
 * that compiled the one of a start whose object is cached. (A command's own
 * cache holds all that its first run started with, run or not: the compile
 * pipeline in every tool's own cache cost its warm starts ~0.5 MB; left out
 * of a first compile's, it was compiled from the bundle's text, and its
 * pages of that text resident.)
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { compileCached, type RunOfUse, runBundle } from "../bundle_runner.js";
import { startEarlyClang } from "../compile/early_clang.js";

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

/**
 * Which of the build's caches serves a command that has no cache of its own
 * yet: "cli" for a tool with a prebuilt object; for any other command
 * "cli-compile" on its first run, "cli-run" on the run after a first that
 * compiled (bundle_runner.ts's compileCached).
 */
export function builtCacheFor(
  dir: string,
  command: string | undefined,
  run: RunOfUse = "first",
): "cli" | "cli-compile" | "cli-run" {
  // (a command's name is [a-z0-9_-]: commandOf)
  if (command !== undefined && existsSync(join(dir, "..", "tools", `${command}.bpf.o`))) return "cli";
  return run === "first" ? "cli-compile" : "cli-run";
}

/** The commands that compile a program as they start (a tutorial program, the compile command, the tools that build theirs). */
const COMPILES = /^(printk-sample|example-.+|compile|trace|argdist)$/;

export function launch(dir: string): void {
  const file = join(dir, "cli.cjs");
  const command = commandOf(process.argv.slice(2));
  const { script, saveCache } = compileCached(
    file,
    __TSBPF_CLI_HASH__,
    command,
    (run) => builtCacheFor(dir, command, run),
    // a first run of a command that compiles: its clang starts now (early_clang.ts)
    command !== undefined && COMPILES.test(command) ? startEarlyClang : undefined,
  );
  // (the CLI's commands end through process.exit or the event loop's end, on a signal too)
  if (saveCache) process.once("exit", saveCache);
  runBundle(file, script);
}
