/**
 * The hook chooser of the tools that have more than one way to see the same
 * activity: bcc's kprobes on a kernel function, fentry/fexit on the same
 * function (BPF trampolines, cheaper per event, but their load reads the
 * kernel's BTF), or tracepoints that carry less (the case of a kernel
 * without kprobes, as most distribution kernels with lockdown, or with
 * CONFIG_KPROBES off). `--hook` picks one by hand.
 */
import { readFileSync } from "node:fs";
import { TRAMPOLINE_REFUSAL } from "../../src/attach/kfunc.js";
import { AttachError, BPF, NotSupportedError } from "../../src/index.js";
import { rememberedRefusal } from "../../src/kernel/boot_memo.js";
import { type OptionSpec, UsageError } from "./args.js";

/** How a tool hooks the kernel. */
export type HookKind = "kprobe" | "fentry" | "tracepoint";

const KINDS: readonly HookKind[] = ["kprobe", "fentry", "tracepoint"];

/** `--hook`, for the tools that offer a choice. */
export const HOOK_OPTION: OptionSpec = {
  long: "hook",
  type: "string",
  metavar: "{auto,kprobe,fentry,tracepoint}",
  help: "how to hook the kernel: auto (default: bcc's kprobes where the kernel has them, else fentry where the tracepoints see less, else the tracepoints), or one of them",
};

/** What a tool can use on this kernel. */
export interface HookOffer {
  /** The kernel functions the kprobe and fentry variants hook (each must exist). */
  functions: string[];
  /** Whether the tracepoint variant can run here (false: the tool has none, or this kernel lacks its tracepoints). */
  tracepoint: boolean;
  /** The tracepoint variant sees less than the function hooks (so fentry is tried before it). */
  tracepointPartial: boolean;
}

let kallsymsCache: string | undefined;

/** /proc/kallsyms as text, read once ("" when unreadable): the tools search it, they need no parse of it. */
export function kallsymsText(): string {
  if (kallsymsCache === undefined) {
    try {
      kallsymsCache = readFileSync("/proc/kallsyms", "latin1");
    } catch {
      kallsymsCache = "";
    }
  }
  return kallsymsCache;
}
const functionExists = new Map<string, boolean>();

/**
 * Whether a kernel function can be probed: /proc/kallsyms lists it as a text
 * symbol (notrace functions aside). Reading the file costs ~150 ms (the
 * kernel formats it on each read), so it is read once, and only when kprobes
 * could use the answer; the library's parsed kallsyms would cost ~400 ms.
 */
export function kernelFunctionExists(name: string): boolean {
  const known = functionExists.get(name);
  if (known !== undefined) return known;
  const re = new RegExp(`^[0-9a-f]+ [tTwW] ${name.replace(/[.$]/g, "\\$&")}(\\t\\[\\S+\\])?$`, "m");
  const found = re.test(kallsymsText());
  functionExists.set(name, found);
  return found;
}

/** The first of `names` this kernel has (kernels rename functions: page → folio). */
export function firstKernelFunction(names: string[]): string | undefined {
  return names.find(kernelFunctionExists);
}

/**
 * The hooks to try, best first, for `--hook` (auto when undefined). A kind
 * given by hand that this kernel cannot run ends here in a NotSupportedError
 * naming what it can; auto leaves out what it knows cannot run (fentry is
 * only known by trying: its probe costs the same kernel-BTF read as its
 * load, so it is tried, and the caller falls back on NotSupportedError).
 */
