/**
 * The clang driver: finds Debian's clang, runs it as a subprocess and turns
 * its diagnostics into a CompileError located in the user's own source.
 */

import { accessSync, constants, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import { CompileError, type Diagnostic, NotSupportedError } from "../kernel/errors.js";
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
  return new Promise((resolve, reject) => {
    const child = spawn(clang.path, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
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
