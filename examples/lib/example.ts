/**
 * What every tutorial example shares: its command line (`--duration S`,
 * `--strict`, its own arguments), stopping (duration, Ctrl-C, SIGTERM), and
 * the one-line notice when this kernel lacks what the original needs and the
 * example runs an equivalent instead (or, with --strict, fails with the typed
 * error).
 *
 * An example is a module under examples/<chapter>/ that exports
 * `example = defineExample({ name: "<chapter>/<program>" }, main)` and ends with
 * `runIfMain(import.meta.url, example)`, so it runs both as
 * `node dist/examples/<chapter>/<program>.js` and as
 * `tsbpf example <chapter>/<program>`.
 */
import { realpathSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { type BPF, NotSupportedError } from "../../src/index.js";
import { sleepUnlessAborted } from "../../src/sleep.js";
import { onStdioUse, writeStdio } from "../../src/stdio.js";

export interface ExampleSpec {
  /** "<chapter>/<program>", the name `tsbpf example` takes. */
  name: string;
  /** The example's own arguments, for the usage line (e.g. "PID"). */
  usage?: string;
}

export interface ExampleContext {
  /** "<chapter>/<program>". */
  readonly name: string;
  /** "<program>": the prefix of the lines the example prints on stderr. */
  readonly program: string;
  /** Arguments left after --duration and --strict. */
  readonly args: readonly string[];
  /** --strict: no fallbacks, the typed error instead. */
  readonly strict: boolean;
  /** --duration in seconds, when given. */
  readonly duration: number | undefined;
  /** Aborted when the example should stop (duration over, SIGINT, SIGTERM). */
  readonly signal: AbortSignal;
  /** Whether the example should stop now. */
  readonly stopped: boolean;
  /** Sleeps, or less when stopped; resolves to false when stopped. */
  sleep(ms: number): Promise<boolean>;
  /**
   * Runs `original`; when it fails with a NotSupportedError (the kernel lacks
   * what the original needs) and --strict is off, prints one line on stderr
   * that says what is missing and which equivalent is used, then runs
   * `equivalent`. Any other error, or any error under --strict, is thrown.
   */
  fallback<T>(
    original: () => T | Promise<T>,
    alternative: string,
    equivalent: () => T | Promise<T>,
  ): Promise<T>;
  /**
   * bcc's `b.attach_kprobe(event=b.get_syscall_fnname(syscall), fn_name=fnName)`;
   * on a kernel without kprobes, through {@link fallback}, the tracepoint
   * syscalls:sys_enter_<syscall> (a syscall__ function's declared arguments
   * are read from the tracepoint's fields there).
   */
  attachSyscallKprobe(b: BPF, syscall: string, fnName: string): Promise<void>;
  /** Prints "<program>: msg" on stderr. */
  note(msg: string): void;
}

export type ExampleMain = (ctx: ExampleContext) => Promise<void>;

export interface Example {
  readonly name: string;
  readonly usage: string;
  readonly main: ExampleMain;
}

export function defineExample(spec: ExampleSpec, main: ExampleMain): Example {
  return { name: spec.name, usage: spec.usage ?? "", main };
}

/** The line printed when an example uses an equivalent of what the kernel lacks. */
export function fallbackNotice(program: string, err: NotSupportedError, alternative: string): string {
  return `${program}: ${NotSupportedError.summary(err.feature, err.reason)}; using ${alternative} instead`;
}

function usageLine(ex: Example): string {
  return `usage: ${ex.name} [--duration SECONDS] [--strict]${ex.usage ? ` ${ex.usage}` : ""}`;
}

/** Splits [--duration S] [--strict] from the example's own arguments. */
export function parseExampleArgs(
  ex: Example,
  argv: readonly string[],
): { duration: number | undefined; strict: boolean; args: string[] } {
  let duration: number | undefined;
  let strict = false;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--strict") strict = true;
    else if (a === "--duration" || a === "-d") duration = Number(argv[++i]);
    else if (a.startsWith("--duration=")) duration = Number(a.slice("--duration=".length));
    else if (a === "--help" || a === "-h") throw new Error(usageLine(ex));
    else args.push(a);
  }
  if (duration !== undefined && !(duration > 0))
    throw new Error(`--duration needs a number of seconds > 0; ${usageLine(ex)}`);
  return { duration, strict, args };
}

