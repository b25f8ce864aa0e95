// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Programs attached to a cgroup (cgroup_skb, cgroup_sock, cgroup_sock_addr,
 * cgroup_sockopt, cgroup_sysctl, cgroup_device, sock_ops) or to a socket map
 * (sk_skb, sk_msg), and bcc's attach_func / detach_func for any program on
 * any target fd. The attach type decides the program type (the attach-kind
 * table's attachTypes) and is also the expected attach type the program
 * loads with, which cgroup_sock_addr and cgroup_sockopt programs need
 * (Linux 4.17 / 5.3).
 *
 * attachCgroup makes a bpf_link (Linux 5.7+): it goes away with the process,
 * even on SIGKILL. attachFunc is BPF_PROG_ATTACH as bcc does it: a cgroup
 * keeps such a program after the process is gone unless it is detached
 * (close() does); a socket map drops it with the map.
 */
import { closeSync, constants, openSync } from "node:fs";
import { AttachType, Errno } from "../kernel/constants.js";
import { AttachError, BpfError, isNativeError } from "../kernel/errors.js";
import type { LoadedFunction } from "../loader.js";
import { native } from "../native.js";
import type { AttachContext } from "./context.js";
import { type AttachKind, attachTypeOfSection, kindOfAttachType } from "./kinds.js";
import { attachFailure, type Link, nativeLink } from "./link.js";

/** An attach type given as a number, BPF_CGROUP_INET4_CONNECT / CGROUP_INET4_CONNECT, or a libbpf section ("cgroup/connect4"). */
export type AttachTypeSpec = number | string;

function attachTypeNamed(spec: string): number | undefined {
  const byName = (AttachType as Record<string, number>)[spec.replace(/^BPF_/, "")];
  return byName ?? attachTypeOfSection(spec)?.attachType;
}

/** The attach type to use for fnName: the one given, or the one its libbpf section names. */
export function attachTypeFor(ctx: AttachContext, fnName: string, spec: AttachTypeSpec | undefined): number {
  if (typeof spec === "number") return spec;
  if (spec !== undefined) {
    const t = attachTypeNamed(spec);
    if (t === undefined)
      throw new BpfError(
        `unknown attach type ${spec}: give a BPF_* attach type name (BPF_CGROUP_INET4_CONNECT), its number, or a libbpf section (cgroup/connect4)`,
      );
    return t;
  }
  const fromSection = attachTypeOfSection(ctx.loader.sectionOf(fnName));
  if (fromSection) return fromSection.attachType;
  throw new BpfError(
    `${fnName} does not say how it attaches: pass attachType (e.g. BPFAttachType.CGROUP_INET4_CONNECT), or put it in a libbpf section such as SEC("cgroup/connect4")`,
  );
}

function kindFor(attachType: number): AttachKind {
  const kind = kindOfAttachType(attachType);
  if (!kind)
    throw new BpfError(`attach type ${attachType} is not one tsbpf attaches to a cgroup or socket map`);
  return kind;
}

/** Loads fnName as the program type an attach type needs, with that expected attach type. */
export function loadForAttachType(ctx: AttachContext, fnName: string, attachType: number): LoadedFunction {
  const kind = kindFor(attachType);
  if (!ctx.loader.info(fnName)) throw ctx.loader.noFunction(fnName);
  return ctx.loader.load(fnName, kind.progType, fnName, attachType);
}

/** Opens a cgroup directory for attaching; a typed error naming the path otherwise. */
function openCgroup(path: string): number {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AttachError(
      `cgroup ${path}`,
      code === "ENOENT" ? "no such cgroup" : code === "ENOTDIR" ? "not a directory" : (err as Error).message,
      "give a cgroup v2 directory (where cgroup2 is mounted: `grep cgroup2 /proc/mounts`), e.g. /sys/fs/cgroup/system.slice",
      { cause: err },
    );
  }
}

/** Attaches fnName to a cgroup v2 directory as a bpf_link (Linux 5.7+). */
export function attachCgroup(
  ctx: AttachContext,
  opts: { fnName: string; cgroup: string; attachType?: AttachTypeSpec },
): Link {
  const attachType = attachTypeFor(ctx, opts.fnName, opts.attachType);
  const kind = kindFor(attachType);
  if (kind.attachedTo !== "cgroup")
    throw new BpfError(
      `${opts.fnName}: ${kind.name} programs attach to a socket map (attachFunc), not a cgroup`,
    );
  const fn = loadForAttachType(ctx, opts.fnName, attachType);
  const fd = openCgroup(opts.cgroup);
  try {
    const link = native().attachCgroup(fn.object, fn.elfName, fd);
    return nativeLink(kind.name, `${opts.cgroup}:${attachType}`, opts.fnName, link);
  } catch (err) {
    throw attachFailure(err, `${kind.name} on cgroup ${opts.cgroup}`, (e) =>
      e.errno === Errno.EBADF || e.errno === Errno.EINVAL
        ? new AttachError(
            `${kind.name} on cgroup ${opts.cgroup}`,
            `the kernel refused it (${e.code}): ${opts.cgroup} is not a cgroup v2 directory, or the kernel has no cgroup links (Linux 5.7+)`,
            "cgroup v1 hierarchies cannot hold BPF programs: use the cgroup2 mount",
            { errno: e.errno, cause: e },
          )
        : undefined,
    );
  } finally {
    closeSync(fd);
  }
}

/**
 * bcc's attach_func: BPF_PROG_ATTACH of fn on targetFd with attachType (and
 * flags, e.g. BPF_F_ALLOW_MULTI); closing the Link detaches it.
 */
export function attachFunc(fn: LoadedFunction, targetFd: number, attachType: number, flags: number): Link {
  const kind = kindOfAttachType(attachType);
  try {
    native().progAttach(fn.fd, targetFd, attachType, flags);
  } catch (err) {
    throw attachFailure(err, `${fn.name} on fd ${targetFd} (attach type ${attachType})`);
  }
  return {
    kind: kind?.name ?? "func",
    target: `${targetFd}:${attachType}`,
    fnName: fn.name,
    close: () => {
      try {
        native().progDetach(fn.fd, targetFd, attachType);
      } catch (err) {
        // already detached, or the target is gone (a closed map drops its programs)
        if (!isNativeError(err)) throw err;
      }
    },
  };
}
