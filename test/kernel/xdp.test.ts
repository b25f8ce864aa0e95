/**
 * XDP and socket filters on a veth pair the test creates: one end in a
 * network namespace of its own (tsbpf-test-PID, address 10.213.X.1), the
 * other in ours with no address, IPv4 forwarding off on it and IPv6 off on
 * both. ICMP echo requests (TTL 1) sent from inside the namespace to
 * 10.213.X.2 (a static neighbour entry: the host end's MAC) arrive on the
 * host end, where the programs see them; nothing leaves the pair, and the
 * host's own interfaces are never touched.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  AttachError,
  BPF,
  NotSupportedError,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_SKB_MODE,
  XDP_FLAGS_UPDATE_IF_NOEXIST,
  XDPAction,
} from "../../src/index.js";
import { native } from "../../src/native.js";
import { repoRoot, skipUnlessRoot, startNode, testTempDir, waitFor } from "../helpers.js";
import { ip, netToolsMissing, sendIcmp as sendIcmpTo, setSysctl } from "../net.js";

const ns = `tsbpf-test-${process.pid}`;
const host = `tb${process.pid}h`;
const peer = `tb${process.pid}n`;
const net = `10.213.${(process.pid % 250) + 1}`;

/** The ids of the XDP bpf_links on the host end. */
function xdpLinks(): number[] {
  return native().xdpLinkIds(native().ifNameToIndex(host));
}

/** Sends n ICMP echo requests from inside the namespace to the host end. */
function sendIcmp(n: number): void {
  sendIcmpTo(`${net}.2`, n, ns);
}

const PROGRAMS = `
#include <linux/bpf.h>
BPF_HASH(icmp, u32, u64);
int count_icmp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *iph = (void *)(eth + 1);
    if ((void *)(iph + 1) > end || iph->protocol != IPPROTO_ICMP)
        return XDP_PASS;
    u32 src = iph->saddr;
    icmp.increment(src);
    return XDP_DROP;
}
int only_icmp(struct __sk_buff *skb)
{
    if (load_half(skb, 12) != ETH_P_IP)
        return 0;
    return load_byte(skb, ETH_HLEN + offsetof(struct iphdr, protocol)) == IPPROTO_ICMP ? -1 : 0;
}`;

