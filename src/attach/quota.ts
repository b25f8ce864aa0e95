// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * bcc's cap on probes (BCC_PROBE_LIMIT, default 1000): a pattern that
 * matches thousands of kernel or user functions would open a perf event and
 * a kernel probe for each, which takes long and pins kernel memory, so a
 * regexp attach that would take a BPF object past the cap is refused,
 * saying how many matched.
 */
import { AttachError } from "../kernel/errors.js";

const DEFAULT_LIMIT = 1000;

/** The cap: $TSBPF_PROBE_LIMIT, else $BCC_PROBE_LIMIT, else 1000. */
export function probeLimit(): number {
  for (const v of [process.env.TSBPF_PROBE_LIMIT, process.env.BCC_PROBE_LIMIT]) {
    const n = Number(v);
    if (v !== undefined && v !== "" && Number.isInteger(n) && n > 0) return n;
  }
  return DEFAULT_LIMIT;
}

/** Refuses `matched` new probes for `what` when with the `open` ones they would pass the cap. */
export function checkProbeQuota(what: string, matched: number, open: number): void {
  const limit = probeLimit();
  if (open + matched <= limit) return;
  throw new AttachError(
    what,
    `${matched} match${open > 0 ? `, and with the ${open} probes already open` : ""} that is more than the limit of ${limit} probes`,
    "narrow the pattern, or raise the limit with TSBPF_PROBE_LIMIT=N (or bcc's BCC_PROBE_LIMIT); each probe costs a perf event and kernel memory",
  );
}
