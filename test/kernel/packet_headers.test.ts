/**
 * bcc's packet headers in the real kernel: a socket filter that walks a packet
 * with cursor_advance() and reads <bcc/proto.h> fields (`ip->ttl`,
 * `udp->dport`) sees the values of a datagram the test sends over loopback,
 * in host order, bit-fields included; a tc program that assigns fields and
 * updates the checksum with incr_cksum_l3 passes the verifier.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { after, describe, it } from "node:test";
import { BPF, CompileError } from "../../src/index.js";
import type { HashTable } from "../../src/maps/table.js";
import { skipUnlessRoot, waitFor } from "../helpers.js";

const FILTER = `
#include <bcc/proto.h>

struct seen_t {
    u32 type;
    u32 ver;
    u32 hlen;
    u32 ttl;
    u32 nextp;
    u32 src;
    u32 dst;
    u32 df;
    u32 sport;
};
BPF_HASH(seen, u32, struct seen_t);

/* A header of the program's own, marked as bcc's are. */
struct udp_ports_t {
    unsigned short sport;
    unsigned short dport;
} BPF_PACKET_HEADER;

int udp_fields(struct __sk_buff *skb)
{
    u8 *cursor = 0;
    struct ethernet_t *ethernet = cursor_advance(cursor, sizeof(*ethernet));
    if (ethernet->type != 0x0800)
        return 0;
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    if (ip->nextp != 17 || ip->hlen != 5)
        return 0;
    struct udp_ports_t *ports = cursor_advance(cursor, sizeof(*ports));
    u32 dport = ports->dport;
    struct seen_t s = {};
    s.type = ethernet->type;
    s.ver = ip->ver;
    s.hlen = ip->hlen;
    s.ttl = ip->ttl;
    s.nextp = ip->nextp;
    s.src = ip->src;
    s.dst = ip->dst;
    s.df = ip->df;
    s.sport = ports->sport;
    seen.update(&dport, &s);
    return 0;
}
`;

interface Seen {
  type: number;
  ver: number;
  hlen: number;
  ttl: number;
  nextp: number;
  src: number;
  dst: number;
  df: number;
  sport: number;
}

describe("bcc packet headers (cursor_advance)", { skip: skipUnlessRoot }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });

  it("a socket filter reads the fields of a datagram sent over loopback, in host order", async () => {
    const b = await BPF.load({ text: FILTER });
    open.push(b);
    assert.match(b.compiled.translated, /bpf_dext_pkt\(skb, \(u64\)ip \+ 8, 0, 8\)/, "ip->ttl: byte 8");
    b.attachRawSocket("udp_fields", "lo");
    const seen = b.getTable<HashTable<number, Seen>>("seen");
    const sock = createSocket("udp4");
    await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
    const sport = sock.address().port;
    sock.setTTL(37);
    const dport = 40000 + (process.pid % 20000);
    try {
      const got = await waitFor(() => {
        sock.send("tsbpf", dport, "127.0.0.1");
        return seen.get(dport) !== undefined;
      }, 5000);
      assert.ok(got, `no datagram to port ${dport} seen`);
    } finally {
      sock.close();
    }
    const s = seen.get(dport) as Seen;
    assert.equal(s.type, 0x0800, "ethernet->type");
    assert.equal(s.ver, 4, "ip->ver: the high nibble of byte 0");
    assert.equal(s.hlen, 5, "ip->hlen: the low nibble");
    assert.equal(s.ttl, 37, "ip->ttl: the TTL the socket set");
    assert.equal(s.nextp, 17, "UDP");
    assert.equal(s.src, 0x7f000001, "ip->src in host order");
    assert.equal(s.dst, 0x7f000001, "ip->dst in host order");
    assert.equal(s.df, 1, "ip->df: Linux sets don't-fragment on UDP over loopback (path MTU discovery)");
    assert.equal(s.sport, sport, "a field of the program's own BPF_PACKET_HEADER struct");
    b.close();
  });

  it("a tc program that assigns fields and updates the checksum passes the verifier", async () => {
    const b = await BPF.load({
      text: `
#include <bcc/proto.h>
int rewrite(struct __sk_buff *skb)
{
    u8 *cursor = 0;
    struct ethernet_t *ethernet = cursor_advance(cursor, sizeof(*ethernet));
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    if (ethernet->type != 0x0800)
        return 0;
    u32 old_src = ip->src;
    incr_cksum_l3(&ip->hchecksum, old_src, 0x0a000001);
    ip->src = 0x0a000001;
    ip->ttl -= 1;
    ip->tos = ip->tos | 0x10;
    return 0;
}`,
    });
    open.push(b);
    const translated = b.compiled.translated;
    assert.match(translated, /bpf_dins_pkt\(skb, \(u64\)ip \+ 12, 0, 32, \(0x0a000001\)\);/);
    assert.match(
      translated,
      /bpf_dins_pkt\(skb, \(u64\)ip \+ 8, 0, 8, bpf_dext_pkt\(skb, \(u64\)ip \+ 8, 0, 8\) - \(1\)\)/,
    );
    assert.match(translated, /__tsbpf_incr_cksum_l3\(skb, &ip->hchecksum, old_src, 0x0a000001\)/);
    assert.ok(b.loadFunc("rewrite", BPF.SCHED_CLS).fd > 0);
    b.close();
  });

  it("refuses what it cannot translate, naming the field", async () => {
    await assert.rejects(
      BPF.load({
        text: `
#include <bcc/proto.h>
int f(struct __sk_buff *skb)
{
    u8 *cursor = 0;
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    ip->ttl--;
    return 0;
}`,
      }),
      (err: unknown) => {
        assert.ok(err instanceof CompileError, String(err));
        assert.match(
          err.message,
          /:7:12: error: packet header field ip->ttl-- is not translated: write ip->ttl = ip->ttl - 1/,
        );
        return true;
      },
    );
  });
});
