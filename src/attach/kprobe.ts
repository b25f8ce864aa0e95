/**
 * kprobes and kretprobes: what the kernel needs, and the error when it lacks it.
 */
import { existsSync, readFileSync } from "node:fs";
import { AttachError, NotSupportedError } from "../kernel/errors.js";
import { btfAttachSupport, KPROBE_MISSING_REASON } from "../kernel/features.js";
import { kernelBtf } from "../kernel/kernel_btf.js";
import { syscallPrefix } from "../kernel/kernel_info.js";
import { tracefsPath, tracepointExists } from "../kernel/tracefs.js";

/** The syscall a kernel function implements ("__x64_sys_execve" → "execve"), if it is one. */
export function syscallOf(fn: string): string | undefined {
  const m = /^(?:__x64_sys_|__ia32_sys_|__arm64_sys_|__s390x_sys_|__se_sys_|__do_sys_|ksys_|sys_)(\w+)$/.exec(
    fn,
  );
  return m?.[1];
}

/**
 * The NotSupportedError for a kprobe on a kernel without kprobes, naming what
 * can stand in: the syscall's tracepoint when the target is a syscall;
 * otherwise a kfunc/kretfunc (fentry/fexit: typed arguments, cheaper than a
 * kprobe) when this kernel runs them and its BTF has the function, or else
 * a (BTF) tracepoint.
 */
export function kprobeNotSupported(event: string, retprobe: boolean): NotSupportedError {
  const feature = retprobe ? "kretprobes" : "kprobes";
  const sys = syscallOf(event);
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
    // Some kernels refuse to read the ftrace function list (EPERM even for
    // root, as on this project's 6.18 machine): fall back to the text symbols
    // of /proc/kallsyms, which is what kprobes resolve against anyway.
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
  if (errno === 2 /* ENOENT */ || errno === 22 /* EINVAL */) {
    const sys = syscallOf(event) === undefined ? undefined : event;
    const maybeSyscall =
      sys === undefined && /^(execve|open|openat|read|write|clone|connect|accept|close)$/.test(event);
    return new AttachError(
      what,
      `no traceable kernel function "${event}"`,
      maybeSyscall
        ? `syscall functions are named "${syscallPrefix()}${event}" on this kernel: use getSyscallFnname("${event}")`
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
