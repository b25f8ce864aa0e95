// @init-at-first-use (scripts/bundle_rewrite.mjs)
/** Network devices by name, for the hooks that attach to one (XDP, raw sockets). */
import { readdirSync } from "node:fs";
import { AttachError } from "../kernel/errors.js";
import { closestNames } from "../kernel/tracefs.js";
import { native } from "../native.js";

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
