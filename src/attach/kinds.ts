// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Every attach kind tsbpf knows, in one table (in the spirit of libbpf's
 * section definitions): the program type and expected attach type a function
 * is loaded as, the libbpf section prefixes and bcc name prefix or macro that
 * select it, the oldest kernel that has it and the feature name
 * BPF.supports() answers for it. The rewriter's auto-attach names, the BTF
 * target of a trampoline function, libbpf-style auto-attach by section and
 * the feature probes all read it; each hook's module (kprobe.ts,
 * tracepoint.ts, …) does the attaching.
 */
import { AttachType, ProgType } from "../kernel/constants.js";

export type AttachKindName =
  | "kprobe"
  | "kretprobe"
  | "uprobe"
  | "uretprobe"
  | "usdt"
  | "tracepoint"
  | "raw_tracepoint"
  | "btf_tracepoint"
  | "kfunc"
  | "kretfunc"
  | "kmod_ret"
  | "lsm"
  | "iter"
  | "cgroup_skb"
  | "cgroup_sock"
  | "cgroup_sock_addr"
  | "cgroup_sockopt"
  | "cgroup_sysctl"
  | "cgroup_device"
  | "sock_ops"
  | "sk_skb"
  | "sk_msg"
  | "perf_event"
  | "xdp"
  | "socket_filter";

export interface AttachKind {
  name: AttachKindName;
  /** enum bpf_prog_type the function is loaded as. */
  progType: number;
  /** enum bpf_attach_type it is loaded with (0 when the kind has none). */
  expectedAttachType: number;
  /** libbpf's section names: "prefix/" followed by the target, or a bare name. */
  sections: readonly string[];
  /** bcc's function-name prefix that attaches at load ("kprobe__" + target). */
  bccPrefix?: string;
  /** bcc's macro that defines such a function (TRACEPOINT_PROBE(cat, ev), KFUNC_PROBE(fn, …)). */
  bccMacro?: string;
  /** The oldest kernel that has it. */
  minKernel: string;
  /** BPF.supports() name. */
  feature: string;
  /** Whether the target is a kernel BTF name (trampolines and tp_btf: loaded with it). */
  btfTarget?: boolean;
  /** Whether a function whose section names a target ("prefix/target") attaches at load, as libbpf's auto-attach does. */
  sectionAttaches?: boolean;
  /**
   * For kinds attached to a cgroup or a socket map: the attach type each of
   * the kind's sections names ("cgroup/connect4" → BPF_CGROUP_INET4_CONNECT),
   * which is also the expected attach type the program is loaded with.
   */
  attachTypes?: Readonly<Record<string, number>>;
  /** What the program is attached to: a cgroup (attachCgroup) or a sockmap/sockhash (attachFunc). */
  attachedTo?: "cgroup" | "sockmap";
}

