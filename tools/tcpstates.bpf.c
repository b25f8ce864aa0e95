// SPDX-License-Identifier: Apache-2.0
/* tcpstates: TCP state changes with the time spent in the old state, from
 * the sock:inet_sock_set_state tracepoint (as bcc's tcpstates uses where
 * the kernel has it). The task is whichever is current at the change (the
 * C- columns): a connect, listen or close runs in the process, the
 * handshake's and the peer's packets in softirq context. */
#include "net.bpf.h"

const volatile u16 targ_family = 0;
const volatile int n_lports = 0;
const volatile u16 targ_lports[MAX_PORTS] = {};
const volatile int n_rports = 0;
const volatile u16 targ_rports[MAX_PORTS] = {};

struct event {
    u8 saddr[16];
    u8 daddr[16];
    u64 skaddr;
    u64 ts_us;
    u64 span_us;
    u32 pid;
    s32 oldstate;
    s32 newstate;
    u16 lport;
    u16 dport;
    u16 family;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, u64);
} last SEC(".maps");

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
    u16 family = ctx->family, sport = ctx->sport, dport = ctx->dport;
    u64 *tsp, delta_us, ts;
    struct event *e;

    if (ctx->protocol != IPPROTO_TCP)
        return 0;
    if (!in_ports(sport, targ_lports, n_lports) || !in_ports(dport, targ_rports, n_rports)) {
        bpf_map_delete_elem(&last, &sk);
        return 0;
    }
    ts = bpf_ktime_get_ns();
    tsp = bpf_map_lookup_elem(&last, &sk);
    delta_us = tsp ? (ts - *tsp) / 1000 : 0;
    if (newstate == TCP_CLOSE)
        bpf_map_delete_elem(&last, &sk);
    else
        bpf_map_update_elem(&last, &sk, &ts, BPF_ANY);
    if (targ_family && targ_family != family)
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    struct sk_ends ends = {};
    tp_read_ends(ctx, &ends);
    __builtin_memcpy(e->saddr, ends.saddr, 16);
    __builtin_memcpy(e->daddr, ends.daddr, 16);
    e->lport = ends.lport;
    e->dport = ends.dport;
    e->family = ends.family;
    e->skaddr = sk;
    e->ts_us = ts / 1000;
    e->span_us = delta_us;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->oldstate = oldstate;
    e->newstate = newstate;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
