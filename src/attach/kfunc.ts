// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * kfunc / kretfunc (fentry / fexit on BPF trampolines, Linux 5.5+ on x86-64)
 * and BPF LSM programs (Linux 5.7+): what the kernel needs, why it refused,
 * and what to use instead.
 */

import { rememberRefusal } from "../kernel/boot_memo.js";
import { Errno } from "../kernel/constants.js";
import { AttachError, type BpfError, NotSupportedError } from "../kernel/errors.js";
import { lockdownMode, securityfsFile } from "../kernel/features.js";
import { kernelBtf } from "../kernel/kernel_btf.js";
import { closestNames, tracepointExists } from "../kernel/tracefs.js";
import { attachKind } from "./kinds.js";
import { syscallOf } from "./kprobe.js";

/**
 * The trampoline attachments, as tsbpf (and bcc) names them: kfunc (fentry) and
 * kretfunc (fexit) 5.5+; kmod_ret (fmod_ret) and lsm 5.7+.
 */
export type TrampolineKind = "kfunc" | "kretfunc" | "kmod_ret" | "lsm";

/** bcc's MODULE_KFUNC_PROBE target "module__function", split; undefined for any other name. */
export function moduleTarget(target: string): { module: string; fn: string } | undefined {
  const m = /^([A-Za-z0-9_-]+?)__(\w+)$/.exec(target);
  return m ? { module: m[1] as string, fn: m[2] as string } : undefined;
}

/** What to use instead of a kfunc/kretfunc on fn (or an LSM hook): tracepoints (4.7+), tp_btf (5.5+), raw tracepoints (4.17+). */
export function trampolineAlternative(kind: TrampolineKind, target: string): string {
  if (kind === "lsm") {
    return (
      "BPF LSM programs are the only BPF way to refuse an operation; to observe it instead, attach to a " +
      "tracepoint or a BTF tracepoint (tp_btf: BTF_TRACEPOINT_PROBE / attachBtfTracepoint) on the same path"
    );
  }
  if (kind === "kmod_ret") {
    return (
      "the only other way to change a kernel function's return value is bpf_override_return in a kprobe " +
      "(CONFIG_BPF_KPROBE_OVERRIDE, functions on the error-injection list); to observe the function instead, " +
      trampolineAlternative("kretfunc", target)
    );
  }
  const sys = syscallOf(target);
  if (sys !== undefined) {
    const ev = `sys_${kind === "kfunc" ? "enter" : "exit"}_${sys}`;
    let exists = false;
    try {
      exists = tracepointExists("syscalls", ev);
    } catch {
      exists = false;
    }
    const tp = exists ? `tracepoint syscalls:${ev}` : "the syscalls tracepoints";
    return (
      `attach to ${tp} instead (TRACEPOINT_PROBE(syscalls, ${ev}) or attachTracepoint), or to the ` +
      `tp_btf raw tracepoint ${kind === "kfunc" ? "sys_enter" : "sys_exit"} (BTF_TRACEPOINT_PROBE) filtering on the syscall number`
    );
  }
  return (
    `attach to a tracepoint near ${target} instead (list them with BPF.getTracepoints()), as a tp_btf ` +
    "program with typed arguments (BTF_TRACEPOINT_PROBE / attachBtfTracepoint) or a raw tracepoint (RAW_TRACEPOINT_PROBE)"
  );
}

function featureName(kind: TrampolineKind): string {
  return kind === "kfunc"
    ? "kfunc (fentry) programs"
    : kind === "kretfunc"
      ? "kretfunc (fexit) programs"
      : kind === "kmod_ret"
        ? "kmod_ret (fmod_ret) programs"
        : "BPF LSM programs";
}

function programKind(kind: TrampolineKind): string {
  return kind === "kfunc"
    ? "BPF_PROG_TYPE_TRACING programs with expected attach type BPF_TRACE_FENTRY"
    : kind === "kretfunc"
      ? "BPF_PROG_TYPE_TRACING programs with expected attach type BPF_TRACE_FEXIT"
      : kind === "kmod_ret"
        ? "BPF_PROG_TYPE_TRACING programs with expected attach type BPF_MODIFY_RETURN"
        : "BPF_PROG_TYPE_LSM programs (BPF_LSM_MAC)";
}

/**
 * Why a trampoline program was refused with EPERM although this process is
 * root: the kernel's own policy, not a missing capability.
 */
