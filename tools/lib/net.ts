/**
 * Shared by the TCP tools: addresses as glibc's inet_ntop writes them (bcc's
 * tools print with it), TCP state names, and the port lists of `-P 80,81`.
 * The BPF side sends an address as 16 bytes (tools/include/net.bpf.h): an
 * IPv4 address in the first 4.
 */
import { UsageError } from "./args.js";

export const AF_INET = 2;
export const AF_INET6 = 10;

/** An IPv4 address from its 4 bytes in network order. */
export function ipv4(bytes: ArrayLike<number>): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/**
 * An IPv6 address from its 16 bytes, as glibc's inet_ntop writes it: the
 * longest run of two or more zero groups (the first of equal ones) as "::",
 * lowercase hex, and the IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible
 * (::a.b.c.d) forms with a dotted tail.
 */
export function ipv6(bytes: ArrayLike<number>): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (w[i] === 0) {
      if (cur.base === -1) cur = { base: i, len: 1 };
      else cur.len++;
    } else if (cur.base !== -1) {
      if (best.base === -1 || cur.len > best.len) best = cur;
      cur = { base: -1, len: 0 };
    }
  }
  if (cur.base !== -1 && (best.base === -1 || cur.len > best.len)) best = cur;
  if (best.base !== -1 && best.len < 2) best = { base: -1, len: 0 };
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ":";
      continue;
    }
    if (i !== 0) out += ":";
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && w[5] === 0xffff))) {
      out += ipv4([bytes[12] ?? 0, bytes[13] ?? 0, bytes[14] ?? 0, bytes[15] ?? 0]);
      return out;
    }
    out += (w[i] as number).toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) out += ":";
  return out;
}

/** An address of `family` (AF_INET or AF_INET6) from the bytes the BPF side sent. */
export function formatAddr(family: number, bytes: ArrayLike<number>): string {
  return family === AF_INET6 ? ipv6(bytes) : ipv4(bytes);
}

/** bcc's IP column: 4 or 6. */
export function ipVersion(family: number): number {
  return family === AF_INET6 ? 6 : 4;
}

/** TCP states by number (include/net/tcp_states.h), as bcc's tcpstates names them. */
export const TCP_STATES: Record<number, string> = {
  1: "ESTABLISHED",
  2: "SYN_SENT",
  3: "SYN_RECV",
  4: "FIN_WAIT1",
  5: "FIN_WAIT2",
  6: "TIME_WAIT",
  7: "CLOSE",
  8: "CLOSE_WAIT",
  9: "LAST_ACK",
  10: "LISTEN",
  11: "CLOSING",
  12: "NEW_SYN_RECV",
  13: "BOUND_INACTIVE",
};

/** The name of TCP state n, or its number. */
export function tcpStateName(n: number): string {
  return TCP_STATES[n] ?? String(n);
}

/**
 * A comma-separated port list (`-P 80,81`), at most `max` ports, each 1 to
 * 65535; UsageError for anything else.
 */
export function parsePorts(text: string | undefined, option: string, max = 8): number[] {
  if (text === undefined) return [];
  const ports = text.split(",").map((p) => {
    const s = p.trim();
    const n = Number(s);
    if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new UsageError(`${option}: '${p}' is not a port`);
    return n;
  });
  if (ports.length > max) throw new UsageError(`${option}: at most ${max} ports`);
  return ports;
}

/** A fixed-size array of `n` ports for a BPF read-only global, zero-filled. */
export function portArray(ports: number[], n = 8): number[] {
  return Array.from({ length: n }, (_, i) => ports[i] ?? 0);
}

/** bcc's options that take a pinned map of its own (--cgroupmap, --mntnsmap): tsbpf's tools filter with --cgroup. */
export const PINNED_MAP_OPTIONS = [
  { long: "cgroupmap", type: "string", help: "trace cgroups in this BPF map only (use --cgroup PATH)" },
  { long: "mntnsmap", type: "string", help: "trace mount namespaces in this BPF map only (not supported)" },
] as const;

/** UsageError for bcc's pinned-map filters, which tsbpf's tools replace with --cgroup. */
export function rejectPinnedMaps(a: { str(n: string): string | undefined }): void {
  if (a.str("cgroupmap") !== undefined)
    throw new UsageError("--cgroupmap: a bcc-made pinned cgroup map is not used; filter with --cgroup PATH");
  if (a.str("mntnsmap") !== undefined)
    throw new UsageError("--mntnsmap: mount namespace maps are not supported; filter with --cgroup PATH");
}

const TCP_FLAGS: Array<[number, string]> = [
  [0x01, "FIN"],
  [0x02, "SYN"],
  [0x04, "RST"],
  [0x08, "PSH"],
  [0x10, "ACK"],
  [0x20, "URG"],
  [0x40, "ECE"],
  [0x80, "CWR"],
];

/** TCP header flags as bcc's tcp.flags2str writes them ("SYN|ACK"). */
export function tcpFlags(flags: number): string {
  return TCP_FLAGS.filter(([bit]) => flags & bit)
    .map(([, name]) => name)
    .join("|");
}
const PROTOCOLS: Record<number, string> = {
  0: "HOPOPTS",
  1: "ICMP",
  2: "IGMP",
  4: "IPIP",
  6: "TCP",
  8: "EGP",
  12: "PUP",
  17: "UDP",
  22: "IDP",
  29: "TP",
  41: "IPV6",
  43: "ROUTING",
  44: "FRAGMENT",
  46: "RSVP",
  47: "GRE",
  50: "ESP",
  51: "AH",
  58: "ICMPV6",
  59: "NONE",
  60: "DSTOPTS",
  103: "PIM",
  132: "SCTP",
  136: "UDPLITE",
  255: "RAW",
  262: "MPTCP",
};

/** bcc's L4Proto.proto2str: the IPPROTO_ name without its prefix, or UNKNOWN. */
export function protoName(proto: number): string {
  return PROTOCOLS[proto] ?? "UNKNOWN";
}
