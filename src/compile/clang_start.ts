// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * A clang started by the addon to wait for its arguments (native/spawn.c
 * says why the addon starts it: Node's spawn() took ~8 ms of a first
 * compile's main thread per clang). Kept apart from clang.ts so that the
 * CLI's launcher, which may start a first compile's clang early
 * (src/compile/early_clang.ts), holds only this.
 */
import {
  closeSync,
  existsSync,
  type FSWatcher,
  openSync,
  readFileSync,
  rmSync,
  watch,
  writeSync,
} from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import type { NativeAddon } from "../native.js";

/** Result of one clang run. */
export interface ClangRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** What the addon offers for starting a child (src/native.ts has the contract). */
type SpawnAddon = Pick<NativeAddon, "pipe" | "spawnChild" | "waitChild" | "childAnyCpu">;

/** A clang waiting for its arguments on a pipe. */
export interface StartedClang {
  readonly pid: number | undefined;
  /** Writes its arguments to the pipe as a response file, then closes the pipe (once). */
  give(args: string[]): void;
  /** Its exit code and output, once it has ended. */
  readonly ended: Promise<ClangRun>;
  /** Closes its pipe if still open, and ends it (SIGKILL) unless it has ended. */
  cancel(): void;
  /**
   * Resolves as `ended` does, or sooner where it can tell: once clang has put
   * its output `file` in place (see outputInPlace). Called before its
   * arguments are given.
   */
  endedOrOutput(file: string): Promise<ClangRun>;
}

/**
 * Arguments as a GNU-style response file, as LLVM's tokenizer reads one: each
 * in double quotes, in which a backslash takes the next character as it is.
 */
export function responseFile(args: string[]): string {
  return args.map((a) => `"${a.replace(/[\\"]/g, "\\$&")}"`).join("\n");
}

/** How a started clang is waited for (see waitingClang). */
export interface ClangWaits {
  /** Starts waiting for its exit (called once, when its outcome is wanted or it was ended). */
  wait: () => Promise<ClangRun>;
  /** Ends it (SIGKILL) unless it has ended. */
  kill: () => void;
  /** Called once its arguments are written. */
  given?: () => void;
  /** Its outcome so far, when it has put its output in place (see outputInPlace); without it, endedOrOutput is `ended`. */
  early?: () => ClangRun;
}

/**
 * The handle of a clang reading its arguments from the pipe whose write end
 * is `writeFd`. Its exit is waited for only once its arguments are given,
 * its outcome read, or it is cancelled: a wait in progress keeps Node's
 * event loop alive, and a clang started early that nothing takes (a script
 * that compiles nothing) must not hold its process past its end (the exit
 * ends it: early_clang.ts).
 */
export function waitingClang(pid: number | undefined, writeFd: number, waits: ClangWaits): StartedClang {
  let ended: Promise<ClangRun> | undefined;
  const end = (): Promise<ClangRun> => {
    if (!ended) {
      ended = waits.wait();
      // Until its arguments are given, a failed start is nobody's error yet.
      ended.catch(() => {});
    }
    return ended;
  };
  let open = true;
  const closeWriter = (): void => {
    if (open) closeSync(writeFd);
    open = false;
  };
  const { early } = waits;
  return {
    pid,
    get ended() {
      return end();
    },
    give(args) {
      if (!open) throw new Error("prestartClang: run() after run() or cancel() (bug)");
      try {
        // A pipe holds 64 KiB; longer arguments block until clang reads them, as it does.
        const bytes = Buffer.from(responseFile(args));
        for (let at = 0; at < bytes.length; ) at += writeSync(writeFd, bytes, at);
      } catch {
        // clang is gone (EPIPE): its exit says why.
      } finally {
        closeWriter();
      }
      end();
      waits.given?.();
    },
    cancel() {
      if (!open) return;
      closeWriter();
      waits.kill();
      end(); // (reaps it)
    },
    endedOrOutput: (file) => (early ? outputInPlace(file, end(), early) : end()),
  };
}

/** Files in the work directory that an addon-started clang prints to. */
let outputFiles = 0;

