/**
 * Two of V8's habits, paused while a program compiles and for the start-up
 * that follows it: optimizing hot functions (TurboFan), and growing the
 * young generation.
 *
 * A compile is a one-off burst of JavaScript (the translator's tokenizer, the
 * header scans) that never runs again in a tracer that then reports for
 * hours. What V8 does to run such a burst faster stays in the process after
 * it:
 *  - **the optimizer**: the burst runs long enough for V8 to optimize its
 *    loops. The optimized code is dead at once, but the compiler's zones stay
 *    in a background thread's malloc arena (4.4 MB), and the first
 *    optimization of a process maps TurboFan's code (~3 MB of node's text).
 *    Paused, printk_sample's first start peaked at 57.6 MB instead of 61.8,
 *    as fast (183 against 181 ms; medians of 9 in one run, Node 20).
 *  - **the young generation's growth**: V8 doubles the young generation
 *    (two semi-spaces of 1 MB) once more than its size has survived
 *    scavenges since it last grew. A start-up's own modules bring that count
 *    near 1 MB, and a compile's long-lived tables take it over, so the young
 *    generation became 2 × 2 MB, resident for the process's life. Held at its
 *    size (`--semi-space-growth-factor=1`), what survives is promoted to the
 *    old generation as it would be later anyway: printk_sample's first start
 *    50.9 -> 48.6 MB, as fast (164 against 166 ms; medians of 11 in one run).
 *
 * The pause outlasts the compile by `lingerMs`: the loading and attaching
 * that follow it run functions the compile made hot (node's own argument
 * checks, `hideStackFrames`'s wrapper, among them), and V8 counts what ran
 * while paused, so it would optimize them at their next call for a start-up
 * that does not come back.
 *
 * Both flags are read each time V8 decides (to optimize a function, to grow
 * the young generation; V8 11, Node 20), so they can be set for a while and
 * unset; code optimized and space grown before stay. Pauses nest
 * (concurrent compiles); the flags come back when the last ends. A flag that
 * the process was started with (on node's command line or in NODE_OPTIONS)
 * is left as it is. The flags are part of the hash that V8 checks a code
 * cache against, so the code cache's writer (bundle_runner.ts's codeCacheOf,
 * at exit) first calls restoreV8Flags().
 */
import { builtinModule } from "./builtin.js";
import { loadedAddons } from "./native_load.js";

/**
 * How many pauses are held, and whether restoreV8Flags() has ended them all,
 * kept on globalThis: the flags are the process's, and the launcher's bundle
 * (which writes the code cache) has a copy of this module apart from the
 * CLI's or the library's.
 */
interface PauseState {
  depth: number;
  restored: boolean;
  /** Ends the pauseWhileQuiet held, if one is. */
  endQuiet?: () => void;
}
const STATE = Symbol.for("tsbpf.compilePause");
const globals = globalThis as { [STATE]?: PauseState };
globals[STATE] ??= { depth: 0, restored: false };
const state = globals[STATE];
let v8: typeof import("node:v8") | undefined;

/** A V8 flag the pause sets, and what it sets back (V8's default). */
interface PausedFlag {
  /** The flags, by name, that the process may have been started with (also as `--no-…` or `=…`): then this one is left alone. */
  given: string[];
  paused: string;
  restored: string;
}
const FLAGS: PausedFlag[] = [
  { given: ["opt", "turbofan", "jitless", "max-opt"], paused: "--no-turbofan", restored: "--turbofan" },
  {
    given: ["semi-space-growth-factor", "semi_space_growth_factor"],
    paused: "--semi-space-growth-factor=1",
    restored: "--semi-space-growth-factor=2",
  },
];

/**
 * The pause's flags that the process was not started with. (Compared as
 * strings: a regular expression's first use compiles it, ~0.3 ms of every
 * start for these two.)
 */
function ours(): PausedFlag[] {
  const started = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(" ")].map(flagName);
  return FLAGS.filter((f) => !started.some((a) => f.given.includes(a)));
}

