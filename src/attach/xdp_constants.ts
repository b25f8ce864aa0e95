/**
 * XDP's numbers (uapi/linux/bpf.h's enum xdp_action, uapi/linux/if_link.h's
 * XDP_FLAGS_*: stable ABI), apart from attach/xdp.ts so that BPF's static
 * names for them do not initialize the attach code.
 */

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
