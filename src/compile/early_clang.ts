// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * A first compile's clang, started by the CLI's launcher before the CLI's
 * bundle loads. A first compile waits on clang: Debian's clang 14 spends
 * ~75 ms of CPU in the dynamic loader before it reads its arguments, and a
 * compile's own prestart (prestartClang, at its cache miss) comes after the
 * 20-30 ms the bundle's code cache and modules take. The launcher starts one
 * for a command that compiles (printk-sample, example, compile, trace,
 * argdist) when the command has no code cache of its own yet, that is on
 * its first run in this cache directory, which is when its program is not
 * cached either; the compile's cache miss takes it, with its work directory.
 * One that nothing takes is ended (SIGKILL, its directory removed) by a
 * compile that hits the cache, after EARLY_CLANG_MS, or when the process
 * exits. (A process killed outright closes clang's pipe, and clang, reading
 * no arguments, exits.)
 *
 * The two bundles (the launcher's and the CLI's) each hold a copy of this
 * module: the clang is handed over on globalThis.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { cacheSubdir } from "./cache.js";
import { findClang } from "./clang_path.js";
import { type StartedClang, startClangWithAddon } from "./clang_start.js";

/** How long a clang started early waits to be taken. */
const EARLY_CLANG_MS = 10_000;

interface EarlyClang {
  clangPath: string;
  work: string;
  started: StartedClang;
  timer: NodeJS.Timeout;
}

const KEY = Symbol.for("tsbpf.earlyClang");
const globals = globalThis as { [KEY]?: EarlyClang };

/** Starts clang early (see above); does nothing when it cannot (no clang, an addon without spawnChild). */
export function startEarlyClang(addon: unknown): void {
  if (globals[KEY]) return;
  let work: string | undefined;
  try {
    const clang = findClang();
    work = mkdtempSync(join(cacheSubdir("tmp"), "cc-"));
    const started = startClangWithAddon(addon as Parameters<typeof startClangWithAddon>[0], clang.path, work);
    if (!started) throw new Error("no early start here");
    const timer = setTimeout(dropEarlyClang, EARLY_CLANG_MS);
    timer.unref();
    globals[KEY] = { clangPath: clang.path, work, started, timer };
    process.once("exit", dropEarlyClang);
  } catch {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}

/** The clang started early, with its work directory, for a compile with this clang (undefined when there is none). */
export function takeEarlyClang(clangPath: string): { work: string; started: StartedClang } | undefined {
  const early = globals[KEY];
  if (!early) return undefined;
  globals[KEY] = undefined;
  clearTimeout(early.timer);
  // (the exit listener, the launcher's copy of dropEarlyClang, then finds nothing to end)
  if (early.clangPath === clangPath) return { work: early.work, started: early.started };
  end(early);
  return undefined;
}

/** Ends the clang started early, if nothing took it. */
export function dropEarlyClang(): void {
  const early = globals[KEY];
  if (!early) return;
  globals[KEY] = undefined;
  clearTimeout(early.timer);
  end(early);
}

function end(early: EarlyClang): void {
  try {
    early.started.cancel();
  } finally {
    rmSync(early.work, { recursive: true, force: true });
  }
}
