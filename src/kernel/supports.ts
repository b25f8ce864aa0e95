/**
 * BPF.supports(feature): one three-valued answer ("yes" | "no" | "unknown")
 * for program types, map types, attach kinds and helpers, by name. Answers
 * come from src/kernel/features.ts, which caches only definite ones.
 */
import type { BtfEnum, BtfEnum64 } from "../btf/btf.js";
import { BpfError } from "./errors.js";
import {
  btfAttachProbe,
  btfAttachSupport,
  helperSupport,
  kprobeSupport,
  mapTypeSupport,
  perfEventSupport,
  progTypeSupport,
  type Support,
  uprobeSupport,
} from "./features.js";
import { kernelBtf } from "./kernel_btf.js";
import { tracefsRoot } from "./tracefs.js";

/** enum bpf_prog_type (uapi/linux/bpf.h), lower case without BPF_PROG_TYPE_. */
const PROG_TYPES: Record<string, number> = {
  socket_filter: 1,
  kprobe: 2,
  sched_cls: 3,
  sched_act: 4,
  tracepoint: 5,
  xdp: 6,
  perf_event: 7,
  cgroup_skb: 8,
  cgroup_sock: 9,
  lwt_in: 10,
  lwt_out: 11,
  lwt_xmit: 12,
  sock_ops: 13,
  sk_skb: 14,
  cgroup_device: 15,
  sk_msg: 16,
  raw_tracepoint: 17,
  cgroup_sock_addr: 18,
  lwt_seg6local: 19,
  lirc_mode2: 20,
  sk_reuseport: 21,
  flow_dissector: 22,
  cgroup_sysctl: 23,
  raw_tracepoint_writable: 24,
  cgroup_sockopt: 25,
  tracing: 26,
  struct_ops: 27,
  ext: 28,
  lsm: 29,
  sk_lookup: 30,
  syscall: 31,
  netfilter: 32,
};

/** enum bpf_map_type (uapi/linux/bpf.h), lower case without BPF_MAP_TYPE_. */
const MAP_TYPES: Record<string, number> = {
  hash: 1,
  array: 2,
  prog_array: 3,
  perf_event_array: 4,
  percpu_hash: 5,
  percpu_array: 6,
  stack_trace: 7,
  cgroup_array: 8,
  lru_hash: 9,
  lru_percpu_hash: 10,
  lpm_trie: 11,
  array_of_maps: 12,
  hash_of_maps: 13,
  devmap: 14,
  sockmap: 15,
  cpumap: 16,
  xskmap: 17,
  sockhash: 18,
  cgroup_storage: 19,
  reuseport_sockarray: 20,
  percpu_cgroup_storage: 21,
  queue: 22,
  stack: 23,
  sk_storage: 24,
  devmap_hash: 25,
  struct_ops: 26,
  ringbuf: 27,
  inode_storage: 28,
  task_storage: 29,
  bloom_filter: 30,
  user_ringbuf: 31,
  cgrp_storage: 32,
  arena: 33,
};

/** Attach kinds, each with the probe that answers it. */
const ATTACH_KINDS: Record<string, () => Support> = {
  kprobe: kprobeSupport,
  kretprobe: kprobeSupport,
  uprobe: uprobeSupport,
  uretprobe: uprobeSupport,
  tracepoint: () => {
    const prog = progTypeSupport(PROG_TYPES.tracepoint as number);
    if (prog !== "yes") return prog;
    try {
      tracefsRoot();
      return "yes";
    } catch {
      return "unknown";
    }
  },
  raw_tracepoint: () => progTypeSupport(PROG_TYPES.raw_tracepoint as number),
  tp_btf: () => btfAttachSupport("tp_btf"),
  fentry: () => btfAttachSupport("fentry"),
  fexit: () => btfAttachSupport("fexit"),
  kfunc: () => btfAttachSupport("fentry"),
  kretfunc: () => btfAttachSupport("fexit"),
  fmod_ret: () => btfAttachSupport("fmod_ret"),
  kmod_ret: () => btfAttachSupport("fmod_ret"),
  lsm: () => btfAttachSupport("lsm"),
  perf_event: () => progTypeSupport(PROG_TYPES.perf_event as number),
  "perf_event:software": () =>
    both(progTypeSupport(PROG_TYPES.perf_event as number), perfEventSupport("software")),
  "perf_event:hardware": () =>
    both(progTypeSupport(PROG_TYPES.perf_event as number), perfEventSupport("hardware")),
  xdp: () => progTypeSupport(PROG_TYPES.xdp as number),
  socket_filter: () => progTypeSupport(PROG_TYPES.socket_filter as number),
  ringbuf: () => mapTypeSupport(MAP_TYPES.ringbuf as number),
  override_return: () => helperSupport(PROG_TYPES.kprobe as number, 58),
};

