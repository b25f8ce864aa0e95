/** Network helpers of the socket tools: addresses and protocol names as bcc prints them. */

/** Python's inet_ntop for AF_INET (4 bytes) and AF_INET6 (16 bytes). */
export function inetNtop(family: number, bytes: Uint8Array | number[]): string {
  const b = Array.from(bytes);
  if (family === 2) return b.slice(0, 4).join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  // IPv4-mapped addresses print their IPv4 part dotted, as inet_ntop does
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b.slice(12, 16).join(".")}`;
  }
  // the longest run of two or more zero groups becomes "::"
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
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