export function hookCandidates(tool: string, requested: string | undefined, offer: HookOffer): HookKind[] {
  const kprobes = BPF.supports("kprobe") === "yes";
  const fnsHere = (): boolean => offer.functions.length > 0 && offer.functions.every(kernelFunctionExists);
  if (requested !== undefined && requested !== "auto") {
    const kind = requested as HookKind;
    if (!KINDS.includes(kind))
      throw new UsageError(`--hook: expected auto, kprobe, fentry or tracepoint, got "${requested}"`);
    if (kind === "tracepoint" && !offer.tracepoint) {
      throw new NotSupportedError(
        `${tool} with --hook tracepoint`,
        "this kernel lacks the tracepoints it needs",
        "use --hook kprobe or --hook fentry",
      );
    }
    if (kind !== "tracepoint" && offer.functions.length === 0) {
      throw new UsageError(`--hook ${kind}: ${tool} has no ${kind} variant`);
    }
    if (kind === "kprobe" && !kprobes) {
      throw new NotSupportedError(
        `${tool} with --hook kprobe`,
        "this kernel has no kprobes (CONFIG_KPROBES is off)",
        offer.tracepoint ? "use --hook tracepoint (the default here) or --hook fentry" : "use --hook fentry",
      );
    }
    if (kind !== "tracepoint" && !fnsHere()) {
      throw new NotSupportedError(
        `${tool} with --hook ${kind}`,
        `this kernel has no ${offer.functions.filter((f) => !kernelFunctionExists(f)).join(", ")} to hook`,
        offer.tracepoint ? "use --hook tracepoint" : undefined,
      );
    }
    return [kind];
  }
  const out: HookKind[] = [];
  // Without kprobes, whether fentry can hook the functions is known only by
  // trying (a missing one fails like a refused one): kallsyms is not read.
  // A refusal this boot already met (kernel/boot_memo.ts) is not tried again
  // before a tracepoint: trying costs a read of the kernel's whole BTF.
  const hookable = kprobes ? fnsHere() : offer.functions.length > 0;
  if (hookable && kprobes) out.push("kprobe");
  if (
    hookable &&
    (offer.tracepointPartial || !offer.tracepoint) &&
    !(offer.tracepoint && rememberedRefusal(TRAMPOLINE_REFUSAL) !== undefined)
  )
    out.push("fentry");
  if (offer.tracepoint) out.push("tracepoint");
  if (out.length === 0) {
    throw new NotSupportedError(
      tool,
      offer.functions.length && !fnsHere()
        ? `this kernel has neither the tracepoints it needs nor ${offer.functions.join(", ")} to hook`
        : "this kernel has neither kprobes nor the tracepoints it needs",
      "fentry is tried when the kernel has the functions",
    );
  }
  return out;
}

/**
 * Attaches with the first candidate that works here and returns it: a
 * fentry the kernel refuses (no BPF trampolines, or a lockdown that forbids
 * them) falls through to the next candidate. When fentry was the last hope
 * (`what` needs a kernel function), its refusal is said in the tool's terms.
 */
export function attachFirstHook(
  candidates: HookKind[],
  attach: (kind: HookKind) => void,
  what?: { feature: string; alternative?: string },
): HookKind {
  for (const [i, kind] of candidates.entries()) {
    try {
      attach(kind);
      return kind;
    } catch (err) {
      const refused = err instanceof NotSupportedError || err instanceof AttachError;
      if (kind !== "fentry" || !refused) throw err;
      if (i < candidates.length - 1) continue;
      if (!what || !(err instanceof NotSupportedError)) throw err;
      throw new NotSupportedError(
        what.feature,
        `it needs kprobes or fentry, and this kernel ${candidates.includes("kprobe") ? "" : "has no kprobes and "}refuses fentry: ${err.reason}`,
        what.alternative,
        { cause: err },
      );
    }
  }
  throw new Error("attachFirstHook: no candidates");
}

/** For `tsbpf tools`: the hook auto picks on this kernel without loading anything. */
export function describeHooks(offer: HookOffer, names: { kprobe: string; tracepoint: string }): string {
  const fnsHere = offer.functions.every(kernelFunctionExists);
  if (fnsHere && BPF.supports("kprobe") === "yes") return names.kprobe;
  const fentry = `fentry on ${offer.functions.join(", ")} where the kernel allows it`;
  if (offer.tracepoint && (!offer.tracepointPartial || !fnsHere)) return names.tracepoint;
  if (offer.tracepoint) return `${fentry}, else ${names.tracepoint}`;
  return fnsHere ? fentry : "none on this kernel";
}
