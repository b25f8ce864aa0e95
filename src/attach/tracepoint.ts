/**
 * Tracepoints (Linux 4.7+ for BPF on them): "category:event", or every
 * tracepoint matching a regular expression, each through a perf event link.
 */
import { ProgType } from "../kernel/constants.js";
import { AttachError, BpfError } from "../kernel/errors.js";
import { listTracepoints, tracepointExists, unknownTracepointMessage } from "../kernel/tracefs.js";
import { native } from "../native.js";
import type { AttachContext } from "./context.js";
import { attachFailure, type Link, nativeLink } from "./link.js";
import { checkProbeQuota } from "./quota.js";

/** "category:event" split in two; a BpfError saying how to write it otherwise. */
export function splitTracepoint(tp: string): [string, string] {
  const i = tp.indexOf(":");
  if (i <= 0 || i === tp.length - 1) {
    throw new BpfError(
      `tracepoint "${tp}" must be written "category:event", e.g. "syscalls:sys_enter_execve"`,
    );
  }
  return [tp.slice(0, i), tp.slice(i + 1)];
}

/** Every tracepoint "category:event" matching re (all when re is omitted). */
export function tracepointsMatching(re?: RegExp | string): string[] {
  return listTracepoints(re === undefined ? undefined : typeof re === "string" ? new RegExp(re) : re);
}

/** Attaches fnName to a tracepoint, or to every tracepoint matching tpRe: a link each. */
export function attachTracepoints(
  ctx: AttachContext,
  opts: { tp?: string; tpRe?: RegExp | string; fnName: string; cookie?: number | bigint },
): Link[] {
  let tps: string[];
  if (opts.tpRe !== undefined) {
    tps = tracepointsMatching(opts.tpRe);
    if (tps.length === 0)
      throw new AttachError(`tracepoints matching ${String(opts.tpRe)}`, "no tracepoint matches");
    checkProbeQuota(`tracepoints matching ${String(opts.tpRe)}`, tps.length, ctx.openProbes());
  } else if (opts.tp !== undefined) tps = [opts.tp];
  else throw new BpfError("attachTracepoint needs tp or tpRe");
  const links: Link[] = [];
  try {
    for (const tp of tps) {
      const [category, event] = splitTracepoint(tp);
      if (!tracepointExists(category, event))
        throw new AttachError(
          `tracepoint ${tp}`,
          unknownTracepointMessage(tp).replace(`tracepoint ${tp} `, ""),
        );
      const fn = ctx.loadFunc(opts.fnName, ProgType.TRACEPOINT);
      try {
        const link = native().attachTracepoint(fn.object, fn.elfName, category, event, opts.cookie ?? 0);
        links.push(nativeLink("tracepoint", `${category}:${event}`, opts.fnName, link));
      } catch (err) {
        throw attachFailure(err, `tracepoint ${tp}`);
      }
    }
  } catch (err) {
    for (const l of links) l.close();
    throw err;
  }
  return links;
}
