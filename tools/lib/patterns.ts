/**
 * bcc's event-pattern language, shared by stackcount, funccount and
 * funclatency: `func` or `p::func` (kernel functions), `lib:func` or
 * `p:lib:func` (user functions; `c` is libc, a path or an executable in
 * $PATH), `t:cat:event` (tracepoints), `u:lib:probe` (USDT), with `*`
 * wildcards or, with -r, regular expressions. Also what the pattern
 * matches on this machine, one target a probe (so each gets its own BPF
 * cookie), and the error for kernel functions on a kernel without kprobes.
 */
import { BPF, NotSupportedError, USDT } from "../../src/index.js";
import { UsageError } from "./args.js";
import { kallsymsText } from "./hooks.js";

/** A parsed pattern: what kind of event, in which binary, which names. */
export interface EventPattern {
  type: "p" | "t" | "u";
  /** The library or executable (user functions, USDT), "" for the kernel. */
  library: string;
  /** A regular expression over function or "category:event" names. */
  regex: RegExp;
}

/** bcc's pattern grammar: [p:][lib:]func, t:category:event, u:lib:probe; `*` wildcards unless -r. */
export function parsePattern(pattern: string, useRegex: boolean): EventPattern {
  let parts = pattern.split(":");
  if (parts.length === 1) parts = ["p", "", parts[0] as string];
  else if (parts.length === 2) parts = ["p", parts[0] as string, parts[1] as string];
  else if (parts.length === 3) {
    if (parts[0] === "t") parts = ["t", "", `${parts[1]}:${parts[2]}`];
    if (!["p", "t", "u"].includes(parts[0] as string))
      throw new UsageError(`Type must be 'p', 't', or 'u', but got ${parts[0]}`);
  } else throw new UsageError(`Too many ':'-separated components in pattern ${pattern}`);
  const [type, library, name] = parts as [EventPattern["type"], string, string];
  if (name === "") throw new UsageError(`pattern ${pattern}: no function or event name`);
  let source = name;
  if (!useRegex) source = `^${name.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`;
  let regex: RegExp;
  try {
    regex = new RegExp(source);
  } catch (e) {
    throw new UsageError(`pattern ${pattern}: ${(e as Error).message}`);
  }
  return { type, library, regex };
}

/** Whether the pattern names kernel functions (kprobes). */
export function isKernelFunction(p: EventPattern): boolean {
  return p.type === "p" && p.library === "";
}

/** One probe a pattern matched: its display name and where it goes. */
export interface ProbeTarget {
  /** The function ("malloc", "vfs_read") or tracepoint ("sched:sched_switch"). */
  name: string;
  /** User functions: the binary's path and the function's link-time address. */
  path?: string;
  address?: bigint;
}

/** A USDT probe a `u:lib:probe` pattern matched: uprobes on its sites. */
export interface UsdtTarget extends ProbeTarget {
  path: string;
  /** The probe's sites (link-time addresses), a uprobe each. */
  sites: bigint[];
  /** The file offset of its semaphore, counted up by the kernel while attached (undefined: none). */
  semaphoreOffset?: bigint;
}

/**
 * The USDT probes of a binary whose names match, as uprobes on their
 * sites: a site is a nop, so a uprobe there sees the probe fire without
 * the USDT argument machinery a prebuilt counting program has no use for.
 * A probe's semaphore is raised by the kernel while its uprobes are
 * attached (ref_ctr_offset, Linux 4.20+), as bcc's USDT support raises it.
 */
export function usdtTargets(p: EventPattern, pid?: number): UsdtTarget[] {
  const path = resolveLibrary(p.library, pid);
  const u = new USDT({ path });
  return u
    .enumerateProbes()
    .filter((x) => x.path === path && p.regex.test(x.name))
    .map((x) => ({
      name: x.name,
      path,
      sites: u.probeLocations(x.shortName).map((l) => l.address),
      ...(x.semaphore !== 0n ? { semaphoreOffset: x.semaphoreOffset } : {}),
    }));
}

/** bcc's cap on the probes one pattern may open (BCC_PROBE_LIMIT, default 1000). */
export function checkProbeLimit(n: number): void {
  const limit = BPF.getProbeLimit();
  if (n > limit)
    throw new UsageError(
      `maximum of ${limit} probes allowed, attempted ${n} (narrow the pattern, or raise TSBPF_PROBE_LIMIT)`,
    );
}

/** The binary of a user pattern (a library, an executable in $PATH, or a path). */
export function resolveLibrary(library: string, pid?: number): string {
  const path = BPF.findLibrary(library, pid) ?? BPF.findExe(library);
  if (!path) throw new UsageError(`unable to find library ${library}`);
  return path;
}

/**
 * What a user or tracepoint pattern matches, one target a probe. User
 * functions as bcc counts them: a function seen twice, or an address
 * already taken by an alias, is left out (one uprobe an address).
 */
