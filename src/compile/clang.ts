// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * The clang driver: finds Debian's clang, runs it as a subprocess and turns
 * its diagnostics into a CompileError located in the user's own source.
 */

import { closeSync, existsSync } from "node:fs";
import { resolve } from "node:path";
import { builtinModule } from "../builtin.js";
import { CompileError, type Diagnostic } from "../kernel/errors.js";
import { native } from "../native.js";
import type { Clang } from "./clang_path.js";
import { type ClangRun, type StartedClang, startClangWithAddon, waitingClang } from "./clang_start.js";
import { byteColumnToCharColumn } from "./offsets.js";

export { type Clang, findClang } from "./clang_path.js";
export { type ClangRun, responseFile } from "./clang_start.js";

/** node:child_process, loaded only when clang runs from Node (never on a warm start, nor for an addon-started clang). */
function childProcess(): typeof import("node:child_process") {
  return builtinModule<typeof import("node:child_process")>("node:child_process");
}

/** Runs clang with args; resolves whatever its exit code. */
export function runClang(clang: Clang, args: string[], cwd?: string): Promise<ClangRun> {
  return outcome(childProcess().spawn(clang.path, args, { cwd, stdio: ["ignore", "pipe", "pipe"] }));
}

/** A clang process's exit code and output, once it has ended (rejects if it could not start). */
function outcome(child: import("node:child_process").ChildProcess): Promise<ClangRun> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
  });
}

/**
 * A clang started before its arguments exist: it reads them as a response
 * file from its stdin (`@/dev/stdin`), so that the dynamic linking of LLVM's
 * libraries (about 75 ms of a 95 ms run of Debian's clang 14 on a small
 * program) overlaps the work that writes its input files. Its stdin is a
 * pipe of the addon's (clang cannot open /dev/stdin when it is the socket
 * Node's child_process makes). If this process dies first, the pipe's
 * write end closes, clang reads no arguments, says "no input files" and
 * exits: nothing is left waiting.
 */
export interface PrestartedClang {
  /** The waiting clang's process id. */
  readonly pid: number | undefined;
  /** Gives clang its arguments (once) and resolves as runClang does. */
  run(args: string[]): Promise<ClangRun>;
  /** Ends the clang if run() was never called. */
  cancel(): void;
}

/** Starts clang in `cwd` to wait for its arguments (undefined where the addon has no pipe() or there is no /dev/stdin). */
export function prestartClang(clang: Clang, cwd: string): PrestartedClang | undefined {
  let addon: ReturnType<typeof native> | undefined;
  try {
    addon = native();
  } catch {
    // no addon here: clang starts when its arguments are there
  }
  if (!addon?.pipe) return undefined;
  let started: StartedClang | undefined;
  try {
    started = startClangWithAddon(addon, clang.path, cwd) ?? startWithNode(addon, clang, cwd);
  } catch {
    return undefined;
  }
  return started && adoptClang(started, clang, cwd);
}

/** A started clang as a PrestartedClang (one started early by the CLI's launcher, too: early_clang.ts). */
export function adoptClang(started: StartedClang, clang: Clang, cwd: string): PrestartedClang {
  return {
    pid: started.pid,
    run(args) {
      // (a response file has no way to say an empty argument)
      if (args.includes("")) {
        started.cancel();
        return runClang(clang, args, cwd);
      }
      // A compile's object is there before clang's exit (outputInPlace in clang_start.ts).
      const output = outputFile(args, cwd);
      const run = output ? started.endedOrOutput(output) : started.ended;
      started.give(args);
      return run;
    },
    cancel: () => started.cancel(),
  };
}

/** The file a compile to an object writes (`-c … -o FILE`), as a path; undefined for other runs. */
export function outputFile(args: string[], cwd: string): string | undefined {
  if (!args.includes("-c")) return undefined;
  const at = args.lastIndexOf("-o");
  const out = at >= 0 ? args[at + 1] : undefined;
  return out === undefined || out === "-" ? undefined : resolve(cwd, out);
}

