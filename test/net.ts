/** Network helpers for the kernel tests that build veth pairs in a namespace of their own. */
import { spawnSync } from "node:child_process";

/** A skip reason when ip (iproute2) or python3 is missing, else false. */
export const netToolsMissing: string | false =
  spawnSync("ip", ["-V"]).status === 0 && spawnSync("python3", ["-c", "pass"]).status === 0
    ? false
    : "needs iproute2 (ip) and python3";

/**
 * Sets a sysctl (dotted key) by writing /proc/sys, in network namespace `ns`
 * when given: procps's sysctl is not on every machine. Throws when it fails.
 */
export function setSysctl(key: string, value: string, ns?: string): void {
  const path = `/proc/sys/${key.replace(/\./g, "/")}`;
  const argv = ["sh", "-c", 'echo "$1" > "$2"', "sh", value, path];
  const r =
    ns === undefined
      ? spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8" })
      : spawnSync("ip", ["netns", "exec", ns, ...argv], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`setting ${key}=${value}${ns ? ` in ${ns}` : ""} failed: ${r.stderr}`);
}

/** Runs `ip args…` and returns its stdout; throws with ip's stderr when it fails. */
export function ip(...args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

// ICMP echo requests with TTL 1 (never routed further) from a raw socket: `ping`
// (iputils-ping) is not installed on the machines tsbpf is tested on.
const SEND_ICMP = `
import socket, struct, sys
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
for i in range(int(sys.argv[2])):
    body = struct.pack('!BBHHH', 8, 0, 0, 0x7473, i) + b'tsbpf!'
    s.sendto(struct.pack('!BBHHH', 8, 0, csum(body), 0x7473, i) + b'tsbpf!', (sys.argv[1], 0))
`;

/** Sends n ICMP echo requests to dst, from inside network namespace `ns` when given. */
export function sendIcmp(dst: string, n: number, ns?: string): void {
  const argv = ["python3", "-c", SEND_ICMP, dst, String(n)];
  const r =
    ns === undefined
      ? spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8" })
      : spawnSync("ip", ["netns", "exec", ns, ...argv], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`sending ICMP failed: ${r.stderr}`);
}
