// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * kprobes and kretprobes (Linux 4.1+; the fd-based kprobe PMU 4.17+): attaching,
 * what the kernel needs, and the error when it lacks it.
 */
import { existsSync, readFileSync } from "node:fs";
import { sectionBytes } from "../compile/disasm.js";
import { Errno, HelperId, ProgType } from "../kernel/constants.js";
import { AttachError, BpfError, isNativeError, NotSupportedError } from "../kernel/errors.js";
import { btfAttachSupport, KPROBE_MISSING_REASON, kprobeSupport } from "../kernel/features.js";
import { ksymname } from "../kernel/kallsyms.js";
import { kernelBtf } from "../kernel/kernel_btf.js";
import { syscallPrefix } from "../kernel/kernel_info.js";
import { tracefsPath, tracepointExists } from "../kernel/tracefs.js";
import { native } from "../native.js";
import type { AttachContext } from "./context.js";
import { attachKretprobeMaxactive } from "./kprobe_events.js";
import { attachFailure, type Link, nativeLink } from "./link.js";
import { checkProbeQuota } from "./quota.js";

/** The syscall a kernel function implements ("__x64_sys_execve" → "execve"), if it is one. */
export function syscallOf(fn: string): string | undefined {
  const m = /^(?:__x64_sys_|__ia32_sys_|__arm64_sys_|__s390x_sys_|__se_sys_|__do_sys_|ksys_|sys_)(\w+)$/.exec(
    fn,
  );
  return m?.[1];
}

/**
 * When `event` is the bare name of a syscall ("execve") rather than a kernel
 * function, the function that implements it on this kernel
 * ("__x64_sys_execve" on x86-64 since 4.17): bcc's `kprobe__execve` attaches
 * to nothing. Known when the tracepoint syscalls:sys_enter_<event> exists or,
 * with `kallsymsToo`, when kallsyms has the function (that reads
 * /proc/kallsyms, tens of milliseconds: for error paths only). Undefined
 * when `event` already names a syscall function or no such syscall is found.
 */
export function syscallFunctionFor(event: string, kallsymsToo: boolean): string | undefined {
  if (!/^[a-z_]\w*$/.test(event) || syscallOf(event) !== undefined) return undefined;
  const fn = syscallPrefix() + event;
  try {
    if (tracepointExists("syscalls", `sys_enter_${event}`)) return fn;
  } catch {
    // no tracefs: try kallsyms
  }
  if (!kallsymsToo) return undefined;
  try {
    return ksymname(event) === undefined && ksymname(fn) !== undefined ? fn : undefined;
  } catch {
    return undefined;
  }
}

/** What to write instead of a kprobe on a syscall's bare name (see {@link syscallFunctionFor}). */
function syscallNameHint(event: string, fn: string, retprobe: boolean): string {
  const prefix = retprobe ? "kretprobe__" : "kprobe__";
  return (
    `there is no kernel function "${event}": the ${event} syscall is "${fn}" on this kernel ` +
    `(name the function ${prefix}sys_${event}, or pass getSyscallFnname("${event}") to ${retprobe ? "attachKretprobe" : "attachKprobe"})`
  );
}

/**
 * The NotSupportedError for a kprobe on a kernel without kprobes, naming what
 * can stand in: the syscall's tracepoint when the target is a syscall (and
 * the real syscall function when the target is a syscall's bare name, as in
 * bcc's `kprobe__execve`); otherwise a kfunc/kretfunc (fentry/fexit: typed
 * arguments, cheaper than a kprobe) when this kernel runs them and its BTF
 * has the function, or else a (BTF) tracepoint.
 */
