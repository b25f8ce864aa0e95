// SPDX-License-Identifier: Apache-2.0
/* tcpconnlat: TCP active connection latency, from the
 * sock:inet_sock_set_state tracepoint: CLOSE -> SYN_SENT (in the connecting
 * task, inside connect()) stamps the socket, SYN_SENT -> ESTABLISHED (the
 * SYN-ACK's arrival, in softirq context) measures it. bcc uses kprobes on
 * tcp_v4_connect/tcp_v6_connect and tcp_rcv_state_process. */
#include "net.bpf.h"

const volatile pid_t targ_tgid = 0;
const volatile u16 targ_family = 0;
const volatile u64 min_us = 0;

struct info_t {
    u64 ts;
    u32 pid;
    char comm[16];
};

struct event {
    u8 saddr[16];
    u8 daddr[16];
    u64 ts_us;
    u64 delta_us;
    u32 pid;
    u16 lport;
    u16 dport;
    u16 family;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, struct info_t);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
    u64 sk = (u64)ctx->skaddr;
    /* each field read once: clang may otherwise address one through a
     * computed ctx pointer, which the verifier refuses */
    int oldstate = ctx->oldstate, newstate = ctx->newstate;
    u16 family = ctx->family;
    struct info_t *infop;
    struct event *e;
    u64 now, delta_us;

    if (ctx->protocol != IPPROTO_TCP)
        return 0;
    if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
        u64 id = bpf_get_current_pid_tgid();
        struct info_t info = {.ts = bpf_ktime_get_ns(), .pid = id >> 32};

        if (targ_tgid && targ_tgid != info.pid)
            return 0;
        if (targ_family && targ_family != family)
            return 0;
        if (!tool_cgroup_ok())
            return 0;
        bpf_get_current_comm(info.comm, sizeof(info.comm));
        bpf_map_update_elem(&start, &sk, &info, BPF_ANY);
        return 0;
    }
    if (oldstate != TCP_SYN_SENT)
        return 0;
    infop = bpf_map_lookup_elem(&start, &sk);
    if (!infop)
        return 0;
    if (newstate != TCP_ESTABLISHED)
        goto out;
    now = bpf_ktime_get_ns();
    delta_us = (now - infop->ts) / 1000;
    if (delta_us < min_us)
        goto out;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        goto out;
    struct sk_ends ends = {};
    tp_read_ends(ctx, &ends);
    __builtin_memcpy(e->saddr, ends.saddr, 16);
    __builtin_memcpy(e->daddr, ends.daddr, 16);
    e->lport = ends.lport;
    e->dport = ends.dport;
    e->family = ends.family;
    e->ts_us = now / 1000;
    e->delta_us = delta_us;
    e->pid = infop->pid;
    __builtin_memcpy(e->comm, infop->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
out:
    bpf_map_delete_elem(&start, &sk);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
