// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Turns a failed program load into the error a user can act on: a
 * VerifierError naming the verifier's reason and the user's source line, a
 * PermissionError, or a NotSupportedError for a program type the kernel lacks.
 */
import type { NativeError } from "../native.js";
import { Errno, MapType, mapTypeName } from "./constants.js";
import {
  BpfError,
  isPermissionErrno,
  NotSupportedError,
  permissionErrorFor,
  VerifierError,
} from "./errors.js";
import { lockdownMode, mapTypeSupport } from "./features.js";
import { kernelRelease, missingKernelBtf } from "./kernel_info.js";

/** The verifier's one-line reason: the last line of the log that is not statistics. */
export function verifierReason(log: string): string {
  const lines = log
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  for (let k = lines.length - 1; k >= 0; k--) {
    const l = lines[k] as string;
    if (/^processed \d+ insns/.test(l)) continue;
    if (/^(verification time|stack depth|max_states_per_insn|mark_precise|-- END PROG LOAD LOG --)/.test(l))
      continue;
    if (/^\d+: \(/.test(l)) continue; // an instruction
    if (/^\d+: R\d+/.test(l)) continue; // the registers at an instruction ("0: R1=ctx() R10=fp0")
    if (/^;/.test(l)) continue; // a source line
    if (/^(cur|old) state:/.test(l)) continue; // state dumps printed after "infinite loop detected"
    // register states ("R1_w=scalar()", "from 5 to 7: R0=…"), not messages that
    // start with a register ("R2 min value is negative, either use unsigned…")
    if (
      /^(R\d+(_[a-z]+)?=|from \d+ to \d+|last_idx|frame\d|regs=)/.test(l) &&
      !/invalid|unbounded|not allowed|expected|misaligned/.test(l)
    )
      continue;
    return l;
  }
  return lines[lines.length - 1] ?? "";
}

/**
 * The source line the verifier was at when it failed: the last `; text @ file:line`
 * annotation (kernels since 6.x add "@ file:line"; older ones print only the
 * text, which is then looked up in the user's source).
 */
export function failingSourceLine(
  log: string,
  source?: string,
  translated?: string,
): { line?: number; text?: string } {
  const annotations = log.split("\n").filter((l) => l.startsWith("; "));
  const last = annotations[annotations.length - 1];
  if (last === undefined) return {};
  const m = /^; (.*?)(?: @ ([^:]+):(\d+))?$/.exec(last);
  const text = (m?.[1] ?? last.slice(2)).trim();
  if (m?.[3]) return { line: Number(m[3]), text };
  // Kernels before 6.x print only the text, which is the *translated* line
  // (tsbpf's rewrites keep line numbers, so its index is the user's line).
  for (const src of [translated, source]) {
    if (!src || !text) continue;
    const idx = src.split("\n").findIndex((l) => l.trim() === text);
    if (idx >= 0) return { line: idx + 1, text };
  }
  return { text };
}

/** A hint for verifier reasons users meet often. */
function hintFor(reason: string, license: string | undefined): string | undefined {
  if (/GPL-restricted|GPL-compatible|non-GPL/i.test(reason)) {
    return (
      `the program's license is ${license ? `"${license}"` : "not GPL-compatible"}; ` +
      "GPL-only helpers (bpf_trace_printk, bpf_probe_read*, …) need a GPL-compatible license: " +
      'remove "#define BPF_LICENSE …" (tsbpf defaults to GPL) or set it to GPL'
    );
  }
  if (/invalid mem access '\w*_or_null'/.test(reason)) {
    return "a pointer that may be NULL is dereferenced: check map lookups for NULL before using the value (if (!v) return 0;)";
  }
  if (/invalid mem access '(scalar|inv)'/.test(reason)) {
    // 'scalar' since Linux 5.18, 'inv' before: the register holds a plain number.
    return (
      "a pointer is dereferenced that is a plain number to the verifier (user-space memory, or kernel memory not read through a helper): " +
      "read user memory with bpf_probe_read_user() / bpf_probe_read_user_str(), kernel memory with bpf_probe_read_kernel() (or BPF_CORE_READ)"
    );
  }
  if (/invalid mem access/.test(reason)) {
    return "a pointer is dereferenced that the verifier cannot prove valid: read kernel memory with bpf_probe_read_kernel() (or BPF_CORE_READ), and check map lookups for NULL";
  }
  if (/unknown func/.test(reason)) return "this kernel does not have that helper for this program type";
  if (/invalid bpf_context access/.test(reason)) {
    return "the program reads its context at an offset this hook does not have: was it attached as the right type (kprobe ctx vs tracepoint args)?";
  }
  if (/R\d+ !read_ok/.test(reason))
    return "a register is read before it is written (an uninitialized variable?)";
  if (
    /min value is negative|unbounded memory access|max value is outside of the allowed memory range/.test(
      reason,
    )
  ) {
    return (
      "a size or offset the verifier cannot bound: make it unsigned and clamp it just before the use " +
      "(if (n > MAX) n = MAX;); if the compiler still passes the unclamped register, barrier_var(n) after the clamp keeps the clamped one"
    );
  }
  if (/infinite loop detected|back-edge|unbounded loop/.test(reason)) {
    return "the verifier must see every loop end: give it a constant bound (for (int i = 0; i < N; i++)), or use bpf_loop() on Linux 5.17+";
  }
  return undefined;
}

/** The error to throw for a failed bpf_object__load. */
export function loadError(
  err: NativeError,
  ctx: { program: string; fileName: string; source?: string; translated?: string; license?: string },
): BpfError {
  const log = err.verifierLog ?? "";
  if (isPermissionErrno(err.errno) && log.trim() === "") {
    const perm = permissionErrorFor(`loading BPF program ${ctx.program}`, err.errno);
    if (perm) return perm;
  }
  if (log.trim() !== "") {
    const reason = verifierReason(log);
    const where = failingSourceLine(log, ctx.source, ctx.translated);
    // Line info describes the translated C; the user's own line reads better.
    const userLine = where.line !== undefined ? ctx.source?.split("\n")[where.line - 1]?.trim() : undefined;
    if (userLine) where.text = userLine;
    const at =
      where.line !== undefined
        ? ` at ${ctx.fileName}:${where.line}${where.text ? `: ${where.text}` : ""}`
        : where.text
          ? ` at: ${where.text}`
          : "";
    const hint = hintFor(reason, ctx.license);
    const verr = new VerifierError(
      `the verifier rejected program ${ctx.program}: ${reason}${at}${hint ? `\nhint: ${hint}` : ""}`,
      { program: ctx.program, log, reason, sourceLine: where.line, errno: err.errno },
    );
    return missingHelperError(reason, verr) ?? verr;
  }
  const detail = err.libbpfLog.trim().split("\n").filter(Boolean).slice(-3).join("; ");
  return new BpfError(
    `loading BPF program ${ctx.program} failed: ${err.message}${detail ? ` (${detail})` : ""}`,
    {
      errno: err.errno,
      cause: err,
    },
  );
}

/**
 * A NotSupportedError for helpers the kernel leaves out on purpose, with the
 * verifier's error as its cause: bpf_override_return (error injection) needs
 * CONFIG_BPF_KPROBE_OVERRIDE; bpf_probe_write_user is removed by kernel
 * lockdown. Undefined for other reasons.
 */
export function missingHelperError(reason: string, cause: VerifierError): NotSupportedError | undefined {
  if (/(unknown func|cannot use helper) bpf_override_return#\d+/.test(reason)) {
    return new NotSupportedError(
      "error injection (bpf_override_return)",
      `the kernel was built without CONFIG_BPF_KPROBE_OVERRIDE: the verifier says "${reason}"`,
      "use a kernel with CONFIG_BPF_KPROBE_OVERRIDE=y (it needs CONFIG_KPROBES and CONFIG_FUNCTION_ERROR_INJECTION; " +
        "only functions marked ALLOW_ERROR_INJECTION can be overridden), or refuse the operation from a BPF LSM program " +
        "(LSM_PROBE returning -EPERM) where the bpf LSM is active",
      { errno: cause.errno, cause },
    );
  }
  const lockdown = /bpf_probe_write_user#\d+/.test(reason) ? lockdownMode() : undefined;
  if (lockdown !== undefined && lockdown !== "none") {
    return new NotSupportedError(
      "bpf_probe_write_user",
      `kernel lockdown is "${lockdown}", which removes the helper (the verifier says "${reason}")`,
      "write nothing to user memory from BPF: send the data to user space (BPF_PERF_OUTPUT / BPF_RINGBUF_OUTPUT) and act there",
      { errno: cause.errno, cause },
    );
  }
  return undefined;
}

/**
 * The first Linux version of each map kind that a kernel tsbpf runs on may
 * lack (the older kinds are in every kernel that has BTF).
 */
const MAP_MIN_KERNEL: Readonly<Record<number, string>> = {
  [MapType.DEVMAP]: "4.14",
  [MapType.SOCKMAP]: "4.14",
  [MapType.CPUMAP]: "4.15",
  [MapType.XSKMAP]: "4.18",
  [MapType.SOCKHASH]: "4.18",
  [MapType.CGROUP_STORAGE]: "4.19",
  [MapType.REUSEPORT_SOCKARRAY]: "4.19",
  [MapType.PERCPU_CGROUP_STORAGE]: "4.20",
  [MapType.QUEUE]: "4.20",
  [MapType.STACK]: "4.20",
  [MapType.SK_STORAGE]: "5.2",
  [MapType.DEVMAP_HASH]: "5.4",
  [MapType.STRUCT_OPS]: "5.6",
  [MapType.RINGBUF]: "5.8",
  [MapType.INODE_STORAGE]: "5.10",
  [MapType.TASK_STORAGE]: "5.11",
  [MapType.BLOOM_FILTER]: "5.16",
  [MapType.USER_RINGBUF]: "6.1",
  [MapType.CGRP_STORAGE]: "6.2",
  [MapType.ARENA]: "6.9",
};

/**
 * The typed error for an object that failed to load on what the kernel lacks
 * rather than on the program itself: no kernel BTF for libbpf's CO-RE
 * relocations (a prebuilt object on a kernel without CONFIG_DEBUG_INFO_BTF),
 * or a map kind newer than the kernel (EINVAL creating it, and the kernel's
 * answer to libbpf's probe of the kind is no). Undefined otherwise.
 * mapType: the kind of a map of the object, by name.
 */
export function kernelLacksError(
  err: NativeError,
  mapType: (name: string) => number | undefined,
): NotSupportedError | undefined {
  const log = err.libbpfLog ?? "";
  if (/failed to find valid kernel BTF|Error loading vmlinux BTF/.test(log)) return missingKernelBtf(err);
  const which = /map '([^']+)': failed to create/.exec(log);
  const type = which?.[1] === undefined ? undefined : mapType(which[1]);
  if (type === undefined || err.errno !== Errno.EINVAL || mapTypeSupport(type) !== "no") return undefined;
  const min = MAP_MIN_KERNEL[type];
  return new NotSupportedError(
    `${mapTypeName(type)} maps`,
    `Linux ${kernelRelease()} does not know the map kind (map ${which?.[1]})${min ? `; it came in Linux ${min}` : ""}`,
    min
      ? `run on Linux ${min} or later, or use a map kind this kernel has`
      : "use a map kind this kernel has",
    { errno: err.errno, cause: err, minKernel: min },
  );
}