export function kprobeNotSupported(event: string, retprobe: boolean): NotSupportedError {
  const feature = retprobe ? "kretprobes" : "kprobes";
  const bareSyscall = syscallFunctionFor(event, false);
  const sys = syscallOf(event) ?? (bareSyscall === undefined ? undefined : event);
  let alternative = `attach to a tracepoint instead (list them with "tsbpf tplist"; a BTF tracepoint, BTF_TRACEPOINT_PROBE, gives typed arguments), or use a kernel with CONFIG_KPROBES=y`;
  if (sys === undefined && kfuncCanStandIn(event, retprobe)) {
    const macro = retprobe ? "KRETFUNC_PROBE" : "KFUNC_PROBE";
    alternative = `attach ${macro}(${event}, typed arguments…) instead (${retprobe ? "fexit" : "fentry"}, which this kernel runs: typed arguments, cheaper than a kprobe)`;
  }
  if (sys !== undefined) {
    const tp = `syscalls:sys_${retprobe ? "exit" : "enter"}_${sys}`;
    let exists = false;
    try {
      exists = tracepointExists("syscalls", `sys_${retprobe ? "exit" : "enter"}_${sys}`);
    } catch {
      exists = false;
    }
    if (exists) alternative = `attach to tracepoint ${tp} instead`;
  }
  if (bareSyscall !== undefined)
    alternative = `${syscallNameHint(event, bareSyscall, retprobe)}; without kprobes, ${alternative}`;
  return new NotSupportedError(feature, KPROBE_MISSING_REASON, alternative);
}

/** Whether a kfunc/kretfunc on fn would work here: fentry/fexit load, and fn is in the kernel's BTF. */
function kfuncCanStandIn(fn: string, retprobe: boolean): boolean {
  if (btfAttachSupport(retprobe ? "fexit" : "fentry") !== "yes") return false;
  try {
    return kernelBtf().findByName(fn, "FUNC") !== undefined;
  } catch {
    return false;
  }
}

/** Kernel functions that can be kprobed, matching re (bcc's get_kprobe_functions). */
export function kprobeFunctions(re: RegExp): string[] {
  let text = "";
  try {
    text = readFileSync(tracefsPath("available_filter_functions"), "utf8");
  } catch {
    // The ftrace function list can be unreadable (no CONFIG_FUNCTION_TRACER,
    // or EPERM even for root under a security policy): fall back to the text
    // symbols of /proc/kallsyms, which is what kprobes resolve against anyway.
    text = kallsymsFunctions();
  }
  const blacklist = new Set<string>();
  const bl = "/sys/kernel/debug/kprobes/blacklist";
  if (existsSync(bl)) {
    for (const l of readFileSync(bl, "utf8").split("\n")) {
      const name = l.trim().split(/\s+/)[1];
      if (name) blacklist.add(name);
    }
  }
  const out = new Set<string>();
  let inInitSection = false;
  for (const line of text.split("\n")) {
    const fn = line.split(" ")[0];
    if (!fn) continue;
    // Functions between these markers are discarded after boot.
    if (fn === "__init_begin") inInitSection = true;
    if (fn === "__init_end") inInitSection = false;
    if (inInitSection || fn.startsWith("_kbl_addr_") || fn.startsWith("__perf") || fn.startsWith("perf_"))
      continue;
    if (blacklist.has(fn)) continue;
    if (re.test(fn)) out.add(fn);
  }
  return [...out];
}

/** The AttachError for a failed kprobe attach, with the hint that fits the errno. */
export function kprobeAttachError(
  event: string,
  errno: number,
  retprobe: boolean,
  cause: unknown,
): AttachError {
  const what = `${retprobe ? "kretprobe" : "kprobe"} ${event}`;
  if (errno === Errno.ENOENT || errno === Errno.EINVAL) {
    const fn = syscallFunctionFor(event, true);
    return new AttachError(
      what,
      `no traceable kernel function "${event}"`,
      fn !== undefined
        ? syscallNameHint(event, fn, retprobe)
        : "it may not exist, be inlined, or be marked notrace",
      { errno, cause },
    );
  }
  return new AttachError(what, (cause as Error).message, undefined, { errno, cause });
}

/** Names of the kernel's text symbols (t/T in /proc/kallsyms), one a line. */
function kallsymsFunctions(): string {
  const out: string[] = [];
  let text = "";
  try {
    text = readFileSync("/proc/kallsyms", "utf8");
  } catch {
    return "";
  }
  for (const line of text.split("\n")) {
    const [, type, name, mod] = line.split(/\s+/);
    if ((type === "t" || type === "T") && name && mod === undefined) out.push(name);
  }
  return out.join("\n");
}

