// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * XDP programs on network devices (Linux 4.8+; generic "SKB" mode 4.12+):
 * bcc's flags, and the errors a user can act on. Attached as a bpf_link
 * where the kernel has XDP links (Linux 5.9+), so that nothing outlives the
 * process, even a SIGKILL; over netlink (bpf_xdp_attach) as the fallback,
 * and on request (bcc's way: the program stays on the device until removed).
 */
import { Errno, ProgType } from "../kernel/constants.js";
import { AttachError, BpfError, isNativeError, NotSupportedError } from "../kernel/errors.js";
import type { LoadedFunction } from "../loader.js";
import { type NativeError, native } from "../native.js";
import type { AttachContext } from "./context.js";
import { attachFailure, type Link } from "./link.js";
import { ifindexOf } from "./netdev.js";
import {
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_HW_MODE,
  XDP_FLAGS_MODES,
  XDP_FLAGS_REPLACE,
  XDP_FLAGS_SKB_MODE,
  XDP_FLAGS_UPDATE_IF_NOEXIST,
} from "./xdp_constants.js";

// XDP's numbers, as this module has always exported them
export * from "./xdp_constants.js";

function modeName(flags: number): string {
  if (flags & XDP_FLAGS_HW_MODE) return "offloaded (XDP_FLAGS_HW_MODE)";
  if (flags & XDP_FLAGS_DRV_MODE) return "native (XDP_FLAGS_DRV_MODE)";
  if (flags & XDP_FLAGS_SKB_MODE) return "generic (XDP_FLAGS_SKB_MODE)";
  return "default (native when the driver supports it, else generic)";
}

/** The error for a failed XDP attach (Linux 4.8+). */
export function xdpAttachError(dev: string, flags: number, errno: number, cause: unknown): BpfError {
  const E = Errno;
  const what = `XDP on ${dev}`;
  if (errno === E.EBUSY || errno === E.EEXIST) {
    return new AttachError(
      what,
      flags & XDP_FLAGS_UPDATE_IF_NOEXIST
        ? "an XDP program is already attached and XDP_FLAGS_UPDATE_IF_NOEXIST forbids replacing it"
        : errno === E.EBUSY
          ? "an XDP program is already attached through a bpf_link (only its holder may replace it) or in another mode"
          : "an XDP program is already attached in another mode (native and generic XDP exclude each other), or the program to replace is not the one attached",
      "remove it first (removeXdp, or `ip link set dev DEV xdp off` for a program attached over netlink)",
      { errno, cause },
    );
  }
  if ((errno === E.EOPNOTSUPP || errno === E.ENOTSUPP) && flags & (XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE)) {
    return new NotSupportedError(
      `${modeName(flags)} XDP on ${dev}`,
      "the device's driver does not support that mode",
      "attach with XDP_FLAGS_SKB_MODE (generic XDP works on every device)",
      { errno, cause },
    );
  }
  if (errno === E.EINVAL) {
    return new AttachError(
      what,
      `the kernel refused the ${modeName(flags)} attach (EINVAL)`,
      "was the function loaded as BPF.XDP? is the MTU too large for native XDP on this driver?",
      { errno, cause },
    );
  }
  return new AttachError(what, (cause as Error).message, undefined, { errno, cause });
}

/** Options of attachXdp. */
export interface XdpAttachOptions {
  /**
   * Attach over netlink (bpf_xdp_attach), as bcc does, instead of as a
   * bpf_link: the program is set on the device rather than held by this
   * process's fd. close() and the exit handlers (return, uncaught exception,
   * SIGINT, SIGTERM) still remove it, but a SIGKILL leaves it on the device
   * until removeXdp or `ip link set dev DEV xdp off`, and any other netlink
   * attach (ip link, another tool) may replace it. Linux 4.8+. Implied by
   * XDP_FLAGS_REPLACE and on kernels before 5.9.
   */
  netlink?: boolean;
}

/**
 * The XDP links this process holds, by device and mode (offloaded programs
 * apart: a device can run one next to a native or generic one). `owner` is
 * the attach whose program the link runs now: linkUpdate hands the link to
 * the newer attach, and only that one's close() closes it.
 */
interface HeldLink {
  fd: number;
  mode: number;
  owner: object;
}
const held = new Map<string, HeldLink>();

function heldKey(ifindex: number, mode: number): string {
  return `${ifindex}:${mode & XDP_FLAGS_HW_MODE ? "hw" : "main"}`;
}

function heldLink(key: string, ifindex: number, fnName: string, h: HeldLink): Link {
  const owner = {};
  h.owner = owner;
  return {
    kind: "xdp",
    target: `xdp:${ifindex}`,
    fnName,
    close: () => {
      if (held.get(key)?.owner !== owner) return; // replaced, or removed by removeXdp
      held.delete(key);
      native().closeFd(h.fd);
    },
  };
}

/**
 * An XDP bpf_link (Linux 5.9+), or undefined where netlink must do it: the
 * kernel has no XDP links (EINVAL before 5.9; netlink then says whether the
 * attach itself is wrong), or a program attached over netlink is there and
 * flags let bcc's attach replace it, which a link cannot do. A link of this
 * process's in the same mode gets the new program (BPF_LINK_UPDATE, atomic).
 */
function attachLink(ifindex: number, dev: string, f: LoadedFunction, flags: number): Link | undefined {
  const mode = flags & XDP_FLAGS_MODES;
  const key = heldKey(ifindex, mode);
  let fd: number;
  try {
    // A link never replaces a program: UPDATE_IF_NOEXIST is what it does anyway (and the kernel refuses the flag).
    fd = native().xdpLinkCreate(ifindex, f.fd, flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST);
  } catch (err) {
    if (!isNativeError(err)) throw err;
    if (err.errno === Errno.EINVAL) return undefined;
    if (err.errno === Errno.EBUSY && !(flags & XDP_FLAGS_UPDATE_IF_NOEXIST)) {
      const h = held.get(key);
      if (h === undefined || h.mode !== mode) return undefined;
      try {
        native().linkUpdate(h.fd, f.fd);
      } catch (e) {
        throw attachFailure(e, `XDP on ${dev}`, (n) => xdpAttachError(dev, flags, n.errno, n));
      }
      return heldLink(key, ifindex, f.name, h);
    }
    throw attachFailure(err, `XDP on ${dev}`, (e) => xdpAttachError(dev, flags, e.errno, e));
  }
  const h: HeldLink = { fd, mode, owner: {} };
  held.set(key, h);
  return heldLink(key, ifindex, f.name, h);
}

/** Over netlink, as bcc does: the program stays on the device until removed. */
function attachNetlink(ifindex: number, dev: string, f: LoadedFunction, flags: number): Link {
  try {
    native().xdpAttach(ifindex, f.fd, flags, -1);
  } catch (err) {
    throw attachFailure(err, `XDP on ${dev}`, (e) => xdpAttachError(dev, flags, e.errno, e));
  }
  const mode = flags & XDP_FLAGS_MODES;
  return {
    kind: "xdp",
    target: `xdp:${ifindex}`,
    fnName: f.name,
    close: () => {
      try {
        native().xdpDetach(ifindex, mode | XDP_FLAGS_REPLACE, f.fd);
      } catch (err) {
        // Before 5.7 the kernel does not know XDP_FLAGS_REPLACE.
        if (isNativeError(err) && err.errno === Errno.EINVAL) native().xdpDetach(ifindex, mode, -1);
      }
    },
  };
}

/**
 * Attaches an XDP program to device dev. As a bpf_link where the kernel has
 * XDP links (Linux 5.9+): the program goes when the link's fd closes, on
 * close() or however the process ends, SIGKILL included. Over netlink, as
 * bcc does, with opts.netlink, with XDP_FLAGS_REPLACE, before 5.9, and to
 * replace a program attached over netlink (which a link cannot replace):
 * there close() removes the program, but only if it is still the one there
 * (XDP_FLAGS_REPLACE, Linux 5.7+; before, whatever program is there), and a
 * SIGKILL leaves it on the device.
 */
export function attachXdp(
  ctx: AttachContext,
  dev: string,
  fn: string | LoadedFunction,
  flags: number,
  opts: XdpAttachOptions = {},
): Link {
  const ifindex = ifindexOf(dev);
  const f = typeof fn === "string" ? ctx.loadFunc(fn, ProgType.XDP) : fn;
  if (f.type !== ProgType.XDP)
    throw new BpfError(`attachXdp: ${f.name} is loaded as program type ${f.type}, not BPF.XDP`);
  const link = opts.netlink || flags & XDP_FLAGS_REPLACE ? undefined : attachLink(ifindex, dev, f, flags);
  return link ?? attachNetlink(ifindex, dev, f, flags);
}

/**
 * Removes device dev's XDP program, whichever it is and however it was
 * attached (bcc's remove_xdp); returns its link key. This process's own XDP
 * links are closed; another process's XDP link is detached
 * (BPF_LINK_DETACH, Linux 5.9+), which netlink cannot do.
 */
export function removeXdp(dev: string, flags: number): string {
  const ifindex = ifindexOf(dev);
  const mode = flags & XDP_FLAGS_MODES;
  for (const [key, h] of held) {
    if (key.split(":")[0] !== String(ifindex)) continue;
    if (mode !== 0 && (h.mode & XDP_FLAGS_HW_MODE) !== (mode & XDP_FLAGS_HW_MODE)) continue;
    held.delete(key);
    native().closeFd(h.fd);
  }
  const failed = (err: NativeError): AttachError =>
    new AttachError(`XDP on ${dev}`, `removing it failed: ${err.message}`, undefined, {
      errno: err.errno,
      cause: err,
    });
  try {
    native().xdpDetach(ifindex, mode, -1);
  } catch (err) {
    if (!isNativeError(err)) throw err;
    // EBUSY: a bpf_link holds the program (netlink may not remove it).
    if (err.errno !== Errno.EBUSY) throw failed(err);
    try {
      if (native().xdpLinkDetach(ifindex) === 0) throw failed(err);
    } catch (e) {
      throw isNativeError(e) ? failed(e) : e;
    }
  }
  return `xdp:${ifindex}`;
}
