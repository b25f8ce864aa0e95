// SPDX-License-Identifier: Apache-2.0
/* tcpretrans: TCP retransmits, from the tcp:tcp_retransmit_skb tracepoint
 * (as bcc's tcpretrans uses where the kernel has it), and with -l tail loss
 * probes, from a kprobe or fentry on tcp_send_loss_probe() (no tracepoint).
 * Both are sent from timers and softirqs: the PID is whichever task is
 * current. */
#include "net.bpf.h"

#define RETRANSMIT 1
#define TLP 2

const volatile u16 targ_family = 0;
const volatile bool do_count = false;

struct event {
    u8 saddr[16];
    u8 daddr[16];
    u32 pid;
    u32 seq;
    u16 lport;
    u16 dport;
    u16 family;
    u8 state;
    u8 type;
};

struct flow_key {
    u8 saddr[16];
    u8 daddr[16];
    u16 lport;
    u16 dport;
    u16 family;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct flow_key);
    __type(value, u64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

/* The tracepoint's first fields, the same on every kernel that has it (its
 * struct was trace_event_raw_tcp_event_sk_skb before 6.x gave it its own);
 * the rest is read from the socket. */
struct retransmit_args {
    u64 common;
    const void *skbaddr;
    const void *skaddr;
};

static __always_inline int record(const struct sock *sk, const struct sk_buff *skb, u8 type)
{
    struct sk_ends ends = {};
    u32 seq = 0;

    if (!sk)
        return 0;
    sk_read_ends(sk, &ends);
    if (ends.family != AF_INET && ends.family != AF_INET6)
        return 0;
    if (targ_family && targ_family != ends.family)
        return 0;
    if (skb) {
        /* TCP_SKB_CB(skb)->seq: the control block at skb->cb */
        const void *cb = (const void *)skb + bpf_core_field_offset(struct sk_buff, cb);

        seq = BPF_CORE_READ((struct tcp_skb_cb *)cb, seq);
    }
    if (do_count) {
        struct flow_key key = {.lport = ends.lport, .dport = ends.dport, .family = ends.family};
        __builtin_memcpy(key.saddr, ends.saddr, 16);
        __builtin_memcpy(key.daddr, ends.daddr, 16);
        counter_add(&counts, &key, 1);
        return 0;
    }
    struct event *e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    __builtin_memcpy(e->saddr, ends.saddr, 16);
    __builtin_memcpy(e->daddr, ends.daddr, 16);
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->seq = seq;
    e->lport = ends.lport;
    e->dport = ends.dport;
    e->family = ends.family;
    e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
    e->type = type;
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int on_retransmit(struct retransmit_args *ctx)
{
    return record(ctx->skaddr, ctx->skbaddr, RETRANSMIT);
}

SEC("kprobe/tcp_send_loss_probe")
int BPF_KPROBE(tlp_kprobe, struct sock *sk)
{
    return record(sk, NULL, TLP);
}

SEC("fentry/tcp_send_loss_probe")
int BPF_PROG(tlp_fentry, struct sock *sk)
{
    return record(sk, NULL, TLP);
}

char LICENSE[] SEC("license") = "GPL";
