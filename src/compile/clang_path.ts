// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Where clang is: kept apart from clang.ts (which runs it) so that the CLI's
 * launcher, which may start a first compile's clang early
 * (src/compile/early_clang.ts), holds only this.
 */
import { accessSync, constants, realpathSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { NotSupportedError } from "../kernel/errors.js";

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
      // (a stat that returns nothing for a missing file: an exception for each
      // directory of PATH without clang cost a warm start ~0.5 ms; one that
      // cannot be searched still throws)
      const st = statSync(c, { throwIfNoEntry: false });
      if (st === undefined || !st.isFile()) continue;
      accessSync(c, constants.X_OK);
      // (libc's realpath: one call, where the JavaScript one lstats each component;
      // the stat above followed the same links)
      const real = realpathSync.native(c);
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
