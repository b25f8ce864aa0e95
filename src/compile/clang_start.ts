// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * A clang started by the addon to wait for its arguments (native/spawn.c
 * says why the addon starts it: Node's spawn() took ~8 ms of a first
 * compile's main thread per clang). Kept apart from clang.ts so that the
 * CLI's launcher, which may start a first compile's clang early
 * (src/compile/early_clang.ts), holds only this.
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

/** Result of one clang run. */
export interface ClangRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** What the addon offers for starting a child (src/native.ts has the full contract). */
interface SpawnAddon {
  pipe?(): [number, number];
  spawnChild?(path: string, args: string[], cwd: string, stdio: [number, number, number]): number;
  waitChild?(pid: number): Promise<{ code: number | null; signal: number | null }>;
}

/** A clang waiting for its arguments on a pipe. */
export interface StartedClang {
  readonly pid: number | undefined;
  /** Writes its arguments to the pipe as a response file, then closes the pipe (once). */
  give(args: string[]): void;
  /** Its exit code and output, once it has ended. */
  readonly ended: Promise<ClangRun>;
  /** Closes its pipe if still open, and ends it (SIGKILL) unless it has ended. */
  cancel(): void;
}

/**
 * Arguments as a GNU-style response file, as LLVM's tokenizer reads one: each
 * in double quotes, in which a backslash takes the next character as it is.
 */
export function responseFile(args: string[]): string {
  return args.map((a) => `"${a.replace(/[\\"]/g, "\\$&")}"`).join("\n");
}

/** The handle of a clang reading its arguments from the pipe whose write end is `writeFd`. */
export function waitingClang(
  pid: number | undefined,
  writeFd: number,
  ended: Promise<ClangRun>,
  kill: () => void,
): StartedClang {
  // Until its arguments are given, a failed start is nobody's error yet.
  ended.catch(() => {});
  let open = true;
  const closeWriter = (): void => {
    if (open) closeSync(writeFd);
    open = false;
  };
  return {
    pid,
    ended,
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
    },
    cancel() {
      if (!open) return;
      closeWriter();
      kill();
    },
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
    pid = addon.spawnChild(clangPath, [clangPath, "@/dev/stdin"], cwd, [readFd, outFd, errFd]);
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
  const take = (path: string): string => {
    try {
      return readFileSync(path, "utf8");
    } finally {
      rmSync(path, { force: true });
    }
  };
  let exited = false;
  const ended = addon.waitChild(pid).then((r) => {
    exited = true;
    return { code: r.code ?? 1, stdout: take(outPath), stderr: take(errPath) };
  });
  return waitingClang(pid, writeFd, ended, () => {
    if (!exited) process.kill(pid, "SIGKILL");
  });
}