/**
 * Runs an example to its end: resolves when main returns, which examples do
 * when ctx.signal aborts (duration over, SIGINT, SIGTERM, or opts.signal).
 */
export async function runExample(
  ex: Example,
  argv: readonly string[],
  opts: { signal?: AbortSignal } = {},
): Promise<void> {
  const parsed = parseExampleArgs(ex, argv);
  const program = ex.name.slice(ex.name.lastIndexOf("/") + 1);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  // Our own SIGINT/SIGTERM listeners make tsbpf's lifecycle leave the exit to
  // us: main returns, its `await using` closes the BPF, and the process ends normally.
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  opts.signal?.addEventListener("abort", onSignal);
  const timer = parsed.duration === undefined ? undefined : setTimeout(onSignal, parsed.duration * 1000);
  // `example | head`: when the reader goes away, stop quietly (as a closed pipe should end a tool).
  const onStdoutError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== "EPIPE") throw err;
    stop.abort();
  };
  onStdioUse("stdout", (stdout) => stdout.on("error", onStdoutError));
  const note = (msg: string): void => {
    writeStdio("stderr", `${program}: ${msg}\n`);
  };
  const ctx: ExampleContext = {
    name: ex.name,
    program,
    args: parsed.args,
    strict: parsed.strict,
    duration: parsed.duration,
    signal: stop.signal,
    get stopped() {
      return stop.signal.aborted;
    },
    sleep: async (ms) => !(await sleepUnlessAborted(ms, stop.signal)),
    async fallback(original, alternative, equivalent) {
      try {
        return await original();
      } catch (err) {
        if (!(err instanceof NotSupportedError) || parsed.strict) throw err;
        writeStdio("stderr", `${fallbackNotice(program, err, alternative)}\n`);
        return await equivalent();
      }
    },
    attachSyscallKprobe(b, syscall, fnName) {
      return ctx.fallback(
        () => b.attachKprobe({ event: b.getSyscallFnname(syscall), fnName }),
        `tracepoint syscalls:sys_enter_${syscall}`,
        () => b.attachTracepoint({ tp: `syscalls:sys_enter_${syscall}`, fnName }),
      );
    },
    note,
  };
  try {
    await ex.main(ctx);
  } finally {
    if (timer) clearTimeout(timer);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    opts.signal?.removeEventListener("abort", onSignal);
    // onStdoutError stays: writes still in flight may fail with EPIPE after this.
  }
}

/** Prints an example's failure as "<program>: <ErrorName>: message" and sets exit code 1. */
export function reportFailure(ex: Example, err: unknown): void {
  const program = ex.name.slice(ex.name.lastIndexOf("/") + 1);
  const text =
    err instanceof Error ? (err.name === "Error" ? err.message : `${err.name}: ${err.message}`) : String(err);
  writeStdio("stderr", `${program}: ${text}\n`);
  process.exitCode = 1;
}

/**
 * Runs the example when its file is the program node was started with. The
 * file name must match too, so that an example bundled into the tsbpf CLI
 * (printk_sample) does not run when the CLI does.
 */
export function runIfMain(moduleUrl: string, ex: Example): void {
  const argv1 = process.argv[1];
  if (!argv1) return;
  const self = fileURLToPath(moduleUrl);
  const program = ex.name.slice(ex.name.lastIndexOf("/") + 1);
  if (basename(self).replace(/\.[cm]?js$/, "") !== program) return;
  let started: string;
  try {
    started = realpathSync(argv1);
  } catch {
    return;
  }
  if (started !== self) return;
  runExample(ex, process.argv.slice(2)).catch((err: unknown) => reportFailure(ex, err));
}
