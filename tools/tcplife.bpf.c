// SPDX-License-Identifier: Apache-2.0
/* tcplife: TCP sessions with their duration and bytes, from the
 * sock:inet_sock_set_state tracepoint, as bcc's tcplife does where the
 * tracepoint exists: a socket is stamped on its first states (before
 * FIN_WAIT1), the task is kept where it is current (SYN_SENT: a connect;
 * LAST_ACK: a close after the peer's), and the session is reported at
 * CLOSE with tcp_sock's bytes_acked and bytes_received. */
#include "net.bpf.h"

const volatile pid_t targ_tgid = 0;
const volatile u16 targ_family = 0;
const volatile int n_lports = 0;
const volatile u16 targ_lports[MAX_PORTS] = {};
const volatile int n_rports = 0;
const volatile u16 targ_rports[MAX_PORTS] = {};

struct event {
    u8 saddr[16];
    u8 daddr[16];
    u64 ts_us;
    u64 span_us;
    u64 rx_b;
    u64 tx_b;
    u32 pid;
    u16 lport;
    u16 dport;
    u16 family;
    char comm[16];
};

struct id_t {
    u32 pid;
    bool cg_ok;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, u64);
} birth SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, struct id_t);
} whoami SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
    u64 sk = (u64)ctx->skaddr;
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct id_t *mep;
    bool cg_ok;
    u64 *tsp, delta_us;
    /* each field read once: clang may otherwise address one through a
     * computed ctx pointer, which the verifier refuses */
    int newstate = ctx->newstate;
    u16 family = ctx->family, sport = ctx->sport, dport = ctx->dport;

    if (ctx->protocol != IPPROTO_TCP)
        return 0;
    if (newstate < TCP_FIN_WAIT1) {
        u64 ts = bpf_ktime_get_ns();

        bpf_map_update_elem(&birth, &sk, &ts, BPF_ANY);
    }
    if (newstate == TCP_SYN_SENT || newstate == TCP_LAST_ACK) {
        struct id_t me = {.pid = pid, .cg_ok = tool_cgroup_ok()};

        if (targ_tgid && targ_tgid != pid)
            return 0;
        bpf_get_current_comm(me.comm, sizeof(me.comm));
        bpf_map_update_elem(&whoami, &sk, &me, BPF_ANY);
    }
    if (newstate != TCP_CLOSE)
        return 0;

    tsp = bpf_map_lookup_elem(&birth, &sk);
    if (!tsp) {
        bpf_map_delete_elem(&whoami, &sk);
        return 0;
    }
    delta_us = (bpf_ktime_get_ns() - *tsp) / 1000;
    bpf_map_delete_elem(&birth, &sk);

    mep = bpf_map_lookup_elem(&whoami, &sk);
    if (mep) {
        pid = mep->pid;
        cg_ok = mep->cg_ok;
    } else {
        /* best effort, as bcc: the task current at CLOSE */
        cg_ok = tool_cgroup_ok();
    }
    if ((targ_tgid && targ_tgid != pid) || !cg_ok)
        goto out;
    if (targ_family && targ_family != family)
        goto out;
    if (!in_ports(sport, targ_lports, n_lports) || !in_ports(dport, targ_rports, n_rports))
        goto out;

    struct event *e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        goto out;
    struct sk_ends ends = {};
    tp_read_ends(ctx, &ends);
    __builtin_memcpy(e->saddr, ends.saddr, 16);
    __builtin_memcpy(e->daddr, ends.daddr, 16);
    e->lport = ends.lport;
    e->dport = ends.dport;
    e->family = ends.family;
    e->span_us = delta_us;
    e->ts_us = bpf_ktime_get_ns() / 1000;
    /* see tcp_get_info() */
    e->rx_b = BPF_CORE_READ((struct tcp_sock *)sk, bytes_received);
    e->tx_b = BPF_CORE_READ((struct tcp_sock *)sk, bytes_acked);
    e->pid = pid;
    if (mep)
        __builtin_memcpy(e->comm, mep->comm, sizeof(e->comm));
    else
        bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
out:
    if (mep)
        bpf_map_delete_elem(&whoami, &sk);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
