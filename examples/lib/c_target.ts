/**
 * Building and running the C target programs of the uprobe and USDT chapters
 * (examples/<chapter>/<name>.c), shared by their examples.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cachedFileExists, cacheSubdir } from "../../src/compile/cache.js";
import { CacheError } from "../../src/kernel/errors.js";
import type { ExampleContext } from "./example.js";

/**
 * examples/<chapter>/<file>: next to the module (run from source), or found
 * walking up from it (built, the module is in dist/examples/<chapter>/).
 */
export function exampleSource(moduleUrl: string, chapter: string, file: string): string {
  const here = dirname(fileURLToPath(moduleUrl));
  if (existsSync(join(here, file))) return join(here, file);
  for (let dir = here; ; ) {
    const candidate = join(dir, "examples", chapter, file);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find examples/${chapter}/${file} above ${here}`);
    dir = up;
  }
}

/**
 * Where built targets go: tsbpf's cache (examples/<chapter>, checked and
 * 0700 like the rest of it: root runs what is built there), else, when the
 * cache cannot be written, a private temporary directory of this process.
 */
function targetDir(chapter: string): string {
  try {
    return cacheSubdir("examples", chapter);
  } catch (err) {
    // A cache that cannot be trusted is an error; one that cannot be written is not.
    if (!(err instanceof CacheError) || err.errno === undefined) throw err;
  }
  if (privateDir === undefined) {
    const made = mkdtempSync(join(tmpdir(), "tsbpf-targets-"));
    process.once("exit", () => rmSync(made, { recursive: true, force: true }));
    privateDir = made;
  }
  const dir = privateDir;
  mkdirSync(join(dir, chapter), { recursive: true, mode: 0o700 });
  return join(dir, chapter);
}
let privateDir: string | undefined;

/**
 * Builds examples/<chapter>/<name>.c with cc ($CC) into the cache and
 * returns the executable's path; the build is reused until the .c is newer.
 * The new file replaces the old one by rename, so a process already running
 * the old one keeps it (a uprobe, though, goes to the file now at the path).
 */
export function buildTarget(moduleUrl: string, chapter: string, name: string, hint = ""): string {
  const src = exampleSource(moduleUrl, chapter, `${name}.c`);
  const exe = join(targetDir(chapter), name);
  // cachedFileExists: ours, and nobody else can write it (or a CacheError).
  const fresh = (): boolean => cachedFileExists(exe) && statSync(exe).mtimeMs >= statSync(src).mtimeMs;
  if (fresh()) return exe;
  const tmp = `${exe}.${process.pid}.tmp`;
  const cc = process.env.CC || "cc";
  const r = spawnSync(cc, ["-O2", "-g", "-Wall", "-o", tmp, src], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    const why = r.error ? `${r.error.message} (is a C compiler installed?)` : r.stderr.trim();
    throw new Error(`cannot build ${src} with ${cc}: ${why}${hint ? `\n${hint}` : ""}`);
  }
  chmodSync(tmp, 0o700); // whatever the umask
  // Someone else built it meanwhile: keep theirs (a running target may use it).
  if (fresh()) rmSync(tmp, { force: true });
  else renameSync(tmp, exe);
  return exe;
}

/**
 * Runs a built target with our stdout and stderr until ctx stops (then
 * SIGTERM) or the target exits; an exit other than by our SIGTERM or the
 * user's Ctrl-C is an error.
 */
export async function runTarget(ctx: ExampleContext, exe: string, args: string[] = []): Promise<void> {
  const child: ChildProcess = spawn(exe, args, { stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  const stop = (): void => {
    child.kill("SIGTERM");
  };
  ctx.signal.addEventListener("abort", stop);
  if (ctx.signal.aborted) stop();
  try {
    const { code, signal } = await exited;
    if (ctx.stopped && (signal === "SIGTERM" || signal === "SIGINT")) return;
    if (signal === "SIGINT") return;
    throw new Error(`${exe} ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`);
  } finally {
    ctx.signal.removeEventListener("abort", stop);
  }
}
