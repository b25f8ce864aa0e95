// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Feature probes. Three-valued, as in cilium/ebpf: a probe answers yes, no, or
 * "could not tell" (e.g. no privileges); only definite answers are cached.
 */
import { existsSync, readFileSync } from "node:fs";
import { type AttachKindName, attachKind } from "../attach/kinds.js";
import { native } from "../native.js";
import { Errno } from "./constants.js";
import { tracefsRoot } from "./tracefs.js";

/** The answer of a feature probe. */
export type Support = "yes" | "no" | "unknown";

const cache = new Map<string, Support>();

function cached(name: string, probe: () => Support): Support {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const answer = probe();
  if (answer !== "unknown") cache.set(name, answer);
  return answer;
}

/** libbpf probe results: 1 yes, 0 no, negative errno: could not tell. */
function fromLibbpf(rc: number): Support {
  return rc === 1 ? "yes" : rc === 0 ? "no" : "unknown";
}

/**
 * kprobes: the kernel has them when it has the kprobe PMU (4.17+) or the
 * legacy kprobe_events file. Kernels built without CONFIG_KPROBES have
 * neither.
 */
export function kprobeSupport(): Support {
  return cached("kprobe", () => {
    if (existsSync("/sys/bus/event_source/devices/kprobe/type")) return "yes";
    try {
      return existsSync(`${tracefsRoot()}/kprobe_events`) ? "yes" : "no";
    } catch {
      return "unknown";
    }
  });
}

/** Why kprobes are missing, for error messages. */
export const KPROBE_MISSING_REASON = "no kprobe PMU and no kprobe_events: CONFIG_KPROBES is off";

/** uprobes: the uprobe PMU (4.17+) or uprobe_events. */
export function uprobeSupport(): Support {
  return cached("uprobe", () => {
    if (existsSync("/sys/bus/event_source/devices/uprobe/type")) return "yes";
    try {
      return existsSync(`${tracefsRoot()}/uprobe_events`) ? "yes" : "no";
    } catch {
      return "unknown";
    }
  });
}

/**
 * Whether this process may use bpf() at all: it can create an array map
 * (every kernel with BPF has them, Linux 3.19+). libbpf's probes answer 0 for any failed
 * load, EPERM included, so their "no" means something only when this is "yes".
 */
export function bpfPrivileged(): Support {
  return cached("privileged", () => fromLibbpf(native().probeMapType(2 /* BPF_MAP_TYPE_ARRAY */)));
}

/** A libbpf "no" that may only mean "not privileged enough" becomes "unknown". */
function unlessUnprivileged(answer: Support): Support {
  return answer === "no" && bpfPrivileged() !== "yes" ? "unknown" : answer;
}

/** A program type (libbpf_probe_bpf_prog_type). */
export function progTypeSupport(progType: number): Support {
  return cached(`prog:${progType}`, () => unlessUnprivileged(fromLibbpf(native().probeProgType(progType))));
}

/** A map type (libbpf_probe_bpf_map_type). */
export function mapTypeSupport(mapType: number): Support {
  return cached(`map:${mapType}`, () => unlessUnprivileged(fromLibbpf(native().probeMapType(mapType))));
}

/** A helper in a program type (libbpf_probe_bpf_helper). */
export function helperSupport(progType: number, helperId: number): Support {
  // libbpf answers "yes" when the probe program cannot load at all (EPERM): only a privileged answer counts.
  return cached(`helper:${progType}:${helperId}`, () =>
    bpfPrivileged() === "yes" ? fromLibbpf(native().probeHelper(progType, helperId)) : "unknown",
  );
}

/** Forget every cached answer (tests). */
export function resetFeatureCache(): void {
  cache.clear();
  btfProbes.clear();
}

// ---- BTF-typed attachments, perf events, securityfs (issue 5) ----

