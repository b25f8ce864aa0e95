// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * BPF.supports(feature): one three-valued answer ("yes" | "no" | "unknown")
 * for program types, map types, attach kinds and helpers, by name. Answers
 * come from src/kernel/features.ts, which caches only definite ones.
 */
import type { BtfEnum, BtfEnum64 } from "../btf/btf.js";
import { HelperId, lowerCaseNames, MapType, ProgType } from "./constants.js";
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

/** enum bpf_prog_type and bpf_map_type, lower case without BPF_PROG_TYPE_ / BPF_MAP_TYPE_. */
const PROG_TYPES = lowerCaseNames(ProgType);
const MAP_TYPES = lowerCaseNames(MapType);

/** Attach kinds (and their aliases), each with the probe that answers it. */
const ATTACH_PROBES: Record<string, () => Support> = {
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
  iter: () => btfAttachSupport("iter"),
  perf_event: () => progTypeSupport(PROG_TYPES.perf_event as number),
  "perf_event:software": () =>
    both(progTypeSupport(PROG_TYPES.perf_event as number), perfEventSupport("software")),
  "perf_event:hardware": () =>
    both(progTypeSupport(PROG_TYPES.perf_event as number), perfEventSupport("hardware")),
  xdp: () => progTypeSupport(PROG_TYPES.xdp as number),
  cgroup_skb: () => progTypeSupport(ProgType.CGROUP_SKB),
  cgroup_sock: () => progTypeSupport(ProgType.CGROUP_SOCK),
  cgroup_sock_addr: () => progTypeSupport(ProgType.CGROUP_SOCK_ADDR),
  cgroup_sockopt: () => progTypeSupport(ProgType.CGROUP_SOCKOPT),
  cgroup_sysctl: () => progTypeSupport(ProgType.CGROUP_SYSCTL),
  cgroup_device: () => progTypeSupport(ProgType.CGROUP_DEVICE),
  sock_ops: () => progTypeSupport(ProgType.SOCK_OPS),
  sk_skb: () => progTypeSupport(ProgType.SK_SKB),
  sk_msg: () => progTypeSupport(ProgType.SK_MSG),
  socket_filter: () => progTypeSupport(PROG_TYPES.socket_filter as number),
  ringbuf: () => mapTypeSupport(MAP_TYPES.ringbuf as number),
  override_return: () => helperSupport(ProgType.KPROBE, HelperId.OVERRIDE_RETURN),
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
    ...Object.keys(ATTACH_PROBES),
    ...Object.keys(PROG_TYPES).map((p) => `prog:${p}`),
    ...Object.keys(MAP_TYPES).map((m) => `map:${m}`),
    "helper:<name>[@<prog type>]",
  ];
}

/**
 * Whether the running kernel supports a feature: "yes", "no", or "unknown"
 * when it could not tell (e.g. not privileged enough to probe). Names:
 * - attach kinds: kprobe, kretprobe, uprobe, uretprobe, tracepoint,
 *   raw_tracepoint, tp_btf, fentry (kfunc), fexit (kretfunc), lsm, iter,
 *   perf_event, perf_event:software, perf_event:hardware, xdp,
 *   socket_filter, cgroup_skb, cgroup_sock, cgroup_sock_addr, cgroup_sockopt,
 *   cgroup_sysctl, cgroup_device, sock_ops, sk_skb, sk_msg, ringbuf, override_return;
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
  const attach = ATTACH_PROBES[f];
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
