// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Socket filters on raw AF_PACKET sockets (SO_ATTACH_BPF, Linux 3.19+), as
 * bcc's attach_raw_socket: the program sees every packet of one device.
 */
import { ProgType } from "../kernel/constants.js";
import { AttachError, permissionErrorFor } from "../kernel/errors.js";
import type { LoadedFunction } from "../loader.js";
import { native } from "../native.js";
import type { AttachContext } from "./context.js";
import { attachFailure, type Link } from "./link.js";
import { ifindexOf } from "./netdev.js";

/**
 * Opens a raw AF_PACKET socket bound to dev receiving every packet
 * (ETH_P_ALL) and attaches socket filter fn to it (SO_ATTACH_BPF, Linux
 * 3.19+): the socket's fd, and the link that closes it.
 */
export function attachRawSocket(
  ctx: AttachContext,
  fn: string | LoadedFunction,
  dev: string,
): { fd: number; link: Link } {
  const ifindex = ifindexOf(dev);
  const f = typeof fn === "string" ? ctx.loadFunc(fn, ProgType.SOCKET_FILTER) : fn;
  let sock: number;
  try {
    sock = native().openRawSocket(ifindex);
  } catch (err) {
    throw attachFailure(err, `raw socket on ${dev}`, (e) =>
      permissionErrorFor(`opening a raw socket on ${dev}`, e.errno),
    );
  }
  try {
    native().attachSocketFilter(sock, f.fd);
  } catch (err) {
    native().closeFd(sock);
    throw attachFailure(
      err,
      `socket filter ${f.name} on ${dev}`,
      (e) =>
        new AttachError(
          `socket filter ${f.name} on ${dev}`,
          e.message,
          "was the function loaded as BPF.SOCKET_FILTER?",
          {
            errno: e.errno,
            cause: e,
          },
        ),
    );
  }
  return {
    fd: sock,
    link: {
      kind: "socket_filter",
      target: `socket:${sock}`,
      fnName: f.name,
      close: () => native().closeFd(sock),
    },
  };
}