/** Reads a securityfs file (/sys/kernel/security/NAME; Linux 2.6.14+); undefined when securityfs is not mounted. */
export function securityfsFile(name: string): string | undefined {
  try {
    return readFileSync(`/sys/kernel/security/${name}`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** The kernel lockdown mode ("none", "integrity", "confidentiality"; Linux 5.4+), when securityfs tells. */
export function lockdownMode(): string | undefined {
  const text = securityfsFile("lockdown");
  return text === undefined ? undefined : /\[(\w+)\]/.exec(text)?.[1];
}

/**
 * Whether the "bpf" LSM is active (BPF LSM programs only run when it is:
 * CONFIG_BPF_LSM=y and "bpf" in CONFIG_LSM or the lsm= boot parameter), from
 * /sys/kernel/security/lsm; undefined when that cannot be read.
 */
export function bpfLsmActive(): boolean | undefined {
  const text = securityfsFile("lsm");
  return text === undefined ? undefined : text.split(",").includes("bpf");
}

/** Kernel functions an fentry/fexit probe can find in the vmlinux BTF (bpf_fentry_test1 exists for that). */
const FENTRY_PROBE_TARGETS = ["bpf_fentry_test1", "do_sys_openat2", "vfs_read", "ksys_read"];
/**
 * fmod_ret targets for the probe (Linux 5.7+): security_* functions may always have their
 * return modified; bpf_modify_return_test (net/bpf/test_run.c) only with
 * CONFIG_FUNCTION_ERROR_INJECTION, which Debian's 6.1 lacks (EINVAL at load), so it comes second.
 */
const FMOD_RET_PROBE_TARGETS = ["security_file_open", "bpf_modify_return_test"];
/** LSM hooks for the probe (their BTF function is bpf_lsm_<hook>). */
const LSM_PROBE_TARGETS = ["bpf_lsm_file_open", "bpf_lsm_task_alloc", "bpf_lsm_bpf"];
/** tp_btf events for the probe (their BTF typedef is btf_trace_<event>). */
const TP_BTF_PROBE_TARGETS = [
  "btf_trace_sched_switch",
  "btf_trace_sys_enter",
  "btf_trace_sched_process_exec",
];

/** Iterator targets for the probe (their BTF function is bpf_iter_<target>; task and bpf_map since 5.8). */
const ITER_PROBE_TARGETS = ["bpf_iter_task", "bpf_iter_bpf_map"];

/** The BTF-typed attach kinds {@link btfAttachSupport} probes: fentry, fexit, tp_btf 5.5+; fmod_ret, lsm 5.7+; iter 5.8+. */
export type BtfAttachKind = "fentry" | "fexit" | "fmod_ret" | "lsm" | "tp_btf" | "iter";

/** Each probed kind's row of the attach-kind table (its program and attach types). */
const PROBED_KINDS: Record<BtfAttachKind, AttachKindName> = {
  fentry: "kfunc",
  fexit: "kretfunc",
  fmod_ret: "kmod_ret",
  lsm: "lsm",
  tp_btf: "btf_tracepoint",
  iter: "iter",
};

const PROBE_TARGETS: Record<BtfAttachKind, string[]> = {
  fentry: FENTRY_PROBE_TARGETS,
  fexit: FENTRY_PROBE_TARGETS,
  fmod_ret: FMOD_RET_PROBE_TARGETS,
  lsm: LSM_PROBE_TARGETS,
  tp_btf: TP_BTF_PROBE_TARGETS,
  iter: ITER_PROBE_TARGETS,
};

/** What the probe of a BTF attach kind found (for error messages); fentry, fexit, tp_btf 5.5+, lsm 5.7+. */
export interface BtfAttachProbe {
  support: Support;
  /** The errno of the refusal (0 when it worked). */
  errno: number;
  /** Where it was refused: "load" or "attach" ("btf": no kernel BTF or target; "": it worked). */
  stage: "" | "btf" | "load" | "attach";
}

const btfProbes = new Map<BtfAttachKind, BtfAttachProbe>();

/**
 * Loads and attaches a minimal program of that kind (fentry/fexit: 5.5+,
 * tp_btf: 5.5+, lsm: 5.7+), then releases it. Definite answers are cached.
 */
export function btfAttachProbe(kind: BtfAttachKind): BtfAttachProbe {
  const hit = btfProbes.get(kind);
  if (hit) return hit;
  const { progType, expectedAttachType: attachType } = attachKind(PROBED_KINDS[kind]);
  const targets = PROBE_TARGETS[kind];
  let answer: BtfAttachProbe;
  try {
    const r = native().probeBtfAttach(progType, attachType, targets);
    answer = { support: fromLibbpf(r.result), errno: r.errno, stage: r.stage };
    // EPERM/EACCES say something about the kernel only for a process that may use bpf().
    if (
      answer.support === "no" &&
      (r.errno === Errno.EPERM || r.errno === Errno.EACCES) &&
      bpfPrivileged() !== "yes"
    )
      answer = { ...answer, support: "unknown" };
  } catch {
    answer = { support: "unknown", errno: 0, stage: "" };
  }
  if (answer.support !== "unknown") btfProbes.set(kind, answer);
  return answer;
}

/**
 * Can programs of this kind be loaded and attached here? For "lsm", also
 * "no" when the bpf LSM is not active (the program would never run).
 */
export function btfAttachSupport(kind: BtfAttachKind): Support {
  const probe = btfAttachProbe(kind).support;
  if (kind === "lsm" && probe === "yes" && bpfLsmActive() === false) return "no";
  return probe;
}

/**
 * Can perf events of this kind be opened? "hardware": PERF_COUNT_HW_CPU_CYCLES
 * (no PMU in most VMs); "software": PERF_COUNT_SW_CPU_CLOCK. Opened on CPU 0
 * for all processes, then closed.
 */
export function perfEventSupport(kind: "hardware" | "software"): Support {
  return cached(`perf_event:${kind}`, () => {
    try {
      const fd = native().perfEventOpen({
        type: kind === "hardware" ? 0 : 1,
        config: 0,
        samplePeriod: 0,
        sampleFreq: 0,
        pid: -1,
        cpu: 0,
        groupFd: -1,
        disabled: true,
      });
      native().closeFd(fd);
      return "yes";
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      // ENOENT/EOPNOTSUPP/ENODEV: no such event; ENOSYS: no perf_event_open at all.
      if (
        errno === Errno.ENOENT ||
        errno === Errno.EOPNOTSUPP ||
        errno === Errno.ENODEV ||
        errno === Errno.ENOSYS
      )
        return "no";
      return "unknown";
    }
  });
}
