/**
 * C++ symbol names for stack traces and symbol lookups (bcc demangles by
 * default), demangled by libstdc++'s Itanium C++ ABI demangler through the
 * addon: exactly what c++filt prints, including the clone suffixes
 * (" [clone .constprop.0]").
 */
import { native } from "../native.js";

const memo = new Map<string, string>();
const MEMO_MAX = 50_000;

/**
 * Demangles an Itanium C++ ABI name ("_ZN3foo3barEi" → "foo::bar(int)").
 * Anything else (a C name, or a malformed one) is returned unchanged.
 */
export function demangle(name: string): string {
  if (!name.startsWith("_Z")) return name;
  const hit = memo.get(name);
  if (hit !== undefined) return hit;
  const out = native().demangle(name) ?? name;
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(name, out);
  return out;
}