/** "yes" only when both are; "no" when either is. */
function both(a: Support, b: Support): Support {
  if (a === "no" || b === "no") return "no";
  return a === "yes" && b === "yes" ? "yes" : "unknown";
}

/** "yes" when either is; "no" when both are. */
function either(a: Support, b: Support): Support {
  if (a === "yes" || b === "yes") return "yes";
  return a === "no" && b === "no" ? "no" : "unknown";
}

/** Helper name → id, from the kernel's own enum bpf_func_id (its BTF); undefined when there is no BTF. */
let helperIds: Map<string, number> | undefined;
function helperId(name: string): number | "absent" | undefined {
  if (helperIds === undefined) {
    let btf: ReturnType<typeof kernelBtf>;
    try {
      btf = kernelBtf();
    } catch {
      return undefined;
    }
    helperIds = new Map();
    for (const id of [
      ...btf.findAllByName("bpf_func_id", "ENUM"),
      ...btf.findAllByName("bpf_func_id", "ENUM64"),
    ]) {
      for (const v of (btf.type(id) as BtfEnum | BtfEnum64).values) {
        if (v.name.startsWith("BPF_FUNC_") && v.name !== "__BPF_FUNC_MAX_ID")
          helperIds.set(`bpf_${v.name.slice(9)}`, Number(v.value));
      }
    }
  }
  const n = name.startsWith("bpf_") ? name : `bpf_${name}`;
  return helperIds.get(n) ?? "absent";
}

/** The feature names {@link supports} knows (helpers and types as patterns). Any kernel. */
export function featureNames(): string[] {
  return [
    ...Object.keys(ATTACH_KINDS),
    ...Object.keys(PROG_TYPES).map((p) => `prog:${p}`),
    ...Object.keys(MAP_TYPES).map((m) => `map:${m}`),
    "helper:<name>[@<prog type>]",
  ];
}

/**
 * Whether the running kernel supports a feature: "yes", "no", or "unknown"
 * when it could not tell (e.g. not privileged enough to probe). Names:
 * - attach kinds: kprobe, kretprobe, uprobe, uretprobe, tracepoint,
 *   raw_tracepoint, tp_btf, fentry (kfunc), fexit (kretfunc), lsm,
 *   perf_event, perf_event:software, perf_event:hardware, xdp,
 *   socket_filter, ringbuf, override_return;
 * - "prog:TYPE" (prog:xdp, prog:tracing, …) and "map:TYPE" (map:ringbuf,
 *   map:lpm_trie, …): bpf_prog_type / bpf_map_type names in lower case;
 * - "helper:NAME" (helper:bpf_probe_read_kernel), for a kprobe program, or
 *   "helper:NAME@TYPE" for another program type (helper:bpf_xdp_adjust_head@xdp).
 * Any kernel: features it lacks answer "no" (helper names come from the
 * kernel's BTF, Linux 5.2+ with CONFIG_DEBUG_INFO_BTF; "unknown" without it).
 * @throws BpfError for a name it does not know.
 */
export function supports(feature: string): Support {
  const f = feature.trim().toLowerCase();
  const attach = ATTACH_KINDS[f];
  if (attach) return attach();
  const m = /^(prog|map|helper):([\w]+)(?:@(\w+))?$/.exec(f);
  if (m) {
    const [, kind, name, on] = m as unknown as [string, string, string, string | undefined];
    if (kind === "prog" && on === undefined) {
      // libbpf probes these with fentry / LSM programs, which a kernel may refuse while
      // loading others of the type (tp_btf): a working BTF attachment also says yes.
      if (name === "tracing")
        return either(btfAttachSupport("tp_btf"), progTypeSupport(PROG_TYPES.tracing as number));
      if (name === "lsm")
        return either(btfAttachProbe("lsm").support, progTypeSupport(PROG_TYPES.lsm as number));
      const t = PROG_TYPES[name];
      if (t !== undefined) return progTypeSupport(t);
    } else if (kind === "map" && on === undefined) {
      const t = MAP_TYPES[name];
      if (t !== undefined) return mapTypeSupport(t);
    } else if (kind === "helper") {
      const progType = PROG_TYPES[on ?? "kprobe"];
      if (progType === undefined) throw new BpfError(`supports("${feature}"): unknown program type "${on}"`);
      const id = helperId(name);
      if (id === undefined) return "unknown";
      if (id === "absent") return "no"; // the kernel's own list of helpers does not have it
      return helperSupport(progType, id);
    }
  }
  throw new BpfError(`supports("${feature}"): unknown feature; known: ${featureNames().join(", ")}`);
}
