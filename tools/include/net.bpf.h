/* Shared by the TCP tools' BPF programs: address families, and reading a
 * struct sock's addresses and ports (CO-RE, so one object runs on every
 * kernel with BTF). Addresses travel as 16 bytes: an IPv4 address in the
 * first 4, network byte order, as tools/lib/net.ts formats them. */
#ifndef TSBPF_NET_BPF_H
#define TSBPF_NET_BPF_H

#include "tool.bpf.h"
#include <bpf/bpf_endian.h>

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* The -P/-L port lists the tools take (bcc's: up to 8 ports). */
#define MAX_PORTS 8

/* True when port is one of the first n of ports, or the list is empty. */
static __always_inline bool in_ports(u16 port, const volatile u16 *ports, int n)
{
    if (n == 0)
        return true;
#pragma unroll
    for (int i = 0; i < MAX_PORTS; i++) {
        if (i < n && ports[i] == port)
            return true;
    }
    return false;
}
#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#endif

/* An endpoint pair of a socket, as the tools send it. */
struct sk_ends {
    u8 saddr[16];
    u8 daddr[16];
    u16 lport; /* host order */
    u16 dport; /* host order */
    u16 family;
};

static __always_inline u16 sk_family(const struct sock *sk)
{
    return BPF_CORE_READ(sk, __sk_common.skc_family);
}

/* Reads the local and remote address and port of sk into e (e is zeroed by
 * the caller); the local address is the bound one (skc_rcv_saddr). */
static __always_inline void sk_read_ends(const struct sock *sk, struct sk_ends *e)
{
    e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
    e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
    e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    if (e->family == AF_INET6) {
        BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
        BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
    } else {
        BPF_CORE_READ_INTO((u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
        BPF_CORE_READ_INTO((u32 *)e->daddr, sk, __sk_common.skc_daddr);
    }
}

/* The ends of a sock:inet_sock_set_state event (its ports are host order;
 * its address arrays are read with a helper: the verifier refuses loads at a
 * computed offset into a tracepoint's context). */
static __always_inline void tp_read_ends(const struct trace_event_raw_inet_sock_set_state *ctx,
                                         struct sk_ends *e)
{
    e->family = ctx->family;
    e->lport = ctx->sport;
    e->dport = ctx->dport;
    if (ctx->family == AF_INET6) {
        bpf_probe_read_kernel(e->saddr, 16, ctx->saddr_v6);
        bpf_probe_read_kernel(e->daddr, 16, ctx->daddr_v6);
    } else {
        bpf_probe_read_kernel(e->saddr, 4, ctx->saddr);
        bpf_probe_read_kernel(e->daddr, 4, ctx->daddr);
    }
}

/* The socket's protocol (IPPROTO_TCP, …): a u16 of its own since 5.6, a
 * bitfield before. */
struct sock___pre56 {
    unsigned int sk_protocol : 8;
} __attribute__((preserve_access_index));

static __always_inline u16 sk_protocol(const struct sock *sk)
{
    if (bpf_core_field_size(sk->sk_protocol) == 2)
        return BPF_CORE_READ(sk, sk_protocol);
    return BPF_CORE_READ_BITFIELD_PROBED((struct sock___pre56 *)sk, sk_protocol);
}

#endif