/** Whether BPF instructions (8 bytes each, as compiled) call helper `id`. */
function callsHelper(insns: Uint8Array, id: number): boolean {
  const view = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  for (let off = 0; off + 8 <= insns.byteLength; off += 8) {
    // BPF_JMP | BPF_CALL with src_reg 0: a helper call, its id in imm.
    if (
      view.getUint8(off) === 0x85 &&
      (view.getUint8(off + 1) & 0xf0) === 0 &&
      view.getInt32(off + 4, true) === id
    )
      return true;
  }
  return false;
}

/** Options of attachKprobe / attachKretprobe (bcc's attach_kprobe). */
export interface KprobeOptions {
  /** The kernel function. */
  event?: string;
  /** Every kprobe-able function matching (instead of event). */
  eventRe?: RegExp | string;
  /** Bytes past the function's start (kprobe only). */
  eventOff?: number;
  /** What bpf_get_attach_cookie() returns in the program (Linux 5.15+). */
  cookie?: number | bigint;
  /**
   * kretprobe only: calls that may be in flight at once before returns go
   * uncounted (the kernel's default is about twice the CPUs); through
   * tracefs' kprobe_events (Linux 4.12+), as bcc does.
   */
  maxactive?: number;
  fnName: string;
}

/**
 * Attaches fnName to kernel functions' entries (or returns): one link per
 * function, through the kprobe PMU (Linux 4.17+), which leaves nothing in
 * tracefs; libbpf falls back to kprobe_events before.
 */
export function attachKprobes(ctx: AttachContext, opts: KprobeOptions, retprobe: boolean): Link[] {
  const events =
    opts.eventRe !== undefined
      ? kprobeFunctions(typeof opts.eventRe === "string" ? new RegExp(opts.eventRe) : opts.eventRe)
      : opts.event !== undefined
        ? [opts.event]
        : undefined;
  if (events === undefined)
    throw new BpfError(`attach${retprobe ? "Kretprobe" : "Kprobe"} needs event or eventRe`);
  if (kprobeSupport() === "no") {
    // bcc loads the function before it attaches. For a function that calls
    // bpf_override_return, the load's error (no error injection in this
    // kernel) is the one that matters: no tracepoint can stand in for it.
    // (A program compiled here calls the helper by its name; the object's
    // instructions are read only then, or for a prebuilt object.)
    const { translated } = ctx.compiled;
    const info =
      (translated === "" || translated.includes("override_return")) && ctx.loader.info(opts.fnName);
    if (info && callsHelper(sectionBytes(ctx.compiled.elf, info.section), HelperId.OVERRIDE_RETURN))
      ctx.loadFunc(opts.fnName, ProgType.KPROBE);
    throw kprobeNotSupported(events[0] ?? opts.fnName, retprobe);
  }
  if (events.length === 0)
    throw new AttachError(`kprobes matching ${String(opts.eventRe)}`, "no kernel function matches");
  if (opts.eventRe !== undefined)
    checkProbeQuota(`kprobes matching ${String(opts.eventRe)}`, events.length, ctx.openProbes());
  const fn = ctx.loadFunc(opts.fnName, ProgType.KPROBE);
  const links: Link[] = [];
  const maxactive = retprobe ? (opts.maxactive ?? 0) : 0;
  if (!Number.isInteger(maxactive) || maxactive < 0)
    throw new BpfError(`maxactive must be a non-negative integer, not ${String(opts.maxactive)}`);
  for (const event of events) {
    try {
      const link =
        maxactive > 0
          ? attachKretprobeMaxactive(fn, event, maxactive)
          : native().attachKprobe(fn.object, fn.elfName, {
              cookie: opts.cookie ?? 0,
              func: event,
              offset: opts.eventOff ?? 0,
              retprobe,
            });
      links.push(
        nativeLink(retprobe ? "kretprobe" : "kprobe", `${retprobe ? "r" : "p"}:${event}`, opts.fnName, link),
      );
    } catch (err) {
      for (const l of links) l.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (!isNativeError(err) && (code === "ENOENT" || code === "EINVAL"))
        // kprobe_events refuses a function that cannot be probed.
        throw new AttachError(
          `kretprobe ${event}`,
          `kprobe_events refused it (${code})`,
          "check the name with BPF.getKprobeFunctions",
          { cause: err },
        );
      throw attachFailure(err, event, (e) => kprobeAttachError(event, e.errno, retprobe, e));
    }
  }
  return links;
}
