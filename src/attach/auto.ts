// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Attach at load: the functions whose name (bcc's kprobe__X, tracepoint__cat__ev,
 * kfunc__X, …) or libbpf section (SEC("kprobe/X"), SEC("fentry/X"), …) says
 * where they go, each through its hook's module.
 */
import { syscallPrefix } from "../kernel/kernel_info.js";
import type { AttachContext } from "./context.js";
import { attachKprobes } from "./kprobe.js";
import type { Link } from "./link.js";
import { attachRawTracepoint } from "./raw_tracepoint.js";
import { attachTracepoints } from "./tracepoint.js";
import { attachBtfTracepoint, attachTrampoline } from "./tracing.js";
import { attachUprobes } from "./uprobe.js";

/** bcc turns kprobe__sys_X into the syscall's real function (__x64_sys_X). */
function syscallFunction(name: string): string {
  const prefix = syscallPrefix();
  return name.startsWith("sys_") && prefix !== "sys_" ? prefix + name.slice(4) : name;
}

/** Attaches every auto-attach function of the program; the links made so far are closed when one fails. */
export function autoAttach(ctx: AttachContext): Link[] {
  const links: Link[] = [];
  try {
    for (const p of ctx.compiled.programs) {
      const a = p.autoAttach;
      if (!a) continue;
      const fnName = p.name;
      if (a.kind === "kprobe" || a.kind === "kretprobe")
        links.push(
          ...attachKprobes(ctx, { event: syscallFunction(a.target), fnName }, a.kind === "kretprobe"),
        );
      else if (a.kind === "uprobe" || a.kind === "uretprobe") {
        // libbpf's SEC("uprobe/path:function")
        const i = a.target.lastIndexOf(":");
        const opts = { name: a.target.slice(0, i), sym: a.target.slice(i + 1), fnName };
        links.push(...attachUprobes(ctx, opts, a.kind === "uretprobe"));
      } else if (a.kind === "tracepoint") links.push(...attachTracepoints(ctx, { tp: a.target, fnName }));
      else if (a.kind === "raw_tracepoint") links.push(attachRawTracepoint(ctx, { tp: a.target, fnName }));
      else if (a.kind === "btf_tracepoint") links.push(attachBtfTracepoint(ctx, { tp: a.target, fnName }));
      else if (a.kind === "kfunc" || a.kind === "kretfunc" || a.kind === "kmod_ret" || a.kind === "lsm")
        links.push(attachTrampoline(ctx, a.kind, { fnName, target: a.target }));
    }
  } catch (err) {
    for (const l of links) l.close();
    throw err;
  }
  return links;
}
