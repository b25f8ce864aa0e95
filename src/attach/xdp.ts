/**
 * XDP programs on network devices (Linux 4.8+; generic "SKB" mode 4.12+)
 * and socket filters on raw AF_PACKET sockets (SO_ATTACH_BPF, Linux 3.19+):
 * devices by name, bcc's flags, and the errors a user can act on.
 */
import { readdirSync } from "node:fs";
import { Errno } from "../kernel/constants.js";
import { AttachError, type BpfError, NotSupportedError } from "../kernel/errors.js";
import { closestNames } from "../kernel/tracefs.js";
import { native } from "../native.js";

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

/** The attach mode bits of flags (Linux 4.12+). */
export const XDP_FLAGS_MODES = XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE;

/** Network devices of this network namespace (from /sys/class/net). */
function deviceNames(): string[] {
  try {
    return readdirSync("/sys/class/net");
  } catch {
    return [];
  }
}

/** The ifindex of device `dev` in this process's network namespace (any kernel). */
export function ifindexOf(dev: string): number {
  const idx = native().ifNameToIndex(dev);
  if (idx === 0) {
    const names = deviceNames();
    const close = closestNames(dev, names, 3);
    throw new AttachError(
      `network device ${dev}`,
      "no such device in this network namespace",
      close.length
        ? `did you mean ${close.join(", ")}?`
        : names.length
          ? `devices: ${names.join(", ")}`
          : undefined,
    );
  }
  return idx;
}

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
