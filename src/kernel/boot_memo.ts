// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * What this kernel refused, remembered until the machine reboots. Some
 * refusals cost much to learn: a BPF trampoline program (fentry/fexit) is
 * refused only at its load, after libbpf has read the kernel's whole BTF
 * (5.5 MB and 126,000 types on Linux 6.18: ~9 MB of a tool's peak RSS). The
 * tools that can use a tracepoint instead try fentry first (tools/lib/hooks.ts);
 * with the refusal remembered, their later starts go to the tracepoint
 * straight away. What refuses trampolines to root is set at boot (the JIT's
 * support, kernel lockdown, which can only be raised, an LSM's policy), so
 * the memo is kept for this boot only: features/<boot_id>.json in tsbpf's
 * cache directory (src/compile/cache.ts's rules), another boot's file
 * removed when this boot's is written. Any error here only costs the memo.
 */
import { readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { debuglog } from "node:util";
import { cacheSubdir, readCached, writeAtomic } from "../compile/cache.js";

const debug = debuglog("tsbpf");

/** A refusal as the kernel gave it. */
export interface Refusal {
  errno: number;
  /** What was refused and why, as the error said it. */
  reason: string;
}

type Memo = Record<string, Refusal>;

let bootId: string | undefined;

/** This boot's id (a UUID the kernel makes at boot), or undefined when unreadable. */
function currentBoot(): string | undefined {
  try {
    bootId ??= readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
  } catch {
    return undefined;
  }
  return /^[0-9a-f-]+$/.test(bootId) ? bootId : undefined;
}

function memoPath(boot: string): string {
  return join(cacheSubdir("features"), `${boot}.json`);
}

function readMemo(boot: string): Memo {
  try {
    const text = readCached(memoPath(boot));
    const memo = text ? (JSON.parse(text.toString("utf8")) as unknown) : undefined;
    return memo && typeof memo === "object" ? (memo as Memo) : {};
  } catch (err) {
    debug("boot memo: %s", (err as Error).message);
    return {};
  }
}

/** The refusal of `feature` remembered for this boot, if any. */
export function rememberedRefusal(feature: string): Refusal | undefined {
  const boot = currentBoot();
  const r = boot === undefined ? undefined : readMemo(boot)[feature];
  return r && typeof r.errno === "number" && typeof r.reason === "string" ? r : undefined;
}

/** Remembers, until the machine reboots, that this kernel refused `feature`. */
export function rememberRefusal(feature: string, refusal: Refusal): void {
  const boot = currentBoot();
  if (boot === undefined) return;
  try {
    const memo = readMemo(boot);
    memo[feature] = { errno: refusal.errno, reason: refusal.reason };
    writeAtomic(memoPath(boot), `${JSON.stringify(memo)}\n`);
    const dir = cacheSubdir("features");
    for (const f of readdirSync(dir)) {
      if (/^[0-9a-f-]+\.json$/.test(f) && f !== `${boot}.json`) unlinkSync(join(dir, f));
    }
  } catch (err) {
    debug("boot memo: %s", (err as Error).message);
  }
}