function epermReason(kind: TrampolineKind, stage: "load" | "attach"): string {
  const lockdown = lockdownMode();
  return (
    `the kernel refused to ${stage} ${programKind(kind)} with EPERM ` +
    (stage === "load" ? "before the verifier ran (empty verifier log) " : "") +
    "although this process is root with every capability: a kernel policy forbids BPF trampoline programs " +
    "(fentry/fexit/fmod_ret, freplace, LSM) to this process" +
    (lockdown !== undefined ? ` (kernel lockdown is "${lockdown}", which does not cover them)` : "")
  );
}

/** The feature a refused fentry/fexit is remembered under for this boot (kernel/boot_memo.ts). */
export const TRAMPOLINE_REFUSAL = "trampoline";

/** A kernel's refusal of fentry/fexit, remembered for this boot (tools/lib/hooks.ts then skips fentry). */
function remembered(kind: TrampolineKind, err: NotSupportedError): NotSupportedError {
  if (kind === "kfunc" || kind === "kretfunc")
    rememberRefusal(TRAMPOLINE_REFUSAL, { errno: err.errno ?? 0, reason: err.reason });
  return err;
}

/**
 * The error for a trampoline program (kfunc, kretfunc: Linux 5.5+; LSM: 5.7+) the kernel
 * refused at load or attach, or undefined when errno says something else
 * (the caller then keeps its own error).
 */
export function trampolineRefusal(
  kind: TrampolineKind,
  target: string,
  errno: number | undefined,
  stage: "load" | "attach",
  cause?: unknown,
): BpfError | undefined {
  const E = Errno;
  const feature = featureName(kind);
  const alternative = trampolineAlternative(kind, target);
  const minKernel = attachKind(kind).minKernel;
  if (errno === E.EPERM && process.getuid?.() === 0) {
    return remembered(
      kind,
      new NotSupportedError(feature, epermReason(kind, stage), alternative, { errno, cause, minKernel }),
    );
  }
  if (errno === E.ENOTSUPP || errno === E.EOPNOTSUPP) {
    return remembered(
      kind,
      new NotSupportedError(
        feature,
        `the kernel cannot build BPF trampolines here (${errno === E.ENOTSUPP ? "ENOTSUPP" : "EOPNOTSUPP"} at ${stage}: no JIT support for them on this architecture or kernel, Linux 5.5+ on x86-64, 5.18+ on arm64)`,
        alternative,
        { errno, cause, minKernel },
      ),
    );
  }
  if (errno === E.ESRCH || errno === E.ENOENT) {
    const mod = moduleTarget(target);
    if (mod && kind !== "lsm")
      return new AttachError(
        `${kind} ${target}`,
        `no loaded module ${mod.module} has BTF for ${mod.fn} (MODULE_${kind === "kfunc" ? "KFUNC" : "KRETFUNC"}_PROBE names its function ${kind}__<module>__<function>)`,
        `load the module (modprobe ${mod.module}): its BTF appears at /sys/kernel/btf/${mod.module} on kernels built with CONFIG_DEBUG_INFO_BTF_MODULES (Linux 5.11+)`,
        { errno, cause },
      );
    const what = kind === "lsm" ? `LSM hook ${target}` : `function ${target}`;
    const close = kind === "lsm" ? [] : closestKernelFunctions(target);
    return new AttachError(
      `${kind} ${target}`,
      `this kernel has no ${what} in its BTF`,
      kind === "lsm"
        ? `LSM hooks are named without the bpf_lsm_ prefix (file_open, bprm_check_security, …); ${alternative}`
        : "functions come and go across kernel versions, and a static or inlined one is not in BTF, nor one of a module that is not loaded" +
            (close.length ? `; the closest this kernel has: ${close.join(", ")}` : ""),
      { errno, cause },
    );
  }
  return undefined;
}

/** The error when the "bpf" LSM is not active, so LSM programs (Linux 5.7+) would never run. */
export function lsmInactiveError(hook: string): NotSupportedError {
  return new NotSupportedError(
    "BPF LSM programs",
    `the "bpf" LSM is not active (/sys/kernel/security/lsm: ${securityfsFile("lsm") ?? "?"}), so a program on LSM hook ${hook} would never run`,
    'boot a kernel built with CONFIG_BPF_LSM=y with "bpf" in its lsm= boot parameter (or CONFIG_LSM); ' +
      trampolineAlternative("lsm", hook),
    { minKernel: attachKind("lsm").minKernel },
  );
}

/** The kernel functions in this kernel's BTF whose names are closest to `name`. */
function closestKernelFunctions(name: string): string[] {
  try {
    const names = new Set<string>();
    for (const t of kernelBtf().all()) if (t.kind === "FUNC") names.add(t.name);
    return closestNames(name, [...names], 3);
  } catch {
    return [];
  }
}
