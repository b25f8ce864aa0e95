/**
 * Feature probes. Three-valued, as in cilium/ebpf: a probe answers yes, no, or
 * "could not tell" (e.g. no privileges); only definite answers are cached.
 */
import { existsSync } from "node:fs";
import { native } from "../native.js";
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

/** bpf_prog_type values (uapi/linux/bpf.h). */
export const ProgType = {
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  CGROUP_SOCK: 9,
  LWT_IN: 10,
  LWT_OUT: 11,
  LWT_XMIT: 12,
  SOCK_OPS: 13,
  SK_SKB: 14,
  CGROUP_DEVICE: 15,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  TRACING: 26,
  LSM: 29,
} as const;

/**
 * kprobes: the kernel has them when it has the kprobe PMU (4.17+) or the
 * legacy kprobe_events file. Kernels built without CONFIG_KPROBES (like
 * this project's 6.18 development machine) have neither.
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

/** A program type (libbpf_probe_bpf_prog_type). */
export function progTypeSupport(progType: number): Support {
  return cached(`prog:${progType}`, () => fromLibbpf(native().probeProgType(progType)));
}

/** A map type (libbpf_probe_bpf_map_type). */
export function mapTypeSupport(mapType: number): Support {
  return cached(`map:${mapType}`, () => fromLibbpf(native().probeMapType(mapType)));
}

/** A helper in a program type (libbpf_probe_bpf_helper). */
export function helperSupport(progType: number, helperId: number): Support {
  return cached(`helper:${progType}:${helperId}`, () => fromLibbpf(native().probeHelper(progType, helperId)));
}

/** Forget every cached answer (tests). */
export function resetFeatureCache(): void {
  cache.clear();
}
