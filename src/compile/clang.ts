/**
 * The clang driver: finds Debian's clang, runs it as a subprocess and turns
 * its diagnostics into a CompileError located in the user's own source.
 */

import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import { CompileError, type Diagnostic, NotSupportedError } from "../kernel/errors.js";
import { native } from "../native.js";
import { byteColumnToCharColumn } from "./offsets.js";

/** The clang binary and an identity that changes when it is upgraded. */
export interface Clang {
  path: string;
  /** realpath, size and mtime: cheap to compute, unlike spawning `clang --version`. */
  identity: string;
}

let cached: Clang | undefined;

/** Finds clang: $TSBPF_CLANG, `clang` on PATH, or a versioned clang-N. */
export function findClang(): Clang {
  if (cached) return cached;
  const candidates: string[] = [];
  if (process.env.TSBPF_CLANG) candidates.push(process.env.TSBPF_CLANG);
  const dirs = (process.env.PATH ?? "/usr/bin").split(delimiter);
  for (const d of [...dirs, "/usr/bin", "/usr/local/bin"]) candidates.push(join(d, "clang"));
  for (let v = 20; v >= 11; v--) candidates.push(`/usr/bin/clang-${v}`);
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      const real = realpathSync(c);
      const st = statSync(real);
      cached = { path: c, identity: `${real}:${st.size}:${st.mtimeMs}` };
      return cached;
    } catch {
      // try the next one
    }
  }
  throw new NotSupportedError(
    "clang",
    "no clang found: neither $TSBPF_CLANG, clang on PATH nor /usr/bin/clang-N",
    "compiling C (BPF.load with text or srcFile, the tools trace and argdist) needs clang and libbpf's BPF " +
      'headers: install them ("apt-get install clang libbpf-dev"); a prebuilt object (BPF.open) and the ' +
      "other bundled tools need no compiler",
    { on: "this machine" },
  );
}

/** Result of one clang run. */
export interface ClangRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs clang with args; resolves whatever its exit code. */
export function runClang(clang: Clang, args: string[], cwd?: string): Promise<ClangRun> {
  // child_process loads only when clang runs (never on a warm start).
  const { spawn } = createRequire(import.meta.url)(
    "node:child_process",
  ) as typeof import("node:child_process");
  return outcome(spawn(clang.path, args, { cwd, stdio: ["ignore", "pipe", "pipe"] }));
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
  let fds: [number, number] | undefined;
  try {
    fds = native().pipe?.();
  } catch {
    // no addon here: clang starts when its arguments are there
  }
  if (!fds) return undefined;
  const [readFd, writeFd] = fds;
  let started: { pid: number | undefined; ended: Promise<ClangRun>; kill: () => void } | undefined;
  try {
    if (!existsSync("/dev/stdin")) throw new Error("no /dev/stdin");
    started = startWithAddon(clang, cwd, readFd) ?? startWithNode(clang, cwd, readFd);
  } catch {
    closeSync(writeFd);
    return undefined;
  } finally {
    closeSync(readFd); // the child has its own copy
  }
  const { ended, kill } = started;
  // Until run() is called, a failed start is nobody's error yet.
  ended.catch(() => {});
  let open = true;
  const closeWriter = (): void => {
    if (open) closeSync(writeFd);
    open = false;
  };
  return {
    pid: started.pid,
    run(args) {
      if (!open) throw new Error("prestartClang: run() after run() or cancel() (bug)");
      // (a response file has no way to say an empty argument)
      if (args.includes("")) {
        closeWriter();
        kill();
        return runClang(clang, args, cwd);
      }
      try {
        // A pipe holds 64 KiB; longer arguments block until clang reads them, as it does.
        const bytes = Buffer.from(responseFile(args));
        for (let at = 0; at < bytes.length; ) at += writeSync(writeFd, bytes, at);
      } catch {
        // clang is gone (EPIPE): its exit says why.
      } finally {
        closeWriter();
      }
      return ended;
    },
    cancel() {
      if (!open) return;
      closeWriter();
      kill();
    },
  };
}

/** Files in the work directory that a prestarted clang prints to (addon-started). */
let outputFiles = 0;

/**
 * clang started by the addon (native/spawn.c says why: Node's spawn took ~8 ms of
 * a first compile's main thread per clang), printing to two files in `cwd` (the
 * compile's private work directory) that are read once it exits. Undefined when
 * the addon predates spawnChild.
 */
function startWithAddon(
  clang: Clang,
  cwd: string,
  stdinFd: number,
): { pid: number; ended: Promise<ClangRun>; kill: () => void } | undefined {
  const addon = native();
  if (!addon.spawnChild || !addon.waitChild) return undefined;
  const n = outputFiles++;
  const outPath = join(cwd, `.tsbpf-clang-${process.pid}-${n}.out`);
  const errPath = join(cwd, `.tsbpf-clang-${process.pid}-${n}.err`);
  const outFd = openSync(outPath, "wx", 0o600);
  let errFd: number | undefined;
  let pid: number;
  try {
    errFd = openSync(errPath, "wx", 0o600);
    pid = addon.spawnChild(clang.path, [clang.path, "@/dev/stdin"], cwd, [stdinFd, outFd, errFd]);
  } catch (err) {
    rmSync(outPath, { force: true });
    rmSync(errPath, { force: true });
    throw err;
  } finally {
    closeSync(outFd);
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
  return {
    pid,
    ended,
    kill: () => {
      if (!exited) process.kill(pid, "SIGKILL");
    },
  };
}

/** clang started by Node's child_process (an addon without spawnChild). */
function startWithNode(
  clang: Clang,
  cwd: string,
  stdinFd: number,
): { pid: number | undefined; ended: Promise<ClangRun>; kill: () => void } {
  const { spawn } = createRequire(import.meta.url)(
    "node:child_process",
  ) as typeof import("node:child_process");
  const child = spawn(clang.path, ["@/dev/stdin"], { cwd, stdio: [stdinFd, "pipe", "pipe"] });
  return { pid: child.pid, ended: outcome(child), kill: () => child.kill("SIGKILL") };
}

/**
 * Arguments as a GNU-style response file, as LLVM's tokenizer reads one: each
 * in double quotes, in which a backslash takes the next character as it is.
 */
export function responseFile(args: string[]): string {
  return args.map((a) => `"${a.replace(/[\\"]/g, "\\$&")}"`).join("\n");
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