/** The source address 10.213.X.1 as the map key (network order read as a little-endian u32). */
function srcKey(): number {
  const [a, b, c, d] = `${net}.1`.split(".").map(Number) as [number, number, number, number];
  return (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
}

/** Reads every packet waiting on a non-blocking socket fd. */
function drain(fd: number): Buffer[] {
  const out: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    try {
      const n = readSync(fd, buf);
      out.push(Buffer.from(buf.subarray(0, n)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EAGAIN") return out;
      throw err;
    }
  }
}

describe("XDP and socket filters", { skip: skipUnlessRoot || netToolsMissing }, () => {
  before(() => {
    ip("netns", "add", ns);
    ip("link", "add", host, "type", "veth", "peer", "name", peer);
    ip("link", "set", peer, "netns", ns);
    setSysctl(`net.ipv6.conf.${host}.disable_ipv6`, "1");
    setSysctl(`net.ipv4.conf.${host}.forwarding`, "0");
    setSysctl(`net.ipv6.conf.${peer}.disable_ipv6`, "1", ns);
    ip("-n", ns, "addr", "add", `${net}.1/24`, "dev", peer);
    ip("-n", ns, "link", "set", peer, "up");
    ip("link", "set", host, "up");
    const mac = readFileSync(`/sys/class/net/${host}/address`, "utf8").trim();
    ip("-n", ns, "neigh", "add", `${net}.2`, "lladdr", mac, "dev", peer);
  });
  after(() => {
    spawnSync("ip", ["netns", "del", ns]);
    // Deleting the namespace deletes its end, and with it the pair.
    if (existsSync(`/sys/class/net/${host}`)) spawnSync("ip", ["link", "del", host]);
  });

  it("counts ICMP with an XDP program, then removeXdp leaves the device without XDP", async () => {
    const b = await BPF.load({ text: PROGRAMS });
    try {
      b.attachXdp(host, "count_icmp", XDP_FLAGS_SKB_MODE);
      assert.match(ip("link", "show", host), /xdpgeneric/);
      const id = /prog\/xdp id (\d+) name count_icmp/.exec(ip("link", "show", host))?.[1];
      assert.ok(id !== undefined, "ip link shows the program");
      const q = native().xdpQuery(native().ifNameToIndex(host));
      assert.deepEqual([q.skbProgId, q.drvProgId, q.attachMode], [Number(id), 0, 2 /* XDP_ATTACHED_SKB */]);
      sendIcmp(3);
      const icmp = b.getTable("icmp");
      assert.equal(icmp.get(srcKey()), 3n);
      b.removeXdp(host, XDP_FLAGS_SKB_MODE);
      assert.doesNotMatch(ip("link", "show", host), /xdp/);
      sendIcmp(1);
      assert.equal(icmp.get(srcKey()), 3n, "removed: no more counts");
    } finally {
      b.close();
    }
  });

  it("attaches in the default mode (native XDP on veth), refuses a second program with UPDATE_IF_NOEXIST, and close() removes it", async () => {
    const b = await BPF.load({ text: PROGRAMS });
    try {
      const fn = b.loadFunc("count_icmp", BPF.XDP);
      b.attachXdp(host, fn);
      assert.match(ip("link", "show", host), /\bxdp\b/);
      assert.throws(
        () => b.attachXdp(host, fn, XDP_FLAGS_UPDATE_IF_NOEXIST),
        (err: unknown) => err instanceof AttachError && /already attached/.test(err.message),
      );
      sendIcmp(2);
      assert.equal(b.getTable("icmp").get(srcKey()), 2n);
    } finally {
      b.close();
    }
    assert.doesNotMatch(ip("link", "show", host), /xdp/, "close() removed it");
  });

  it("close() leaves alone an XDP program that replaced its own", async () => {
    const first = await BPF.load({ text: PROGRAMS });
    const second = await BPF.load({ text: PROGRAMS });
    try {
      first.attachXdp(host, "count_icmp", XDP_FLAGS_SKB_MODE);
      const links = xdpLinks();
      assert.equal(links.length, 1);
      second.attachXdp(host, "count_icmp", XDP_FLAGS_SKB_MODE);
      // A link cannot be replaced: the same link runs the second program now (BPF_LINK_UPDATE).
      assert.deepEqual(xdpLinks(), links);
      first.close();
      assert.match(ip("link", "show", host), /xdpgeneric/, "the second object's program is still there");
      sendIcmp(1);
      assert.equal(second.getTable("icmp").get(srcKey()), 1n);
      second.close();
      assert.doesNotMatch(ip("link", "show", host), /xdp/);
    } finally {
      first.close();
      second.close();
    }
  });

  it("attaches as a bpf_link (Linux 5.9+), which netlink cannot remove; { netlink: true } attaches over netlink, as bcc does", async () => {
    await using b = await BPF.load({ text: PROGRAMS });
    b.attachXdp(host, "count_icmp", XDP_FLAGS_SKB_MODE);
    assert.equal(xdpLinks().length, 1, "a bpf_link");
    const off = spawnSync("ip", ["link", "set", "dev", host, "xdpgeneric", "off"], { encoding: "utf8" });
    assert.notEqual(off.status, 0);
    assert.match(off.stderr, /Can't replace active BPF XDP link/);
    sendIcmp(1);
    assert.equal(b.getTable("icmp").get(srcKey()), 1n);
    b.removeXdp(host, XDP_FLAGS_SKB_MODE);
    assert.doesNotMatch(ip("link", "show", host), /xdp/);
    assert.deepEqual(xdpLinks(), [], "removeXdp closed the link");

    b.attachXdp(host, "count_icmp", XDP_FLAGS_SKB_MODE, { netlink: true });
    assert.match(ip("link", "show", host), /xdpgeneric/);
    assert.deepEqual(xdpLinks(), [], "no bpf_link");
    // A link cannot replace it, and with UPDATE_IF_NOEXIST nothing may.
    assert.throws(
      () => b.attachXdp(host, "count_icmp", XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST),
      (err: unknown) => err instanceof AttachError && /UPDATE_IF_NOEXIST/.test(err.message),
    );
    // Without it, bcc's attach replaces it: over netlink, since a link cannot.
    const id = /prog\/xdp id (\d+)/.exec(ip("link", "show", host))?.[1];
    await using other = await BPF.load({ text: PROGRAMS });
    other.attachXdp(host, "count_icmp", XDP_FLAGS_SKB_MODE);
    const now = /prog\/xdp id (\d+)/.exec(ip("link", "show", host))?.[1];
    assert.ok(now !== undefined && now !== id, `replaced: ${id} → ${now}`);
    assert.deepEqual(xdpLinks(), [], "replaced over netlink");
    b.close();
    assert.equal(
      /prog\/xdp id (\d+)/.exec(ip("link", "show", host))?.[1],
      now,
      "b's close() leaves other's program",
    );
    other.close();
    assert.doesNotMatch(ip("link", "show", host), /xdp/);
  });

  it("removeXdp detaches another process's XDP link (BPF_LINK_DETACH), which netlink cannot", async () => {
    const path = join(testTempDir("tsbpf-xdp"), "holder.mjs");
    writeFileSync(
      path,
      `import { BPF, XDP_FLAGS_SKB_MODE } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};
const b = await BPF.load({ text: "int pass(struct xdp_md *ctx) { return XDP_PASS; }" });
b.attachXdp(${JSON.stringify(host)}, "pass", XDP_FLAGS_SKB_MODE);
console.log("attached");
setInterval(() => {}, 1000);
`,
    );
    const holder = startNode(relative(join(repoRoot, "dist"), path));
    try {
      await waitFor(() => holder.stdout().includes("attached"), 30_000);
      assert.match(holder.stdout(), /attached/, holder.stderr());
      assert.match(ip("link", "show", host), /prog\/xdp id \d+ name pass/);
      assert.equal(xdpLinks().length, 1, "the holder's bpf_link");
      BPF.removeXdp(host, XDP_FLAGS_SKB_MODE);
      assert.doesNotMatch(ip("link", "show", host), /xdp/);
      assert.deepEqual(xdpLinks(), []);
      assert.equal(holder.child.exitCode, null, "the holder still runs");
    } finally {
      holder.child.kill("SIGTERM");
      await holder.exited;
    }
  });

  it("BPF.removeXdp needs no BPF object, and the XDP actions have the kernel's values", async () => {
    const b = await BPF.load({ text: PROGRAMS });
    try {
      b.attachXdp(host, "count_icmp", XDP_FLAGS_SKB_MODE);
      BPF.removeXdp(host, XDP_FLAGS_SKB_MODE);
      assert.doesNotMatch(ip("link", "show", host), /xdp/);
    } finally {
      b.close();
    }
    assert.deepEqual(
      [BPF.XDP_ABORTED, BPF.XDP_DROP, BPF.XDP_PASS, BPF.XDP_TX, BPF.XDP_REDIRECT],
      [
        XDPAction.XDP_ABORTED,
        XDPAction.XDP_DROP,
        XDPAction.XDP_PASS,
        XDPAction.XDP_TX,
        XDPAction.XDP_REDIRECT,
      ],
    );
    // A program that returns the action it is compiled with; a raw socket on the device (whose
    // taps run after generic XDP) sees what XDP_PASS lets through and nothing of what XDP_DROP drops.
    const verdict = `
#include <linux/bpf.h>
BPF_ARRAY(seen, u64, 1);
int v(struct xdp_md *ctx) { seen.increment(0); return VERDICT; }`;
    await using tap = await BPF.load({ text: PROGRAMS });
    const fd = tap.attachRawSocket("only_icmp", host);
    for (const [action, passed] of [
      [BPF.XDP_PASS, 2],
      [BPF.XDP_DROP, 0],
    ] as const) {
      await using p = await BPF.load({ text: verdict, cflags: [`-DVERDICT=${action}`] });
      p.attachXdp(host, "v", XDP_FLAGS_SKB_MODE);
      drain(fd);
      sendIcmp(2);
      assert.equal(p.getTable("seen").get(0), 2n);
      assert.equal(drain(fd).length, passed, `action ${action}`);
    }
  });

  it("says which device does not exist, and which mode the driver lacks", async () => {
    await using b = await BPF.load({ text: PROGRAMS });
    assert.throws(
      () => b.attachXdp(`${host}x`, "count_icmp"),
      (err: unknown) =>
        err instanceof AttachError && /no such device/.test(err.message) && /did you mean/.test(err.message),
    );
    // lo has no native XDP (the attach fails before anything is attached to it).
    assert.throws(
      () => b.attachXdp("lo", "count_icmp", XDP_FLAGS_DRV_MODE),
      (err: unknown) => {
        assert.ok(err instanceof NotSupportedError, String(err));
        assert.equal(err.feature, "native (XDP_FLAGS_DRV_MODE) XDP on lo");
        assert.match(err.alternative ?? "", /XDP_FLAGS_SKB_MODE/);
        return true;
      },
    );
    assert.throws(() => b.attachXdp(host, b.loadFunc("only_icmp", BPF.SOCKET_FILTER)), /not BPF.XDP/);
  });

  it("delivers the packets a socket filter keeps to the raw socket attachRawSocket returns", async () => {
    const b = await BPF.load({ text: PROGRAMS });
    try {
      const sock = b.attachRawSocket("only_icmp", host);
      assert.ok(sock > 0);
      drain(sock);
      sendIcmp(2);
      const packets = drain(sock);
      assert.equal(packets.length, 2);
      for (const p of packets) {
        assert.equal(p.readUInt16BE(12), 0x0800, "IPv4");
        assert.equal(p[14 + 9], 1, "ICMP");
        assert.equal(p.subarray(14 + 12, 14 + 16).join("."), `${net}.1`);
        assert.equal(p[14 + 20], 8, "echo request");
      }
      b.close();
      assert.throws(() => readSync(sock, Buffer.alloc(16)), { code: "EBADF" }, "close() closed the socket");
    } finally {
      b.close();
    }
  });

  it("has the kernel headers' htons, ntohs, htonl and ntohl (bcc's XDP programs call them)", async () => {
    await using b = await BPF.load({
      text: `
BPF_HASH(seen, u32, u64);
int by_host_order(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != htons(ETH_P_IP) || ntohs(eth->h_proto) != ETH_P_IP)
        return XDP_PASS;
    struct iphdr *iph = (void *)(eth + 1);
    if ((void *)(iph + 1) > end || iph->protocol != IPPROTO_ICMP)
        return XDP_PASS;
    u32 src = ntohl(iph->saddr);
    if (htonl(src) == iph->saddr)
        seen.increment(src);
    return XDP_PASS;
}`,
    });
    b.attachXdp(host, "by_host_order", XDP_FLAGS_SKB_MODE);
    sendIcmp(2);
    const [a, b2, c, d] = `${net}.1`.split(".").map(Number) as [number, number, number, number];
    assert.equal(b.getTable("seen").get(((a << 24) | (b2 << 16) | (c << 8) | d) >>> 0), 2n);
  });

  it("answers the feature probes", () => {
    assert.equal(BPF.supports("xdp"), "yes");
    assert.equal(BPF.supports("socket_filter"), "yes");
    assert.equal(BPF.supports("helper:bpf_xdp_adjust_head@xdp"), "yes");
  });
});
