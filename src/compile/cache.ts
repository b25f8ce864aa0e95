/**
 * tsbpf's on-disk cache: generated vmlinux.h (and its precompiled header) per
 * kernel, compiled objects per source. Writes are atomic (a private temp file,
 * then rename) so concurrent processes never see half a file.
 *
 * Root loads what this cache holds into the kernel, so nobody else may be able
 * to write it: every directory from the cache root down, and every file read
 * from it, must be owned by this process's effective uid and not writable by
 * group or others, or tsbpf refuses it with a {@link CacheError} that names the
 * path and the fix. A symbolic link among the directories is followed only
 * when this user owns the link, and its target is held to the same rule; a
 * cached file is never a link (tsbpf never makes one). Directories tsbpf
 * creates (the root and below, not the root's parents) are mode 0700, files
 * 0600. The checks cost one lstat per directory once per process (memoized)
 * and the fstat of each file opened, which a read needs anyway.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { builtinModule } from "../builtin.js";
import { CacheError } from "../kernel/errors.js";

/**
 * The home directory as os.homedir() finds it ($HOME when set, else the
 * password database's), without loading node:os when $HOME is set: its load
 * costs a start 0.5-1.5 ms (Node 20), and the launcher reads this at every start.
 */
function homeDir(): string {
  return process.env.HOME ?? builtinModule<typeof import("node:os")>("node:os").homedir();
}

/** $TSBPF_CACHE_DIR, else $XDG_CACHE_HOME/tsbpf, else ~/.cache/tsbpf (absolute). */
export function cacheDir(): string {
  const env = process.env.TSBPF_CACHE_DIR;
  if (env) return resolve(env);
  const xdg = process.env.XDG_CACHE_HOME;
  return resolve(xdg || join(homeDir(), ".cache"), "tsbpf");
}

/** A subdirectory of the cache, created (0700) on demand and checked (see the module's comment). */
export function cacheSubdir(...parts: string[]): string {
  const root = cacheDir();
  const dir = join(root, ...parts);
  if (verified.has(dir)) return dir;
  let p = root;
  if (!verified.has(p)) {
    checkDir(p, true);
    verified.add(p);
  }
  for (const part of parts.join(sep).split(sep)) {
    if (part === "" || part === ".") continue;
    p = join(p, part);
    if (verified.has(p)) continue;
    checkDir(p, false);
    verified.add(p);
  }
  return dir;
}

/** Cache directories found fit in this process (nobody else can change them afterwards: they are ours and 0700 or 0755). */
const verified = new Set<string>();

const euid = (): number => process.geteuid?.() ?? 0;

/** A path as a shell word, for the commands in the fixes. */
function shellWord(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/** The fix for a refused path. */
function fixFor(path: string, kind: "directory" | "file", modeOnly: boolean, root: boolean): string {
  const p = shellWord(path);
  if (root && process.env.TSBPF_CACHE_DIR) {
    return (
      `point TSBPF_CACHE_DIR at a directory that uid ${euid()} owns and only it can write ` +
      `(tsbpf creates a missing one with mode 0700), or unset it` +
      (modeOnly ? `; if ${p} is tsbpf's alone, "chmod 700 ${p}" also does` : "")
    );
  }
  if (kind === "file") return `run "rm -f ${p}" (tsbpf rebuilds it)`;
  return modeOnly
    ? `run "chmod 700 ${p}" (or "rm -rf ${p}": tsbpf rebuilds it)`
    : `run "rm -rf ${p}" (tsbpf rebuilds it)`;
}

/** Throws unless st, the directory's or file's own stat, is owned by us and writable by nobody else. */
function checkOwnerAndMode(path: string, st: Stats, kind: "directory" | "file", root: boolean): void {
  const uid = euid();
  if (st.uid !== uid) {
    throw new CacheError(
      path,
      `the ${kind} is owned by uid ${st.uid}, not by uid ${uid} (this process's user), so another user could change what tsbpf compiles and loads`,
      fixFor(path, kind, false, root),
    );
  }
  const w = st.mode & 0o022;
  if (w !== 0) {
    const who = w === 0o022 ? "group and others" : w === 0o020 ? "group" : "others";
    throw new CacheError(
      path,
      `the ${kind} is writable by ${who} (mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")}), so another user could change what tsbpf compiles and loads`,
      fixFor(path, kind, true, root),
    );
  }
}

/** Checks (creating it 0700 when missing) one directory of the cache, its parent already checked. */
function checkDir(path: string, root: boolean): void {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw unusable(path, "cannot stat it", err, root);
    createDir(path, root);
    try {
      st = lstatSync(path);
    } catch (err2) {
      throw unusable(path, "cannot stat it", err2, root);
    }
  }
  if (st.isSymbolicLink()) {
    // A link the user made (~/.cache/tsbpf -> /var/cache/tsbpf) is followed;
    // one owned by anybody else could be re-pointed by them.
    if (st.uid !== euid()) {
      throw new CacheError(
        path,
        `it is a symbolic link owned by uid ${st.uid}, not by uid ${euid()} (this process's user)`,
        fixFor(path, "directory", false, root),
      );
    }
    try {
      st = statSync(path);
    } catch (err) {
      throw unusable(path, "it is a symbolic link to nothing usable", err, root);
    }
  }
  if (!st.isDirectory()) {
    throw new CacheError(path, "it is not a directory", fixFor(path, "directory", false, root));
  }
  checkOwnerAndMode(path, st, "directory", root);
}

