/**
 * What an attach call leaves in the kernel, as something a BPF object owns:
 * a Link closes its kernel objects (a bpf_link or perf event fd, an XDP
 * program on a device, a raw socket, the USDT object). Every attachment is
 * fd-based where the kernel allows, so a process that dies (even by SIGKILL)
 * leaves nothing; close() releases them earlier.
 */

import { Errno } from "../kernel/constants.js";
import { AttachError, type BpfError, isNativeError } from "../kernel/errors.js";
import type { NativeError, NativeLink } from "../native.js";
import type { AttachKindName } from "./kinds.js";

export interface Link {
  /** The attach kind ("func": bcc's attach_func of a program type tsbpf has no row for). */
  readonly kind: AttachKindName | "func";
  /** What detach calls name: "p:do_nanosleep", "syscalls:sys_enter_execve", "kfunc:vfs_read", … */
  readonly target: string;
  /** The BPF function attached ("" for what belongs to no one function). */
  readonly fnName: string;
  close(): void;
}

/** A Link over a native bpf_link or perf event link. */
export function nativeLink(kind: Link["kind"], target: string, fnName: string, link: NativeLink): Link {
  return { kind, target, fnName, close: () => link.destroy() };
}

/**
 * `err` as a typed error: a native error becomes what `typed` makes of it or,
 * when it makes nothing, an AttachError on `target` with the kernel's reason;
 * any other error is returned as it is (callers throw the result).
 */
export function attachFailure(
  err: unknown,
  target: string,
  typed?: (e: NativeError) => BpfError | undefined,
): unknown {
  if (!isNativeError(err)) return err;
  const mapped = typed?.(err);
  if (mapped) return mapped;
  // The kernel keeps one program at most once per event: perf_event_attach_bpf_prog (Linux 4.9+) fails with EEXIST.
  if (err.errno === Errno.EEXIST)
    return new AttachError(
      target,
      "the function is already attached there (the kernel attaches a program to an event once)",
      'functions named kprobe__…, tracepoint__… or defined with TRACEPOINT_PROBE or SEC("…/target") attach ' +
        "themselves at load: pass autoAttach: false to attach them yourself",
      { errno: err.errno, cause: err },
    );
  return new AttachError(target, err.message, undefined, { errno: err.errno, cause: err });
}

/** The links of one BPF object, in the order they were made. */
export class LinkSet {
  private readonly links: Link[] = [];

  add(...links: Link[]): void {
    this.links.push(...links);
  }

  /**
   * Closes and forgets the links of these kinds on `target` (fnName's only,
   * when given). Throws an AttachError naming `what` when there is none.
   */
  remove(kinds: readonly string[], target: string, fnName: string | undefined, what: string): void {
    let n = 0;
    for (let k = this.links.length - 1; k >= 0; k--) {
      const l = this.links[k] as Link;
      if (!kinds.includes(l.kind) || l.target !== target || (fnName !== undefined && l.fnName !== fnName))
        continue;
      l.close();
      this.links.splice(k, 1);
      n++;
    }
    if (n === 0) throw new AttachError(what, "it is not attached");
  }

  /** Forgets the links of a kind on `target` without closing them (what they held is gone already). */
  forget(kind: string, target: string): void {
    for (let k = this.links.length - 1; k >= 0; k--) {
      const l = this.links[k] as Link;
      if (l.kind === kind && l.target === target) this.links.splice(k, 1);
    }
  }

  /** How many links of these kinds there are. */
  count(...kinds: string[]): number {
    return this.links.filter((l) => kinds.includes(l.kind)).length;
  }

  /** Closes every link, the newest first (a USDT object after its probes), whatever fails. */
  closeAll(): void {
    for (let k = this.links.length - 1; k >= 0; k--) {
      try {
        (this.links[k] as Link).close();
      } catch {
        // keep releasing the rest
      }
    }
    this.links.length = 0;
  }
}
