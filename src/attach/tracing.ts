// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * BTF-typed programs, loaded for one kernel target each: kfunc/kretfunc
 * (fentry/fexit on BPF trampolines, Linux 5.5+ on x86-64, 5.18+ on arm64),
 * kmod_ret (fmod_ret, 5.7+), LSM (5.7+, with the "bpf" LSM active) and BTF
 * tracepoints (tp_btf, 5.5+). Their program and attach types come from the
 * attach-kind table; refusals become typed errors (kfunc.ts,
 * btf_tracepoint.ts).
 */
import { existsSync } from "node:fs";
import { Errno } from "../kernel/constants.js";
import {
  AttachError,
  BpfError,
  isNativeError,
  isPermissionErrno,
  permissionErrorFor,
  VerifierError,
} from "../kernel/errors.js";
import { bpfLsmActive } from "../kernel/features.js";
import type { LoadedFunction } from "../loader.js";
import { native } from "../native.js";
import { btfTracepointError } from "./btf_tracepoint.js";
import type { AttachContext } from "./context.js";
import { lsmInactiveError, moduleTarget, type TrampolineKind, trampolineRefusal } from "./kfunc.js";
import { attachKind } from "./kinds.js";
import { attachFailure, type Link, nativeLink } from "./link.js";

type BtfKind = TrampolineKind | "btf_tracepoint" | "iter";

/** A kind's own error for the kernel's refusal of its program (undefined: the generic error). */
type Refusal = (
  target: string,
  errno: number | undefined,
  stage: "load" | "attach",
  cause: unknown,
) => BpfError | undefined;

/**
 * The target of a BTF-typed function: from its name (kfunc__fn, lsm__hook,
 * btf_tracepoint__event, as bcc's macros make them) or its libbpf section
 * (fentry/fn, lsm/hook, tp_btf/event).
 */
export function btfTargetOf(ctx: AttachContext, fnName: string, kind: BtfKind): string {
  const info = ctx.loader.info(fnName);
  if (!info) return ctx.loadFunc(fnName, 0).name; // throws the "no function" error
  if (info.autoAttach?.kind === kind) return info.autoAttach.target;
  for (const p of attachKind(kind).sections)
    if (info.section.startsWith(p)) return info.section.slice(p.length);
  const k = attachKind(kind);
  throw new BpfError(
    `${fnName} does not say what to attach to: name it ${k.bccPrefix}TARGET (or use the ${k.bccMacro} macro), or pass target`,
  );
}

/** Loads fnName as a BTF-typed program of `kind` for `target`, turning refusals into typed errors. */
export function loadBtfFunc(
  ctx: AttachContext,
  fnName: string,
  kind: BtfKind,
  target: string,
  refusal?: Refusal,
): LoadedFunction {
  const { progType, expectedAttachType } = attachKind(kind);
  if (!ctx.loader.info(fnName)) return ctx.loadFunc(fnName, progType); // throws the "no function" error
  try {
    return ctx.loader.load(fnName, progType, fnName, expectedAttachType, target);
  } catch (err) {
    // Linux 5.7+: the verifier logs "<fn>() is not modifiable" (neither security_* nor error-injectable).
    const said = err instanceof VerifierError ? err.log : err instanceof Error ? err.message : "";
    if (kind === "kmod_ret" && /is not modifiable/.test(said))
      throw new AttachError(
        `kmod_ret ${target}`,
        `the kernel does not allow changing the return value of ${target}`,
        "fmod_ret works only on security_* functions and, on kernels with CONFIG_FUNCTION_ERROR_INJECTION, " +
          "on functions marked ALLOW_ERROR_INJECTION (listed in /sys/kernel/debug/error_injection/list)",
        { errno: err instanceof BpfError ? err.errno : undefined, cause: err },
      );
    // EPERM with no instruction examined: a policy refused the program, the verifier never judged it.
    const refusedUnread =
      err instanceof VerifierError && err.errno === Errno.EPERM && /processed 0 insns/.test(err.log);
    if (err instanceof VerifierError && !refusedUnread) throw err;
    const errno = isNativeError(err) || err instanceof BpfError ? err.errno : undefined;
    const mapped = refusal
      ? refusal(target, errno, "load", err)
      : kind === "btf_tracepoint"
        ? btfTracepointError(target, errno, "load", err)
        : kind === "iter"
          ? undefined
          : trampolineRefusal(kind, target, errno, "load", err);
    if (mapped) throw mapped;
    if (isNativeError(err) && isPermissionErrno(err.errno))
      throw permissionErrorFor(`loading ${fnName}`, err.errno) ?? err;
    throw err;
  }
}