/** mkdir 0700, and chmod 0700 (whatever the umask) when this call created it. Not its parents' modes: the root's parents (~/.cache) are created with the default mode. */
function createDir(path: string, root: boolean): void {
  try {
    if (root) mkdirSync(dirname(path), { recursive: true });
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return; // another process made it: checked like any other
    throw unusable(path, "cannot create it", err, root);
  }
  // Through a descriptor that did not follow a link: nobody can re-point what we chmod.
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    throw unusable(path, "cannot open the directory it just created", err, root);
  }
  try {
    fchmodSync(fd, 0o700);
  } finally {
    closeSync(fd);
  }
}

/** A CacheError for a failed system call on a cache path (EACCES, EROFS, ENOSPC, …). */
function unusable(path: string, what: string, err: unknown, root: boolean): CacheError {
  const e = err as NodeJS.ErrnoException;
  const fix = process.env.TSBPF_CACHE_DIR
    ? "point TSBPF_CACHE_DIR at a directory this user can write"
    : `check that this user can write ${root ? "its parent" : "it"} and that its file system has space, or point TSBPF_CACHE_DIR at a directory this user can write`;
  return new CacheError(path, `${what} (${e.message ?? String(err)})`, fix, {
    ...(typeof e.errno === "number" ? { errno: Math.abs(e.errno) } : {}),
    cause: err,
  });
}

/** Checks the directory a cache file is in (memoized), when the file is in the cache. */
function checkParent(path: string): string {
  const abs = resolve(path);
  const dir = dirname(abs);
  if (verified.has(dir)) return abs;
  const rel = relative(cacheDir(), dir);
  if (rel === "") cacheSubdir();
  else if (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)) cacheSubdir(...rel.split(sep));
  return abs;
}

/** Throws unless a cache file's stat is a regular file of ours that nobody else can write. */
function checkFile(path: string, st: Stats): void {
  if (!st.isFile())
    throw new CacheError(path, "it is not a regular file", fixFor(path, "file", false, false));
  checkOwnerAndMode(path, st, "file", false);
}

const linkRefused = (path: string): CacheError =>
  new CacheError(
    path,
    "it is a symbolic link (tsbpf never makes one there, so somebody else did)",
    fixFor(path, "file", false, false),
  );

/**
 * A cache file's contents, or undefined when it is missing (or unreadable).
 * Throws a CacheError for a file (or directory above it) that fails the
 * checks. One open and one fstat, the same as a plain read.
 *
 * With `map` (the addon's mapFile), the checked file is mapped rather than
 * read, for a large file read once (a V8 code cache: 745 KB read in ~2.6 ms,
 * most of it faulting in the fresh pages it is copied to, mapped in ~0.3).
 * The directory is ours alone (checked above), so the file mapped is the
 * file checked; tsbpf replaces cache files by renaming (writeAtomic), which
 * leaves a mapping of the old one intact. A file that cannot be mapped is
 * read.
 */
export function readCached(path: string, map?: (path: string) => ArrayBuffer): Buffer | undefined {
  const abs = checkParent(path);
  let fd: number;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP") throw linkRefused(abs);
    return undefined;
  }
  try {
    checkFile(abs, fstatSync(fd));
    if (map) {
      try {
        return Buffer.from(map(abs));
      } catch {
        // read it
      }
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether a cache file exists, for one that another program (clang) opens:
 * false when missing; throws a CacheError when it fails the checks. The
 * directory it is in is ours alone, so it cannot change between this check
 * and that open.
 */
export function cachedFileExists(path: string): boolean {
  const abs = checkParent(path);
  let st: Stats;
  try {
    st = lstatSync(abs);
  } catch {
    return false;
  }
  if (st.isSymbolicLink()) throw linkRefused(abs);
  checkFile(abs, st);
  return true;
}

/**
 * A 128-bit hash of the parts (hex), for cache file names. Not
 * cryptographic: loading node:crypto costs ~2 ms of a warm start, so this is
 * two independent 64-bit FNV-1a lanes; callers that must never confuse two
 * inputs store the key material next to the entry and compare it on a hit.
 */
export function hashKey(...parts: Array<string | Uint8Array>): string {
  const enc = new TextEncoder();
  let a = 0xcbf29ce484222325n;
  let b = 0x84222325cbf29ce4n;
  const PRIME = 0x100000001b3n;
  const MASK = 0xffffffffffffffffn;
  // 32-bit lanes with Math.imul are much faster than BigInt per byte; fold into the BigInt state per part.
  for (const p of parts) {
    const bytes = typeof p === "string" ? enc.encode(p) : p;
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193 ^ bytes.length;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i] as number;
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    a = ((a ^ BigInt(h1 >>> 0)) * PRIME) & MASK;
    a = ((a ^ BigInt(h2 >>> 0)) * PRIME) & MASK;
    b = ((b ^ BigInt(h2 >>> 0)) * PRIME) & MASK;
    b = ((b ^ BigInt((h1 ^ bytes.length) >>> 0)) * PRIME) & MASK;
    b = ((b ^ 0xffn) * PRIME) & MASK; // part separator
  }
  return a.toString(16).padStart(16, "0") + b.toString(16).padStart(16, "0");
}

/**
 * Writes a file atomically: a temp file created (O_EXCL, mode 0600) in the
 * same directory, then renamed over the path; the temp file is removed if
 * anything fails. A cache file's directory is checked first.
 */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  const abs = checkParent(path);
  let tmp = "";
  let fd = -1;
  for (let attempt = 0; fd < 0; attempt++) {
    tmp = `${abs}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      fd = openSync(
        tmp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && attempt < 8) continue;
      throw unusable(abs, "cannot write it", err, false);
    }
  }
  try {
    try {
      writeFileSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, abs);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw unusable(abs, "cannot write it", err, false);
  }
}

/** Reads any file (not only the cache's: no checks), or undefined when it is missing or unreadable. */
export function readIfExists(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}
