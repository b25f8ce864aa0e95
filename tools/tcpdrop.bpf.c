// SPDX-License-Identifier: Apache-2.0
/* tcpdrop: TCP packets the kernel drops, with their addresses, TCP flags,
 * the socket's state, the drop reason and the kernel stack, from the
 * skb:kfree_skb tracepoint (as a raw tracepoint: its arguments are the skb,
 * the location and, since 5.17, the reason). bcc uses a kprobe on tcp_drop
 * (gone since 5.19) or the same tracepoint; here the addresses and ports
 * come from the packet's headers, so drops without a socket (NO_SOCKET: a
 * segment to a closed port) are seen too. */
#include "net.bpf.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

const volatile u16 targ_family = 0;

struct event {
    u8 saddr[16];
    u8 daddr[16];
    u32 pid;
    u32 reason;
    s32 stack_id;
    u16 sport;
    u16 dport;
    u16 family;
    u8 state; /* 0: no socket */
    u8 tcpflags;
};

/* typed (not just sized) so that user space decodes the frames */
typedef u64 stack_frames_t[127];

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, stack_frames_t);
} stack_traces SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

SEC("raw_tp/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, int reason)
{
    u8 nh[40];
    u8 th[14];
    unsigned char *head;
    u16 proto, nhoff, family;
    u32 thoff;
    struct sock *sk;
    struct event *e;

    /* bcc: drops with a reason only (not NOT_SPECIFIED, nor a consumed skb) */
    if (reason <= bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED))
        return 0;
    proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
    head = BPF_CORE_READ(skb, head);
    nhoff = BPF_CORE_READ(skb, network_header);
    if (proto == ETH_P_IP) {
        family = AF_INET;
        if (bpf_probe_read_kernel(nh, 20, head + nhoff))
            return 0;
        if ((nh[0] >> 4) != 4 || nh[9] != IPPROTO_TCP)
            return 0;
        thoff = nhoff + (nh[0] & 0xf) * 4;
    } else if (proto == ETH_P_IPV6) {
        family = AF_INET6;
        if (bpf_probe_read_kernel(nh, 40, head + nhoff))
            return 0;
        /* the next header right after the fixed one (no extension headers) */
        if ((nh[0] >> 4) != 6 || nh[6] != IPPROTO_TCP)
            return 0;
        thoff = nhoff + 40;
    } else {
        return 0;
    }
    if (targ_family && targ_family != family)
        return 0;
    if (bpf_probe_read_kernel(th, sizeof(th), head + thoff))
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    __builtin_memset(e->saddr, 0, 32);
    if (family == AF_INET) {
        __builtin_memcpy(e->saddr, &nh[12], 4);
        __builtin_memcpy(e->daddr, &nh[16], 4);
    } else {
        __builtin_memcpy(e->saddr, &nh[8], 16);
        __builtin_memcpy(e->daddr, &nh[24], 16);
    }
    e->family = family;
    e->sport = (th[0] << 8) | th[1];
    e->dport = (th[2] << 8) | th[3];
    e->tcpflags = th[13];
    sk = BPF_CORE_READ(skb, sk);
    e->state = sk ? BPF_CORE_READ(sk, __sk_common.skc_state) : 0;
    e->reason = reason;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