export const ATTACH_KINDS: readonly AttachKind[] = [
  {
    name: "kprobe",
    progType: ProgType.KPROBE,
    expectedAttachType: 0,
    sections: ["kprobe/"],
    bccPrefix: "kprobe__",
    minKernel: "4.1",
    feature: "kprobe",
    sectionAttaches: true,
  },
  {
    name: "kretprobe",
    progType: ProgType.KPROBE,
    expectedAttachType: 0,
    sections: ["kretprobe/"],
    bccPrefix: "kretprobe__",
    minKernel: "4.1",
    feature: "kretprobe",
    sectionAttaches: true,
  },
  {
    name: "uprobe",
    progType: ProgType.KPROBE,
    expectedAttachType: 0,
    sections: ["uprobe/"],
    minKernel: "4.3",
    feature: "uprobe",
    sectionAttaches: true,
  },
  {
    name: "uretprobe",
    progType: ProgType.KPROBE,
    expectedAttachType: 0,
    sections: ["uretprobe/"],
    minKernel: "4.3",
    feature: "uretprobe",
    sectionAttaches: true,
  },
  {
    name: "usdt",
    progType: ProgType.KPROBE,
    expectedAttachType: 0,
    sections: ["usdt/"],
    bccMacro: "USDT",
    minKernel: "4.3",
    feature: "uprobe",
  },
  {
    name: "tracepoint",
    progType: ProgType.TRACEPOINT,
    expectedAttachType: 0,
    sections: ["tracepoint/", "tp/"],
    bccPrefix: "tracepoint__",
    bccMacro: "TRACEPOINT_PROBE",
    minKernel: "4.7",
    feature: "tracepoint",
    sectionAttaches: true,
  },
  {
    name: "raw_tracepoint",
    progType: ProgType.RAW_TRACEPOINT,
    expectedAttachType: 0,
    sections: ["raw_tracepoint/", "raw_tp/"],
    bccPrefix: "raw_tracepoint__",
    bccMacro: "RAW_TRACEPOINT_PROBE",
    minKernel: "4.17",
    feature: "raw_tracepoint",
    sectionAttaches: true,
  },
  {
    name: "btf_tracepoint",
    progType: ProgType.TRACING,
    expectedAttachType: AttachType.TRACE_RAW_TP,
    sections: ["tp_btf/"],
    bccPrefix: "btf_tracepoint__",
    bccMacro: "BTF_TRACEPOINT_PROBE",
    minKernel: "5.5",
    feature: "tp_btf",
    btfTarget: true,
    sectionAttaches: true,
  },
  {
    name: "kfunc",
    progType: ProgType.TRACING,
    expectedAttachType: AttachType.TRACE_FENTRY,
    sections: ["fentry/", "fentry.s/"],
    bccPrefix: "kfunc__",
    bccMacro: "KFUNC_PROBE",
    minKernel: "5.5",
    feature: "fentry",
    btfTarget: true,
    sectionAttaches: true,
  },
  {
    name: "kretfunc",
    progType: ProgType.TRACING,
    expectedAttachType: AttachType.TRACE_FEXIT,
    sections: ["fexit/", "fexit.s/"],
    bccPrefix: "kretfunc__",
    bccMacro: "KRETFUNC_PROBE",
    minKernel: "5.5",
    feature: "fexit",
    btfTarget: true,
    sectionAttaches: true,
  },
  {
    name: "kmod_ret",
    progType: ProgType.TRACING,
    expectedAttachType: AttachType.MODIFY_RETURN,
    sections: ["fmod_ret/", "fmod_ret.s/"],
    bccPrefix: "kmod_ret__",
    bccMacro: "KMOD_RET",
    minKernel: "5.7",
    feature: "fmod_ret",
    btfTarget: true,
    sectionAttaches: true,
  },
  {
    name: "lsm",
    progType: ProgType.LSM,
    expectedAttachType: AttachType.LSM_MAC,
    sections: ["lsm/", "lsm.s/"],
    bccPrefix: "lsm__",
    bccMacro: "LSM_PROBE",
    minKernel: "5.7",
    feature: "lsm",
    btfTarget: true,
    sectionAttaches: true,
  },
  {
    name: "iter",
    progType: ProgType.TRACING,
    expectedAttachType: AttachType.TRACE_ITER,
    sections: ["iter/", "iter.s/"],
    bccMacro: "BPF_ITER",
    minKernel: "5.8",
    feature: "iter",
    btfTarget: true,
  },
  {
    name: "cgroup_skb",
    progType: ProgType.CGROUP_SKB,
    expectedAttachType: 0,
    sections: ["cgroup_skb/ingress", "cgroup_skb/egress"],
    attachTypes: {
      "cgroup_skb/ingress": AttachType.CGROUP_INET_INGRESS,
      "cgroup_skb/egress": AttachType.CGROUP_INET_EGRESS,
    },
    attachedTo: "cgroup",
    minKernel: "4.10",
    feature: "cgroup_skb",
  },
  {
    name: "cgroup_sock",
    progType: ProgType.CGROUP_SOCK,
    expectedAttachType: 0,
    sections: [
      "cgroup/sock_create",
      "cgroup/sock",
      "cgroup/sock_release",
      "cgroup/post_bind4",
      "cgroup/post_bind6",
    ],
    attachTypes: {
      "cgroup/sock_create": AttachType.CGROUP_INET_SOCK_CREATE,
      "cgroup/sock": AttachType.CGROUP_INET_SOCK_CREATE,
      "cgroup/sock_release": AttachType.CGROUP_INET_SOCK_RELEASE,
      "cgroup/post_bind4": AttachType.CGROUP_INET4_POST_BIND,
      "cgroup/post_bind6": AttachType.CGROUP_INET6_POST_BIND,
    },
    attachedTo: "cgroup",
    minKernel: "4.10",
    feature: "cgroup_sock",
  },
  {
    name: "cgroup_sock_addr",
    progType: ProgType.CGROUP_SOCK_ADDR,
    expectedAttachType: 0,
    sections: [
      "cgroup/bind4",
      "cgroup/bind6",
      "cgroup/connect4",
      "cgroup/connect6",
      "cgroup/sendmsg4",
      "cgroup/sendmsg6",
      "cgroup/recvmsg4",
      "cgroup/recvmsg6",
      "cgroup/getpeername4",
      "cgroup/getpeername6",
      "cgroup/getsockname4",
      "cgroup/getsockname6",
    ],
    attachTypes: {
      "cgroup/bind4": AttachType.CGROUP_INET4_BIND,
      "cgroup/bind6": AttachType.CGROUP_INET6_BIND,
      "cgroup/connect4": AttachType.CGROUP_INET4_CONNECT,
      "cgroup/connect6": AttachType.CGROUP_INET6_CONNECT,
      "cgroup/sendmsg4": AttachType.CGROUP_UDP4_SENDMSG,
      "cgroup/sendmsg6": AttachType.CGROUP_UDP6_SENDMSG,
      "cgroup/recvmsg4": AttachType.CGROUP_UDP4_RECVMSG,
      "cgroup/recvmsg6": AttachType.CGROUP_UDP6_RECVMSG,
      "cgroup/getpeername4": AttachType.CGROUP_INET4_GETPEERNAME,
      "cgroup/getpeername6": AttachType.CGROUP_INET6_GETPEERNAME,
      "cgroup/getsockname4": AttachType.CGROUP_INET4_GETSOCKNAME,
      "cgroup/getsockname6": AttachType.CGROUP_INET6_GETSOCKNAME,
    },
    attachedTo: "cgroup",
    minKernel: "4.17",
    feature: "cgroup_sock_addr",
  },
  {
    name: "cgroup_sockopt",
    progType: ProgType.CGROUP_SOCKOPT,
    expectedAttachType: 0,
    sections: ["cgroup/getsockopt", "cgroup/setsockopt"],
    attachTypes: {
      "cgroup/getsockopt": AttachType.CGROUP_GETSOCKOPT,
      "cgroup/setsockopt": AttachType.CGROUP_SETSOCKOPT,
    },
    attachedTo: "cgroup",
    minKernel: "5.3",
    feature: "cgroup_sockopt",
  },
  {
    name: "cgroup_sysctl",
    progType: ProgType.CGROUP_SYSCTL,
    expectedAttachType: 0,
    sections: ["cgroup/sysctl"],
    attachTypes: {
      "cgroup/sysctl": AttachType.CGROUP_SYSCTL,
    },
    attachedTo: "cgroup",
    minKernel: "5.2",
    feature: "cgroup_sysctl",
  },
  {
    name: "cgroup_device",
    progType: ProgType.CGROUP_DEVICE,
    expectedAttachType: 0,
    sections: ["cgroup/dev"],
    attachTypes: {
      "cgroup/dev": AttachType.CGROUP_DEVICE,
    },
    attachedTo: "cgroup",
    minKernel: "4.15",
    feature: "cgroup_device",
  },
  {
    name: "sock_ops",
    progType: ProgType.SOCK_OPS,
    expectedAttachType: 0,
    sections: ["sockops"],
    attachTypes: {
      sockops: AttachType.CGROUP_SOCK_OPS,
    },
    attachedTo: "cgroup",
    minKernel: "4.13",
    feature: "sock_ops",
  },
  {
    name: "sk_skb",
    progType: ProgType.SK_SKB,
    expectedAttachType: 0,
    sections: ["sk_skb/stream_parser", "sk_skb/stream_verdict", "sk_skb/verdict"],
    attachTypes: {
      "sk_skb/stream_parser": AttachType.SK_SKB_STREAM_PARSER,
      "sk_skb/stream_verdict": AttachType.SK_SKB_STREAM_VERDICT,
      "sk_skb/verdict": AttachType.SK_SKB_VERDICT,
    },
    attachedTo: "sockmap",
    minKernel: "4.14",
    feature: "sk_skb",
  },
  {
    name: "sk_msg",
    progType: ProgType.SK_MSG,
    expectedAttachType: 0,
    sections: ["sk_msg"],
    attachTypes: {
      sk_msg: AttachType.SK_MSG_VERDICT,
    },
    attachedTo: "sockmap",
    minKernel: "4.17",
    feature: "sk_msg",
  },
  {
    name: "perf_event",
    progType: ProgType.PERF_EVENT,
    expectedAttachType: 0,
    sections: ["perf_event"],
    minKernel: "4.9",
    feature: "perf_event",
  },
  {
    name: "xdp",
    progType: ProgType.XDP,
    expectedAttachType: 0,
    sections: ["xdp"],
    minKernel: "4.8",
    feature: "xdp",
  },
  {
    name: "socket_filter",
    progType: ProgType.SOCKET_FILTER,
    expectedAttachType: 0,
    sections: ["socket"],
    minKernel: "3.19",
    feature: "socket_filter",
  },
];

