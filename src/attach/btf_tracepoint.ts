// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * BTF-enabled raw tracepoints (tp_btf, Linux 5.5+): a BPF_PROG_TYPE_TRACING
 * program with expected attach type BPF_TRACE_RAW_TP whose arguments are the
 * tracepoint's own, typed from the kernel's BTF (typedef btf_trace_<event>),
 * so pointers in them can be dereferenced directly.
 */
import { Errno } from "../kernel/constants.js";
import { AttachError, type BpfError, NotSupportedError } from "../kernel/errors.js";
import { closestNames, listTracepoints } from "../kernel/tracefs.js";
import { attachKind } from "./kinds.js";

/** The error for a tp_btf program (Linux 5.5+) whose event the kernel's BTF lacks, or that the kernel refused. */
export function btfTracepointError(
  event: string,
  errno: number | undefined,
  stage: "load" | "attach",
  cause: unknown,
): BpfError | undefined {
  const E = Errno;
  if (errno === E.ESRCH || errno === E.ENOENT) {
    let close: string[] = [];
    try {
      const events = listTracepoints().map((t) => t.slice(t.indexOf(":") + 1));
      close = closestNames(event, [...new Set(events)], 3);
    } catch {
      close = [];
    }
    return new AttachError(
      `BTF tracepoint ${event}`,
      `the kernel's BTF has no tracepoint ${event} (no typedef btf_trace_${event}); name the event without its category, e.g. "sched_switch"`,
      close.length ? `did you mean ${close.join(", ")}?` : undefined,
      { errno, cause },
    );
  }
  if (errno === E.ENOTSUPP || errno === E.EOPNOTSUPP || (errno === E.EINVAL && stage === "load")) {
    return new NotSupportedError(
      "BTF tracepoints (tp_btf)",
      `the kernel refused a BPF_TRACE_RAW_TP tracing program at ${stage} (errno ${errno}): it needs Linux 5.5+ with CONFIG_DEBUG_INFO_BTF`,
      `use a raw tracepoint (RAW_TRACEPOINT_PROBE(${event}) / attachRawTracepoint) and read its arguments with bpf_probe_read_kernel / BPF_CORE_READ`,
      { errno, cause, minKernel: attachKind("btf_tracepoint").minKernel },
    );
  }
  return undefined;
}