/**
 * bcc's load_func for BTF-typed programs: a function whose name or section
 * makes it a BTF-typed kind of this program type (kfunc__vfs_read or
 * SEC("fentry/vfs_read") with BPF.TRACING) loads with that kind's attach type
 * and target, as the kernel requires; undefined for every other function.
 */
export function loadBtfFuncByType(
  ctx: AttachContext,
  fnName: string,
  progType: number,
): LoadedFunction | undefined {
  const a = ctx.loader.info(fnName)?.autoAttach;
  if (!a) return undefined;
  const k = attachKind(a.kind);
  if (!k.btfTarget || k.progType !== progType) return undefined;
  return loadBtfFunc(ctx, fnName, a.kind as BtfKind, a.target);
}

/**
 * A kfunc target named module__function (bcc's MODULE_KFUNC_PROBE names its
 * function kfunc__<module>__<function>): the function, when a loaded module
 * of that name publishes BTF (/sys/kernel/btf/<module>, Linux 5.11+), which
 * libbpf searches after vmlinux's; any other target as it is.
 */
export function moduleFunction(target: string): string {
  const m = moduleTarget(target);
  return m && existsSync(`/sys/kernel/btf/${m.module}`) ? m.fn : target;
}

/** Attaches a kfunc, kretfunc, kmod_ret or LSM program to its target through a BPF trampoline. */
export function attachTrampoline(
  ctx: AttachContext,
  kind: TrampolineKind,
  opts: { fnName: string; target?: string },
): Link {
  const target = moduleFunction(opts.target ?? btfTargetOf(ctx, opts.fnName, kind));
  if (kind === "lsm" && bpfLsmActive() === false) throw lsmInactiveError(target);
  const fn = loadBtfFunc(ctx, opts.fnName, kind, target);
  try {
    const link =
      kind === "lsm"
        ? native().attachLsm(fn.object, fn.elfName)
        : native().attachTrace(fn.object, fn.elfName);
    return nativeLink(kind, `${kind}:${target}`, opts.fnName, link);
  } catch (err) {
    throw attachFailure(err, `${kind} ${target}`, (e) =>
      trampolineRefusal(kind, target, e.errno, "attach", e),
    );
  }
}

/** The link key of a trampoline program, for detach calls (from fnName when no target is given). */
export function trampolineKey(
  ctx: AttachContext,
  kind: TrampolineKind,
  opts: { fnName?: string; target?: string },
): string {
  const target = opts.target ?? (opts.fnName === undefined ? undefined : btfTargetOf(ctx, opts.fnName, kind));
  if (target === undefined) throw new BpfError(`detach ${kind} needs fnName or target`);
  return `${kind}:${moduleFunction(target)}`;
}

/** Attaches a tp_btf program to its BTF tracepoint (the event, without its category). */
export function attachBtfTracepoint(ctx: AttachContext, opts: { tp?: string; fnName: string }): Link {
  const tp = opts.tp ?? btfTargetOf(ctx, opts.fnName, "btf_tracepoint");
  const fn = loadBtfFunc(ctx, opts.fnName, "btf_tracepoint", tp);
  try {
    return nativeLink("btf_tracepoint", tp, opts.fnName, native().attachTrace(fn.object, fn.elfName));
  } catch (err) {
    throw attachFailure(err, `BTF tracepoint ${tp}`, (e) => btfTracepointError(tp, e.errno, "attach", e));
  }
}
