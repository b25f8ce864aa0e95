/**
 * A clang started by the addon to wait for its arguments (native/spawn.c
 * says why the addon starts it: Node's spawn() took ~8 ms of a first
 * compile's main thread per clang). Kept apart from clang.ts so that the
 * CLI's launcher, which may start a first compile's clang early
 * (src/compile/early_clang.ts), holds only this.
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs";
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
  /** The pipe's write end: the response file goes there, then it is closed. */
  readonly writeFd: number;
  /** Its exit code and output, once it has ended. */
  readonly ended: Promise<ClangRun>;
  /** Ends it (SIGKILL) unless it has ended. */
  kill(): void;
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
  // Until its arguments are given, a failed start is nobody's error yet.
  ended.catch(() => {});
  return {
    pid,
    writeFd,
    ended,
    kill: () => {
      if (!exited) process.kill(pid, "SIGKILL");
    },
  };
}