const BY_NAME = new Map(ATTACH_KINDS.map((k) => [k.name, k]));

/** The attach kind called `name`. */
export function attachKind(name: AttachKindName): AttachKind {
  return BY_NAME.get(name) as AttachKind;
}

/** A function's kind and target from bcc's name prefix (kprobe__X, tracepoint__cat__ev, kfunc__vmlinux__X). */
export function kindOfBccName(fnName: string): { kind: AttachKindName; target: string } | undefined {
  for (const k of ATTACH_KINDS) {
    if (!k.bccPrefix || !fnName.startsWith(k.bccPrefix)) continue;
    let target = fnName.slice(k.bccPrefix.length);
    if (target === "") return undefined;
    if (k.name === "tracepoint") {
      // tracepoint__<category>__<event>
      const i = target.indexOf("__");
      if (i <= 0 || i + 2 >= target.length) return undefined;
      target = `${target.slice(0, i)}:${target.slice(i + 2)}`;
    }
    // bcc also writes kfunc__vmlinux__X (X in vmlinux rather than a module).
    if (k.btfTarget && target.startsWith("vmlinux__")) target = target.slice("vmlinux__".length);
    return { kind: k.name, target };
  }
  return undefined;
}

/**
 * A libbpf-style function's kind and target from its section
 * (SEC("kprobe/do_sys_openat2"), SEC("tracepoint/syscalls/sys_enter_execve")),
 * for kinds whose section names the target; undefined otherwise.
 */
