/**
 * Chapter 5, the traced program: target_sample.c (next to this file) fires
 * the USDT probe test-probe of provider target-sample once a second, with a
 * counter and a string. This example builds it with cc (needs <sys/sdt.h>,
 * from systemtap-sdt-dev) into tsbpf's cache directory, again when the .c
 * is newer than the build, and runs it, printing what it prints (its pid
 * first), until stopped. Then, in another terminal:
 * tsbpf example usdt/probe_sample PID.
 *
 *   tsbpf example usdt/target_sample [--duration SECONDS]
 */

import { buildTarget, runTarget } from "../lib/c_target.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const example = defineExample({ name: "usdt/target_sample" }, async (ctx) => {
  const exe = buildTarget(
    import.meta.url,
    "usdt",
    "target_sample",
    "<sys/sdt.h> comes with systemtap-sdt-dev (Debian, Ubuntu) or systemtap-sdt-devel (Fedora)",
  );
  await runTarget(ctx, exe);
});

runIfMain(import.meta.url, example);