/**
 * clang started by the addon in `cwd` (the compile's private work directory)
 * on `@/dev/stdin`, printing to two files there that are read once it exits.
 * Undefined when the addon predates spawnChild or there is no /dev/stdin.
 */
export function startClangWithAddon(
  addon: SpawnAddon | undefined,
  clangPath: string,
  cwd: string,
): StartedClang | undefined {
  if (!addon?.pipe || !addon.spawnChild || !addon.waitChild || !existsSync("/dev/stdin")) return undefined;
  const [readFd, writeFd] = addon.pipe();
  const n = outputFiles++;
  const outPath = join(cwd, `.tsbpf-clang-${process.pid}-${n}.out`);
  const errPath = join(cwd, `.tsbpf-clang-${process.pid}-${n}.err`);
  let outFd: number | undefined;
  let errFd: number | undefined;
  let pid: number;
  try {
    outFd = openSync(outPath, "wx", 0o600);
    errFd = openSync(errPath, "wx", 0o600);
    // Apart from this thread's CPU while both are busy (its loader, the
    // compile's translation), every CPU once it has its arguments (native/spawn.c).
    pid = addon.spawnChild(clangPath, [clangPath, "@/dev/stdin"], cwd, [readFd, outFd, errFd], true);
  } catch (err) {
    closeSync(writeFd);
    rmSync(outPath, { force: true });
    rmSync(errPath, { force: true });
    throw err;
  } finally {
    closeSync(readFd); // the child has its own copies
    if (outFd !== undefined) closeSync(outFd);
    if (errFd !== undefined) closeSync(errFd);
  }
  // (what clang printed; "" once gone: a compile that took its object at the rename removes its directory)
  const peek = (path: string): string => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  const take = (path: string): string => {
    const text = peek(path);
    rmSync(path, { force: true });
    return text;
  };
  const waitChild = addon.waitChild.bind(addon);
  let exited = false;
  return waitingClang(pid, writeFd, {
    wait: () =>
      waitChild(pid).then((r) => {
        exited = true;
        return { code: r.code ?? 1, stdout: take(outPath), stderr: take(errPath) };
      }),
    kill: () => {
      if (!exited) process.kill(pid, "SIGKILL");
    },
    given: () => {
      try {
        addon.childAnyCpu?.(pid);
      } catch {
        // (placement only)
      }
    },
    early: () => ({ code: 0, stdout: peek(outPath), stderr: peek(errPath) }),
  });
}

/**
 * `ended`, or `early()` as soon as clang has put its output `file` in place.
 * clang writes an output into a temporary file beside it (`out-1e143149.o.tmp`
 * for out.o) and renames that to the output's name once the compile has
 * succeeded (on an error it removes it), with every diagnostic written
 * before. Then it frees LLVM's memory, runs its static destructors and
 * exits, and the kernel tears down its address space (the relocated copies
 * of libLLVM's pages): its exit comes ~3 + 5 ms after the rename (clang 14,
 * a small BPF program), all of it on a first compile's path. A file that
 * appears without such a temporary (a clang that writes it in place) may be
 * incomplete: then its exit is awaited.
 */
function outputInPlace(file: string, ended: Promise<ClangRun>, early: () => ClangRun): Promise<ClangRun> {
  const name = basename(file);
  const ext = extname(name);
  const temp = `${name.slice(0, name.length - ext.length)}-`;
  return new Promise<ClangRun>((resolve, reject) => {
    let watcher: FSWatcher | undefined;
    let settled = false;
    let sawTemp = false;
    const settle = (run?: ClangRun, err?: unknown): void => {
      if (settled) return;
      settled = true;
      watcher?.close();
      if (run) resolve(run);
      else reject(err);
    };
    ended.then(settle, (err) => settle(undefined, err));
    try {
      watcher = watch(dirname(file), (_event, changed) => {
        if (typeof changed !== "string") return;
        if (changed.startsWith(temp) && changed.endsWith(`${ext}.tmp`)) sawTemp = true;
        else if (changed === name && sawTemp && existsSync(file)) settle(early());
      });
      watcher.on("error", () => watcher?.close());
    } catch {
      // no watch here (inotify's limits): clang's exit tells
    }
  });
}
