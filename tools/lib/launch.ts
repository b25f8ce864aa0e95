/**
 * A command a tool starts and traces (`tsbpf profile -- node app.js`): its
 * pid is known before it runs (so the BPF filter can hold it), and it runs
 * only once the tool says go. A Node.js command gets V8's perf map, so its
 * JavaScript frames have names.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { basename } from "node:path";
import type { Writable } from "node:stream";

/** What makes V8 describe its JIT code in /tmp/perf-PID.map, interpreted frames included. */
export const NODE_PERF_MAP_FLAGS = ["--perf-basic-prof", "--interpreted-frames-native-stack"];

/**
 * `--perf-basic-prof` also turns V8's log on (Node 20), which V8 writes to
 * `isolate-ADDRESS-PID-v8.log` in the command's working directory; these send
 * it to an unlinked temporary file ("+", one for the process) instead, unless
 * the command names a log file of its own.
 */
export const NODE_QUIET_LOG_FLAGS = ["--no-logfile-per-isolate", "--logfile=+"];

/** Whether argv[0] runs Node.js ("node", "nodejs", "node20", a path to one, or this process's own binary). */
export function isNodeCommand(cmd: string): boolean {
  return cmd === process.execPath || /^node(js)?\d*$/.test(basename(cmd));
}

/** The command line to run: a Node.js command gets the perf-map flags after its binary (once). */
export function commandLine(command: string[]): string[] {
  const [bin, ...rest] = command;
  if (bin === undefined || !isNodeCommand(bin)) return command;
  const missing = NODE_PERF_MAP_FLAGS.filter((f) => !rest.includes(f));
  const ownLog = rest.some((a) => /^--(no-)?logfile/.test(a));
  return [bin, ...missing, ...(ownLog ? [] : NODE_QUIET_LOG_FLAGS), ...rest];
}

/** A started command, held before its first instruction until {@link go}. */
export interface Launched {
  readonly pid: number;
  /** Whether the command is Node.js (it was given the perf-map flags). */
  readonly node: boolean;
  /** Lets the command run (exec's it). */
  go(): void;
  /** Resolves with its exit code (or the signal's name) once it has ended. */
  readonly exited: Promise<number | string>;
  /** Whether it has ended. */
  readonly ended: boolean;
  /** Sends it a signal if it still runs. */
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts `command` (an argument array, no shell parsing of it) held: a
 * /bin/sh waits on a pipe, then exec's it, so the pid stays the same. If the
 * tool dies before go(), the pipe closes and the command never runs.
 */
export function launch(command: string[]): Launched {
  const argv = commandLine(command);
  // "$@" is the command, passed as arguments: nothing in it is parsed by the shell.
  const child: ChildProcess = spawn(
    "/bin/sh",
    ["-c", 'read _ <&3 || exit 125; exec 3<&-; exec "$@"', "tsbpf-launch", ...argv],
    { stdio: ["inherit", "inherit", "inherit", "pipe"] },
  );
  if (child.pid === undefined) throw new Error(`cannot start ${argv[0]}`);
  let ended = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      ended = true;
      resolve(code ?? signal ?? 0);
    });
    child.once("error", () => {
      ended = true;
      resolve(127);
    });
  });
  const gate = child.stdio[3] as Writable;
  gate.on("error", () => {}); // the command ended before go(): its exit says so
  return {
    pid: child.pid,
    node: argv !== command,
    go: () => gate.end("\n"),
    exited,
    get ended() {
      return ended;
    },
    kill: (signal = "SIGTERM") => {
      if (!ended) child.kill(signal);
    },
  };
}
