// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Raw tracepoints (Linux 4.17+): the tracepoint's own arguments in
 * ctx->args[], through a bpf_link. And why one refused a program: the
 * kernel checks at attach time that the program reads no more of ctx->args[] than the tracepoint passes
 * (bpf_probe_register: the program's highest context offset against
 * num_args * 8) and fails with a bare EINVAL otherwise. Tracepoints change
 * their arguments across kernel versions (mm_compaction_begin lost two in
 * 6.x), so a program written for another kernel meets this.
 */
import type { BtfFuncProto, BtfModifier } from "../btf/btf.js";
import { significant, tokenize } from "../compile/tokenizer.js";
import { Errno, ProgType } from "../kernel/constants.js";
import { AttachError } from "../kernel/errors.js";
import { kernelBtf } from "../kernel/kernel_btf.js";
import { closestNames, listTracepoints } from "../kernel/tracefs.js";
import { native } from "../native.js";
import type { AttachContext } from "./context.js";
import { attachFailure, type Link, nativeLink } from "./link.js";

/** The tracepoint's arguments in this kernel's BTF (btf_trace_<name>), or undefined. */
export function rawTracepointArgs(tp: string): string[] | undefined {
  let btf: ReturnType<typeof kernelBtf>;
  try {
    btf = kernelBtf();
  } catch {
    return undefined;
  }
  const id = btf.findByName(`btf_trace_${tp}`, "TYPEDEF");
  if (id === undefined) return undefined;
  const ptr = btf.type((btf.type(id) as BtfModifier).type);
  if (ptr.kind !== "PTR") return undefined;
  const proto = btf.type(ptr.type);
  if (proto.kind !== "FUNC_PROTO") return undefined;
  // The first parameter is the tracepoint's private data, not an argument.
  return (proto as BtfFuncProto).params.slice(1).map((p) => btf.cName(p.type));
}

/** The source of the function defined at `line` (1-based), from its line to its closing brace. */
export function functionSource(source: string, line: number): string {
  const toks = significant(tokenize(source));
  let i = toks.findIndex((t) => t.line >= line);
  if (i < 0) return "";
  while (i < toks.length && toks[i]?.text !== "{") i++;
  let depth = 0;
  for (let k = i; k < toks.length; k++) {
    const t = toks[k];
    if (t?.kind !== "punct") continue;
    if (t.text === "{") depth++;
    else if (t.text === "}" && --depth === 0) {
      const start = toks.findIndex((x) => x.line >= line);
      return source.slice(toks[start]?.start ?? 0, t.end);
    }
  }
  return source.slice(toks[i]?.start ?? 0);
}

/** The highest N of `x->args[N]` in a function's text (a raw tracepoint's context), if any. */
export function highestArg(fnText: string): number | undefined {
  let max: number | undefined;
  for (const m of fnText.matchAll(/->\s*args\s*\[\s*(\d+)\s*\]/g)) max = Math.max(max ?? 0, Number(m[1]));
  return max;
}

/**
 * The AttachError for an EINVAL from attaching `fnName` to raw tracepoint
 * `tp`, when the reason is the number of arguments; undefined otherwise.
 */
export function rawTracepointArgsError(
  tp: string,
  fnName: string,
  fnText: string,
  opts: { errno?: number; cause?: unknown } = {},
): AttachError | undefined {
  const args = rawTracepointArgs(tp);
  const read = highestArg(fnText);
  if (args === undefined || read === undefined || read < args.length) return undefined;
  const list = args.length === 0 ? "none" : args.map((t, i) => `args[${i}]: ${t}`).join(", ");
  return new AttachError(
    `raw tracepoint ${tp}`,
    `${fnName} reads ctx->args[${read}], but ${tp} passes ${args.length} argument${args.length === 1 ? "" : "s"} on this kernel (${list})`,
    "the tracepoint's arguments differ on this kernel version: read only those it has",
    opts,
  );
}

/** Attaches fnName to a raw tracepoint (e.g. "sched_switch"). */
export function attachRawTracepoint(ctx: AttachContext, opts: { tp: string; fnName: string }): Link {
  const fn = ctx.loadFunc(opts.fnName, ProgType.RAW_TRACEPOINT);
  try {
    return nativeLink(
      "raw_tracepoint",
      opts.tp,
      opts.fnName,
      native().attachRawTracepoint(fn.object, fn.elfName, opts.tp),
    );
  } catch (err) {
    throw attachFailure(err, `raw tracepoint ${opts.tp}`, (e) => {
      if (e.errno === Errno.ENOENT) {
        const events = listTracepoints().map((t) => t.slice(t.indexOf(":") + 1));
        const close = closestNames(opts.tp, [...new Set(events)], 3);
        return new AttachError(
          `raw tracepoint ${opts.tp}`,
          "no such raw tracepoint on this kernel",
          close.length ? `did you mean ${close.join(", ")}?` : undefined,
          { errno: e.errno, cause: e },
        );
      }
      if (e.errno !== Errno.EINVAL) return undefined;
      const info = ctx.loader.info(opts.fnName);
      const text = info ? functionSource(ctx.compiled.source, info.line) : "";
      return rawTracepointArgsError(opts.tp, opts.fnName, text, { errno: e.errno, cause: e });
    });
  }
}
