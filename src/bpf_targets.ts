/**
 * The attach calls of class BPF whose target is a thing rather than an
 * event: network devices (XDP, raw sockets), cgroups, socket maps (bcc's
 * attach_func) and iterators. Each delegates to its hook's module in
 * attach/; BPF supplies the object's context, links and tables.
 */
import {
  type AttachTypeSpec,
  attachCgroup,
  attachFunc,
  attachTypeFor,
  loadForAttachType,
} from "./attach/cgroup.js";
import type { AttachContext } from "./attach/context.js";
import { attachIter, type Iter, iterTargetOf } from "./attach/iter.js";
import { kindOfAttachType } from "./attach/kinds.js";
import type { LinkSet } from "./attach/link.js";
import { attachRawSocket } from "./attach/socket.js";
import { attachXdp, removeXdp, type XdpAttachOptions } from "./attach/xdp.js";
import { BpfBase } from "./bpf_base.js";
import type { LoadedFunction } from "./loader.js";
import type { Table } from "./maps/table.js";

const kindOf = (attachType: number): string => kindOfAttachType(attachType)?.name ?? "func";

export abstract class BpfTargets extends BpfBase {
  protected abstract readonly links: LinkSet;
  protected abstract readonly ctx: AttachContext;
  protected abstract check(): void;
  abstract getTable<T extends Table = Table>(name: string): T;

  protected detach(kinds: string[], target: string, fnName: string | undefined, what: string): void {
    this.check();
    this.links.remove(kinds, target, fnName, what);
  }

  /**
   * Attaches an iterator (BPF_ITER(task), SEC("iter/task"); over a table's elements: `map`); each read
   * runs it over the kernel's objects (iter.lines(), iter.records("struct info_t")). Linux 5.8+.
   * @throws AttachError listing this kernel's iterators when it lacks the target.
   */
  attachIter(opts: { fnName: string; map?: string }): Iter {
    this.check();
    const mapFd = opts.map === undefined ? undefined : this.getTable(opts.map).fd;
    const { link, iter } = attachIter(this.ctx, { fnName: opts.fnName, mapFd });
    this.links.add(link);
    return iter;
  }

  /** Detaches an iterator (fnName's). */
  detachIter(opts: { fnName: string }): void {
    this.detach(["iter"], iterTargetOf(this.ctx, opts.fnName), opts.fnName, `iterator ${opts.fnName}`);
  }

  /**
   * Attaches fnName to a cgroup v2 directory as a link (gone with the process): cgroup_skb, _sock, _sock_addr,
   * _sockopt, _sysctl, _device and sock_ops programs; attachType defaults to its section's. Linux 5.7+.
   */
  attachCgroup(opts: { fnName: string; cgroup: string; attachType?: AttachTypeSpec }): void {
    this.check();
    this.links.add(attachCgroup(this.ctx, opts));
  }

  /** Detaches fnName (or every function of this object) of that attach type from a cgroup. */
  detachCgroup(opts: { cgroup: string; attachType?: AttachTypeSpec; fnName?: string }): void {
    const t = attachTypeFor(this.ctx, opts.fnName ?? "", opts.attachType);
    this.detach([kindOf(t)], `${opts.cgroup}:${t}`, opts.fnName, `attach type ${t} on cgroup ${opts.cgroup}`);
  }

  /**
   * bcc's attach_func: BPF_PROG_ATTACH of fn to target (an fd, or a table: sk_msg and sk_skb programs on a
   * sockmap or sockhash) with an attach type; close() detaches it (a cgroup would keep it otherwise).
   */
  attachFunc(
    fn: string | LoadedFunction,
    target: number | string,
    attachType: AttachTypeSpec,
    flags = 0,
  ): void {
    this.check();
    const t = attachTypeFor(this.ctx, typeof fn === "string" ? fn : fn.name, attachType);
    const f = typeof fn === "string" ? loadForAttachType(this.ctx, fn, t) : fn;
    this.links.add(attachFunc(f, typeof target === "string" ? this.getTable(target).fd : target, t, flags));
  }

  /** bcc's detach_func. */
  detachFunc(fn: string | LoadedFunction, target: number | string, attachType: AttachTypeSpec): void {
    const name = typeof fn === "string" ? fn : fn.name;
    const t = attachTypeFor(this.ctx, name, attachType);
    const fd = typeof target === "string" ? this.getTable(target).fd : target;
    this.detach([kindOf(t)], `${fd}:${t}`, name, `${name} on ${String(target)}`);
  }

  /**
   * Attaches an XDP program (a function name, or a function loaded as
   * BPF.XDP) to device dev (bcc's attach_xdp); flags: XDP_FLAGS_SKB_MODE,
   * XDP_FLAGS_DRV_MODE, …; close() removes it if it is still there. Linux 4.8+.
   *
   * As a bpf_link where the kernel has XDP links (Linux 5.9+): the program
   * goes with the process however it ends, SIGKILL included. Over netlink,
   * as bcc does, with `{ netlink: true }`, with XDP_FLAGS_REPLACE, before
   * 5.9, and to replace a program attached over netlink: close() and the
   * exit handlers remove it, but a SIGKILL leaves it on the device.
   * @throws AttachError for an unknown or busy device; NotSupportedError when the driver lacks the mode.
   */
  attachXdp(dev: string, fn: string | LoadedFunction, flags = 0, opts: XdpAttachOptions = {}): void {
    this.check();
    const link = attachXdp(this.ctx, dev, fn, flags, opts);
    this.links.forget("xdp", link.target);
    this.links.add(link);
  }

  /** Removes device dev's XDP program, whichever it is, bpf_link or netlink (bcc's remove_xdp). */
  removeXdp(dev: string, flags = 0): void {
    this.check();
    this.links.forget("xdp", removeXdp(dev, flags));
  }

  /**
   * Opens a raw AF_PACKET socket on dev and attaches socket filter fn to it (bcc's
   * attach_raw_socket): the socket's fd (non-blocking), closed by close(). Linux 3.19+.
   */
  attachRawSocket(fn: string | LoadedFunction, dev: string): number {
    this.check();
    const { fd, link } = attachRawSocket(this.ctx, fn, dev);
    this.links.add(link);
    return fd;
  }
}