export function userOrTracepointTargets(p: EventPattern, pid?: number): ProbeTarget[] {
  if (p.type === "t") return BPF.getTracepoints(p.regex).map((name) => ({ name }));
  const path = resolveLibrary(p.library, pid);
  const names = new Set<string>();
  const addrs = new Set<bigint>();
  const out: ProbeTarget[] = [];
  for (const f of BPF.getUserFunctionsAndAddresses(path, p.regex)) {
    if (names.has(f.name) || addrs.has(f.address)) continue;
    names.add(f.name);
    addrs.add(f.address);
    out.push({ name: f.name, path, address: f.address });
  }
  return out;
}

// Syscall tracepoints that stand in for a kernel function X: the
// syscall's own entry points (__x64_sys_X, __do_sys_X, …) and the layers
// right under them (vfs_X, ksys_X, do_sys_X, do_X).
const SYSCALL_PREFIX =
  /^(?:__(?:x64|ia32|x32_compat|ia32_compat|arm64|s390x|riscv)_sys_|__do_sys_|__se_sys_|sys_|ksys_|do_sys_|vfs_|do_)/;
// The syscalls people mean first when they trace a family of functions.
const COMMON = ["read", "write", "openat", "open", "close", "pread64", "pwrite64", "readv", "writev"];

let kallsymsNames: string[] | undefined;

/** The kernel's function names (text symbols, no modules), read once; kprobes or not. */
function kernelFunctionNames(): string[] {
  kallsymsNames ??= [
    ...new Set(Array.from(kallsymsText().matchAll(/^[0-9a-f]+ [tT] (\S+)$/gm), (m) => m[1] as string)),
  ];
  return kallsymsNames;
}

/**
 * Tracepoints that see what the kernel functions matching `regex` do: the
 * syscall tracepoints of the syscalls they implement (vfs_read →
 * syscalls:sys_enter_read), then tracepoints whose names hold the
 * pattern's words; common syscalls first.
 */
export function tracepointAlternatives(regex: RegExp): string[] {
  const found = new Set<string>();
  const syscall = (x: string): void => {
    if (BPF.tracepointExists("syscalls", `sys_enter_${x}`)) found.add(`syscalls:sys_enter_${x}`);
  };
  const core = regex.source.replace(/^\^/, "").replace(/\$$/, "");
  for (const fn of kernelFunctionNames().filter((n) => regex.test(n))) {
    if (SYSCALL_PREFIX.test(fn)) syscall(fn.replace(SYSCALL_PREFIX, ""));
  }
  if (found.size === 0 && SYSCALL_PREFIX.test(core)) {
    // the pattern names no function this kernel has: take its syscall part as a prefix
    const rest = new RegExp(`^syscalls:sys_enter_${core.replace(SYSCALL_PREFIX, "")}`);
    for (const tp of BPF.getTracepoints(rest)) found.add(tp);
  }
  const words = core.replace(/\.\*|[\\^$()|?+[\]{}]/g, " ").trim();
  if (words !== "" && !/\s/.test(words)) {
    for (const tp of BPF.getTracepoints(new RegExp(`:.*${words}`))) found.add(tp);
  }
  const rank = (tp: string): number => {
    const i = COMMON.indexOf(tp.replace(/^syscalls:sys_(enter|exit)_/, ""));
    return tp.startsWith("syscalls:") ? (i < 0 ? COMMON.length : i) : COMMON.length + 1;
  };
  return [...found].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * Throws {@link kernelFunctionsNotSupported}'s error when this kernel has no
 * kprobes (what every kernel-function pattern needs).
 */
export function requireKprobes(
  what: string,
  regex: RegExp,
  opts: { asPattern?: boolean; pairs?: boolean; instead?: string } = {},
): void {
  if (BPF.supports("kprobe") !== "yes") throw kernelFunctionsNotSupported(what, regex, opts);
}

/**
 * The error for kernel functions on a kernel without kprobes: the pattern,
 * the reason, and the tracepoints to use instead (as `t:` patterns for
 * tools that take them, else as tracepoint names, with `pairs` a
 * syscall's entry and exit tracepoints together).
 */
export function kernelFunctionsNotSupported(
  what: string,
  regex: RegExp,
  opts: { asPattern?: boolean; pairs?: boolean; instead?: string } = {},
): NotSupportedError {
  const tps = tracepointAlternatives(regex);
  // pairs: a syscall's entry and exit, what a latency is measured between
  const show = (t: string): string =>
    opts.pairs && t.startsWith("syscalls:sys_enter_") ? `${t}/${t.replace(/.*:sys_enter_/, "sys_exit_")}` : t;
  const shown = tps.slice(0, 10).map((t) => (opts.asPattern ? `t:${t}` : show(t)));
  const more = tps.length > shown.length ? `, … (${tps.length - shown.length} more)` : "";
  const instead = opts.instead ?? "trace tracepoints instead";
  return new NotSupportedError(
    what,
    "this kernel has no kprobes (CONFIG_KPROBES is off)",
    shown.length ? `${instead}: ${shown.join(", ")}${more}` : `${instead} (list them with tsbpf tplist)`,
  );
}
