/**
 * V8's optimizing compiler (TurboFan), paused while a program compiles.
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
 * `--no-turbofan` is read each time V8 decides to optimize a function (V8
 * 11, Node 20), so it can be set for a while and unset; code optimized
 * before stays. Pauses nest (concurrent compiles); the flag comes back when
 * the last ends. A process started with its own optimizer flags is left as
 * it is. The flags are part of the hash that V8 checks a code cache
 * against, which is why the pause ends before the process writes its cache
 * (bundle_runner.ts writes it at exit; a compile interrupted by a signal
 * may leave it paused, and the next start then recompiles without the
 * cache, once).
 */
import { setFlagsFromString } from "node:v8";

let depth = 0;

/** Whether node was started with flags of its own about the optimizer (left alone then). */
function optimizerFlagsGiven(): boolean {
  return process.execArgv.some((a) => /^--(no-)?(opt|turbofan|jitless|max-opt)\b/.test(a));
}

/** Pauses the optimizer until the returned object is disposed (`using`). */
export function pauseOptimizer(): Disposable {
  if (optimizerFlagsGiven()) return { [Symbol.dispose]() {} };
  if (depth++ === 0) setFlagsFromString("--no-turbofan");
  let ended = false;
  return {
    [Symbol.dispose]() {
      if (ended) return;
      ended = true;
      if (--depth === 0) setFlagsFromString("--turbofan");
    },
  };
}
