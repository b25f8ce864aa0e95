/**
 * XDP programs on network devices (Linux 4.8+; generic "SKB" mode 4.12+):
 * bcc's flags, and the errors a user can act on.
 */
import { Errno, ProgType } from "../kernel/constants.js";
import { AttachError, BpfError, isNativeError, NotSupportedError } from "../kernel/errors.js";
import type { LoadedFunction } from "../loader.js";
import { native } from "../native.js";
import type { AttachContext } from "./context.js";
import { attachFailure, type Link } from "./link.js";
import { ifindexOf } from "./netdev.js";

/** What an XDP program returns (enum xdp_action), as bcc's XDPAction names them. */
export const XDPAction = {
  /** Drop, counted as an error (the xdp_exception tracepoint fires). */
  XDP_ABORTED: 0,
  XDP_DROP: 1,
  XDP_PASS: 2,
  /** Send back out of the device it came in on. */
  XDP_TX: 3,
  /** To another device, CPU or AF_XDP socket, chosen by bpf_redirect / bpf_redirect_map (Linux 4.14+). */
  XDP_REDIRECT: 4,
} as const;

/** Only attach when no XDP program is attached yet (Linux 4.8+). */
export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1;
/** Generic XDP, in the kernel's receive path after the skb is built; works on every device (Linux 4.12+). */
export const XDP_FLAGS_SKB_MODE = 2;
/** Native XDP in the driver (Linux 4.12+ as a flag; the driver must support it). */
export const XDP_FLAGS_DRV_MODE = 4;
/** Offloaded to the NIC (Linux 4.13+; few NICs). */
export const XDP_FLAGS_HW_MODE = 8;
/** Replace only the program given as the old one (Linux 5.7+). */
export const XDP_FLAGS_REPLACE = 16;

/** The flags of attachXdp, as bcc's XDPFlags names them. */
export const XDPFlags = {
  UPDATE_IF_NOEXIST: XDP_FLAGS_UPDATE_IF_NOEXIST,
  SKB_MODE: XDP_FLAGS_SKB_MODE,
  DRV_MODE: XDP_FLAGS_DRV_MODE,
  HW_MODE: XDP_FLAGS_HW_MODE,
  REPLACE: XDP_FLAGS_REPLACE,
} as const;

/** The attach mode bits of flags (Linux 4.12+). */
export const XDP_FLAGS_MODES = XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE;

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
        : "an XDP program is already attached in another mode (or the program to replace is not the one attached)",
      "remove it first (removeXdp, or `ip link set dev DEV xdp off`)",
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

/**
 * Attaches an XDP program to device dev (netlink, as bcc does: it stays when
 * the process ends, until removed). The link removes it again, but only if it
 * is still the program there (XDP_FLAGS_REPLACE, Linux 5.7+; before, whatever
 * program is there).
 */
export function attachXdp(ctx: AttachContext, dev: string, fn: string | LoadedFunction, flags: number): Link {
  const ifindex = ifindexOf(dev);
  const f = typeof fn === "string" ? ctx.loadFunc(fn, ProgType.XDP) : fn;
  if (f.type !== ProgType.XDP)
    throw new BpfError(`attachXdp: ${f.name} is loaded as program type ${f.type}, not BPF.XDP`);
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

/** Removes device dev's XDP program, whichever it is (bcc's remove_xdp); returns its link key. */
export function removeXdp(dev: string, flags: number): string {
  const ifindex = ifindexOf(dev);
  try {
    native().xdpDetach(ifindex, flags & XDP_FLAGS_MODES, -1);
  } catch (err) {
    if (!isNativeError(err)) throw err;
    throw new AttachError(`XDP on ${dev}`, `removing it failed: ${err.message}`, undefined, {
      errno: err.errno,
      cause: err,
    });
  }
  return `xdp:${ifindex}`;
}