/** "--no-opt" -> "opt", "--max-opt=2" -> "max-opt". */
function flagName(arg: string): string {
  let name = arg.startsWith("--") ? arg.slice(2) : arg;
  if (name.startsWith("no-")) name = name.slice(3);
  const eq = name.indexOf("=");
  return eq < 0 ? name : name.slice(0, eq);
}

/**
 * Sets flags: through the addon where one is loaded (the CLI loads it before
 * its bundle runs), since loading node:v8 took 3-6 ms of a start (its
 * heap-snapshot and serializer modules come with it; Node 20); else through
 * node:v8, loaded when first needed.
 */
function setFlags(which: "paused" | "restored"): void {
  const flags = ours().map((f) => f[which]);
  if (flags.length === 0) return;
  const text = flags.join(" ");
  for (const addon of loadedAddons())
    if ((addon as { setV8Flags?: (flags: string) => boolean }).setV8Flags?.(text) === true) return;
  v8 ??= builtinModule<typeof import("node:v8")>("node:v8");
  v8.setFlagsFromString(text);
}

function endPause(): void {
  if (--state.depth === 0 && !state.restored) setFlags("restored");
}

/**
 * Pauses the optimizer and the young generation's growth until the returned
 * object is disposed (`using`) and `lingerMs` more (an unref'd timer: it
 * never keeps the process alive).
 */
export function pauseForCompile(opts: { lingerMs?: number } = {}): Disposable {
  if (state.restored) return { [Symbol.dispose]() {} };
  if (state.depth++ === 0) setFlags("paused");
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
 * V8's flags as the process started, whatever pause is held: for writing
 * V8's code cache as the process ends (its flag hash must be the next
 * start's). Pauses still held then end with no effect, and later ones pause
 * nothing: the process is ending.
 */
export function restoreV8Flags(): void {
  if (state.depth === 0 || state.restored) return;
  state.restored = true;
  setFlags("restored");
}

/**
 * The pause for a whole command of the CLI (the process is the CLI's own):
 * held while the process stays quiet, ended for good once it is busy, that
 * is once its CPU time over one period of `periodMs` passes `busyShare` of
 * a CPU (the period the command starts in is not counted: a compile is not
 * a busy tracer).
 *
 * A tracer that reports a few hundred events a second runs its event path
 * often enough for V8 to optimize it within seconds, and TurboFan's first
 * optimization maps ~4 MB of node's text and keeps its zones' malloc arena:
 * execsnoop at ~200 rows/s went from 48 to 57 MB of peak RSS in its first
 * five seconds, with TurboFan on, and stayed at 50 MB with it off, for the
 * same CPU per row (Node 20). Once the JavaScript is busy, its speed is
 * worth the memory: opensnoop used 10% of a CPU for ~5,500 rows/s without
 * TurboFan and 4% with it (and 12 MB more). A burst that keeps the event
 * loop to itself is not seen by the timer: {@link endQuietPause} ends the
 * pause before one.
 */
export function pauseWhileQuiet(opts: { periodMs?: number; busyShare?: number } = {}): Disposable {
  const periodMs = opts.periodMs ?? 1000;
  const busyMicros = (opts.busyShare ?? 0.05) * periodMs * 1000;
  const pause = pauseForCompile();
  let since: NodeJS.CpuUsage | undefined;
  const end = (): void => {
    clearInterval(timer);
    pause[Symbol.dispose]();
    if (state.endQuiet === end) state.endQuiet = undefined;
  };
  state.endQuiet = end;
  const timer = setInterval(() => {
    const used = since && process.cpuUsage(since);
    since = process.cpuUsage();
    if (used && used.user + used.system > busyMicros) end();
  }, periodMs);
  timer.unref();
  return { [Symbol.dispose]: end };
}

/**
 * Ends the pauseWhileQuiet held, if one is: for a burst that runs without
 * giving the event loop a turn, which the pause's timer cannot see (a
 * tool's report at its end: profile's symbolization of 2,000 stacks took
 * 1.29 s of CPU instead of 0.94 when it ran paused).
 */
export function endQuietPause(): void {
  state.endQuiet?.();
}
