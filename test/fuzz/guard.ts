/**
 * The checks every fuzz property shares: only tsbpf's typed errors may
 * escape a parser, and no single input may take longer than a second.
 */
import { BpfError } from "../../src/kernel/errors.js";

/** The longest one input may take, in ms (a slower input is a bug: a hang, or work out of proportion). */
export const SLOW_MS = 1000;

/**
 * Where the runner's worker records the input being tried, so that an input
 * that never returns (a synchronous hang, which no timeout can interrupt) can
 * still be reported by the thread that gives up on it.
 */
let inputHook: ((input: unknown) => void) | undefined;

/** Sets (or clears) the hook that sees each input before it runs. */
export function setInputHook(hook: ((input: unknown) => void) | undefined): void {
  inputHook = hook;
}

/** A failed property: what escaped (or how long it took) for one input. */
export class PropertyFailure extends Error {}

/**
 * Runs fn on one input: returns normally, or throws a PropertyFailure when
 * an error other than a BpfError (or one `allowed` accepts) escapes, or when
 * it takes longer than {@link SLOW_MS}. Returns fn's result, or undefined
 * when fn threw a typed error (given to `onTyped`).
 */
export function guarded<T>(
  input: unknown,
  fn: () => T,
  opts: { allowed?: (err: unknown) => boolean; onTyped?: (err: unknown) => void } = {},
): T | undefined {
  inputHook?.(input);
  const t0 = performance.now();
  let result: T | undefined;
  try {
    result = fn();
  } catch (err) {
    if (err instanceof PropertyFailure) throw err;
    if (err instanceof BpfError || opts.allowed?.(err)) {
      opts.onTyped?.(err);
      checkTime(t0);
      return undefined;
    }
    const e = err as Error;
    throw new PropertyFailure(`untyped error escaped: ${e?.name}: ${e?.message}\n${e?.stack ?? ""}`, {
      cause: err,
    });
  }
  checkTime(t0);
  return result;
}

function checkTime(t0: number): void {
  const ms = performance.now() - t0;
  if (ms > SLOW_MS) throw new PropertyFailure(`one input took ${ms.toFixed(0)} ms (limit ${SLOW_MS} ms)`);
}

/** Throws a PropertyFailure with `message` unless `ok`. */
export function expect(ok: boolean, message: () => string): void {
  if (!ok) throw new PropertyFailure(message());
}

/** An error that a documented, deliberate throw made: its class and a message starting with `prefix`. */
export function documented(prefix: string, ...classes: Array<new (...a: never[]) => Error>) {
  return (err: unknown): boolean =>
    err instanceof Error && classes.some((c) => err.constructor === c) && err.message.startsWith(prefix);
}
