/** Helpers of the tests that start clang (prestart_clang, early_clang). */
import { readFileSync } from "node:fs";
import { type Clang, findClang } from "../src/compile/clang.js";

/** This machine's clang, or why a test that needs one is skipped. */
export function clangOrSkip(): Clang | string {
  try {
    return findClang();
  } catch {
    return "no clang on this machine";
  }
}

/** Whether a process has ended (gone, or a zombie nobody reaped yet). */
export function processEnded(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}