export function kindOfSection(section: string): { kind: AttachKindName; target: string } | undefined {
  for (const k of ATTACH_KINDS) {
    for (const p of k.sections) {
      if (!p.endsWith("/") || !section.startsWith(p)) continue;
      let target = section.slice(p.length);
      if (target === "") return undefined;
      if (k.name === "tracepoint") {
        const i = target.indexOf("/");
        if (i <= 0) return undefined;
        target = `${target.slice(0, i)}:${target.slice(i + 1)}`;
      }
      return { kind: k.name, target };
    }
  }
  return undefined;
}

/** The function-name prefix a bcc macro (KFUNC_PROBE, LSM_PROBE, …) gives the function it defines. */
export function bccMacroPrefix(macro: string): string | undefined {
  return ATTACH_KINDS.find((k) => k.bccMacro === macro && k.btfTarget)?.bccPrefix;
}

/** The kind and attach type a section names ("cgroup/connect4", "sk_msg"), for kinds whose sections do. */
export function attachTypeOfSection(section: string): { kind: AttachKind; attachType: number } | undefined {
  for (const k of ATTACH_KINDS) {
    const t = k.attachTypes?.[section];
    if (t !== undefined) return { kind: k, attachType: t };
  }
  return undefined;
}

/** The kind whose programs attach with this attach type (BPF_CGROUP_INET4_CONNECT → cgroup_sock_addr). */
export function kindOfAttachType(attachType: number): AttachKind | undefined {
  return ATTACH_KINDS.find((k) => k.attachTypes && Object.values(k.attachTypes).includes(attachType));
}