/** clang started by Node's child_process (an addon without spawnChild), on a pipe of the addon's. */
function startWithNode(
  addon: ReturnType<typeof native>,
  clang: Clang,
  cwd: string,
): StartedClang | undefined {
  if (!existsSync("/dev/stdin")) return undefined;
  const fds = addon.pipe?.();
  if (!fds) return undefined;
  const [readFd, writeFd] = fds;
  let child: import("node:child_process").ChildProcess;
  try {
    child = childProcess().spawn(clang.path, ["@/dev/stdin"], { cwd, stdio: [readFd, "pipe", "pipe"] });
  } catch (err) {
    closeSync(writeFd);
    throw err;
  } finally {
    closeSync(readFd); // the child has its own copy
  }
  // (a child of child_process is waited for by Node from its start anyway)
  const ended = outcome(child);
  ended.catch(() => {}); // (a failed start is nobody's error until its outcome is asked for)
  return waitingClang(child.pid, writeFd, { wait: () => ended, kill: () => child.kill("SIGKILL") });
}

const DIAG = /^(.*?):(\d+):(\d+): (fatal error|error|warning|note): (.*)$/;

/**
 * Parses clang's diagnostics. Paths equal to `translatedPath` are reported as
 * `userFile` (the translation keeps line numbers, so lines carry over).
 */
export function parseDiagnostics(
  stderr: string,
  translatedPath: string,
  userFile: string,
  userSource?: string,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const lines = userSource?.split("\n");
  for (const line of stderr.split("\n")) {
    const m = DIAG.exec(line);
    if (!m) continue;
    const own = m[1] === translatedPath;
    const text = own ? lines?.[Number(m[2]) - 1] : undefined;
    out.push({
      file: own ? userFile : (m[1] as string),
      line: Number(m[2]),
      // clang counts bytes of UTF-8; the user's editor counts characters.
      column: text === undefined ? Number(m[3]) : byteColumnToCharColumn(text, Number(m[3])),
      severity: m[4] as Diagnostic["severity"],
      message: m[5] as string,
    });
  }
  return out;
}

/**
 * A CompileError for a failed clang run, quoting the user's lines, with the
 * notes `notesFor` adds (kernel_drift.ts: what this kernel has instead).
 */
export function compileErrorFrom(
  run: ClangRun,
  translatedPath: string,
  userFile: string,
  userSource: string,
  notesFor: (errors: Diagnostic[]) => string[] = () => [],
): CompileError {
  const diags = parseDiagnostics(run.stderr, translatedPath, userFile, userSource);
  const errors = diags.filter((d) => d.severity === "error" || d.severity === "fatal error");
  const lines = userSource.split("\n");
  const shown = (errors.length ? errors : diags).slice(0, 5).map((d) => {
    const src = d.file === userFile ? lines[d.line - 1] : undefined;
    return (
      `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}` +
      (src !== undefined ? `\n    ${src.trim()}` : "")
    );
  });
  const more = errors.length > 5 ? `\n(${errors.length - 5} more errors)` : "";
  const head = errors.length === 1 ? "1 error" : `${errors.length} errors`;
  const output = run.stderr.split(translatedPath).join(userFile);
  const drift = notesFor(errors);
  // tsbpf/prelude.h includes libbpf's BPF headers (bpf/bpf_helpers.h, …): Debian's libbpf-dev has them.
  for (const name of new Set(
    errors.map((d) => /^implicitly declaring library function '(\w+)'/.exec(d.message)?.[1]),
  )) {
    if (name === undefined) continue;
    drift.push(
      `${name} is a C library function, and a BPF program has no C library: clang makes inline code of some calls ` +
        `with constant arguments (sprintf(buf, "%s", "text"), memset(buf, 0, sizeof(buf))), not of this one; ` +
        "write the bytes yourself (or, for formatting, bpf_snprintf on Linux 5.13+)",
    );
  }
  if (errors.some((d) => /^'bpf\/[\w.]+\.h' file not found/.test(d.message)))
    drift.push('libbpf\'s BPF headers (/usr/include/bpf) are not installed: "apt-get install libbpf-dev"');
  return new CompileError(
    `clang could not compile the program (${head}):\n${shown.join("\n")}${more}` +
      (shown.length === 0 ? `\n${output.trim()}` : "") +
      drift.map((n) => `\nnote: ${n}`).join(""),
    diags,
    output,
  );
}
