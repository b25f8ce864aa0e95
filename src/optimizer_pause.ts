/**
 * V8's optimizing compiler (TurboFan), paused while a program compiles and
 * for the start-up that follows it.
 *
 * A compile is a one-off burst of JavaScript (the translator's tokenizer, the
 * header scans) that runs long enough for V8 to optimize its loops, and
 * never runs again in a tracer that then reports for hours. The optimized
 * code is dead at once, but what making it took stays in the process: the
 * compiler's zones in a background thread's malloc arena (4.4 MB) and more.
 * Paused, printk_sample's first start peaks at 57.6 MB instead of 61.8 and
 * takes as long (183 against 181 ms; medians of 9 in one run, Node 20): the
 * optimized loops win back no more than the background compiles cost.
 *
 * The pause outlasts the compile by `lingerMs`: the loading and attaching
 * that follow it run functions the compile made hot (node's own argument
 * checks, `hideStackFrames`'s wrapper, among them), and V8 counts what ran
 * while paused, so it would optimize them at their next call for a start-up
 * that does not come back. The first optimization of a process alone maps
 * TurboFan's code (~3 MB of node's text) and its zones.
 *
 * `--no-turbofan` is read each time V8 decides to optimize a function (V8
 * 11, Node 20), so it can be set for a while and unset; code optimized
 * before stays. Pauses nest (concurrent compiles); the flag comes back when
 * the last ends. A process started with its own optimizer flags is left as
 * it is. The flags are part of the hash that V8 checks a code cache
 * against, so the code cache's writer (bundle_runner.ts's codeCacheOf, at
 * exit) first calls restoreOptimizer().
 */
import { createRequire } from "node:module";

/**
 * How many pauses are held, and whether restoreOptimizer() has ended them
 * all, kept on globalThis: the flag is the process's, and the launcher's
 * bundle (which writes the code cache) has a copy of this module apart from
 * the CLI's or the library's.
 */
interface PauseState {
  depth: number;
  restored: boolean;
}
const STATE = Symbol.for("tsbpf.optimizerPause");
const globals = globalThis as { [STATE]?: PauseState };
globals[STATE] ??= { depth: 0, restored: false };
const state = globals[STATE];
let v8: typeof import("node:v8") | undefined;

/** node:v8, loaded when first needed (~2 ms of a start that never pauses). */
function setFlag(flag: string): void {
  v8 ??= createRequire(import.meta.url)("node:v8") as typeof import("node:v8");
  v8.setFlagsFromString(flag);
}

/** Whether node was started with flags of its own about the optimizer (left alone then). */
function optimizerFlagsGiven(): boolean {
  return process.execArgv.some((a) => /^--(no-)?(opt|turbofan|jitless|max-opt)\b/.test(a));
}

function endPause(): void {
  if (--state.depth === 0 && !state.restored) setFlag("--turbofan");
}

/**
 * Pauses the optimizer until the returned object is disposed (`using`) and
 * `lingerMs` more (an unref'd timer: it never keeps the process alive).
 */
export function pauseOptimizer(opts: { lingerMs?: number } = {}): Disposable {
  if (optimizerFlagsGiven() || state.restored) return { [Symbol.dispose]() {} };
  if (state.depth++ === 0) setFlag("--no-turbofan");
  let ended = false;
  return {
    [Symbol.dispose]() {
      if (ended) return;
      ended = true;
      if (opts.lingerMs) setTimeout(endPause, opts.lingerMs).unref();
      else endPause();
    },
  };
}

/**
 * The optimizer's flag as the process started, whatever pause is held: for
 * writing V8's code cache as the process ends (its flag hash must be the
 * next start's). Pauses still held then end with no effect, and later ones
 * pause nothing: the process is ending.
 */
export function restoreOptimizer(): void {
  if (state.depth === 0 || state.restored || optimizerFlagsGiven()) return;
  state.restored = true;
  setFlag("--turbofan");
}
