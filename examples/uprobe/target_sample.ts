/**
 * Chapter 4, the traced program: target_sample.c (next to this file) calls
 * `int func(int)` once a second with a counter. This example builds it with
 * cc into tsbpf's cache directory (again when the .c is newer than the
 * build) and runs it, printing what it prints, until stopped. Run
 * uprobe/uprobe_simple in another terminal to watch func's argument and
 * return value.
 *
 *   tsbpf example uprobe/target_sample [--duration SECONDS]

 */
import { buildTarget, runTarget } from "../lib/c_target.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const example = defineExample({ name: "uprobe/target_sample" }, async (ctx) => {
  const exe = buildTarget(import.meta.url, "uprobe", "target_sample");
  await runTarget(ctx, exe);
});

runIfMain(import.meta.url, example);
