// SPDX-License-Identifier: Apache-2.0
/* tcp-retransmit: TCP segments retransmitted, by local and remote address
 * and port, for tcp-retransmit.yaml, from the tcp:tcp_retransmit_skb
 * tracepoint (Linux 4.15+) as a raw tracepoint (4.17+): its first argument
 * is the socket, whose addresses are read here, so the program does not
 * depend on the event's record, which has changed over the years.
 *
 * IPv4 addresses are kept as IPv4-mapped IPv6 ones (::ffff:a.b.c.d), which
 * the inet_ip decoder prints as plain IPv4, so one key holds both families.
 *
 * A client's port is ephemeral: one label value per connection would give
 * the metric a series per connection. Ports from EPHEMERAL_MIN up are
 * counted as port 0, which the config shows as "ephemeral". Set
 * EPHEMERAL_MIN to the start of net.ipv4.ip_local_port_range where it is
 * not the default, or above 65535 to keep every port (a server listening
 * on a high port, at the cost of a series per client connection). */
#include "exporter.bpf.h"

/* The start of Linux's default ephemeral port range (32768-60999). */
#define EPHEMERAL_MIN 32768

#define FAMILY_INET 2
#define FAMILY_INET6 10

struct flow_key {
    u8 saddr[16]; /* local address */
    u8 daddr[16]; /* remote address */
    u16 sport;    /* local port, or 0 when ephemeral */
    u16 dport;    /* remote port, or 0 when ephemeral */
};

/* An LRU map: its size bounds the series too, the least recent flows
 * making room for new ones. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct flow_key);
    __type(value, u64);
} tcp_retransmits_total SEC(".maps");

static __always_inline u16 fold_port(u16 port)
{
    return port >= EPHEMERAL_MIN ? 0 : port;
}

/* An IPv4 address (network order) as ::ffff:a.b.c.d. */
static __always_inline void v4_mapped(u8 out[16], __be32 addr)
{
    __builtin_memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    __builtin_memcpy(out + 12, &addr, 4);
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(on_retransmit, const struct sock *sk)
{
    struct flow_key key = {};
    u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

    if (family == FAMILY_INET) {
        v4_mapped(key.saddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
        v4_mapped(key.daddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
    } else if (family == FAMILY_INET6) {
        BPF_CORE_READ_INTO(&key.saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
        BPF_CORE_READ_INTO(&key.daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
    } else {
        return 0;
    }
    key.sport = fold_port(BPF_CORE_READ(sk, __sk_common.skc_num));
    key.dport = fold_port(bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)));
    map_add(&tcp_retransmits_total, &key, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
