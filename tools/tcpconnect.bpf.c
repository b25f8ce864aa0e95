// SPDX-License-Identifier: Apache-2.0
/* tcpconnect: active TCP connections (connect()), without kprobes. The
 * sock:inet_sock_set_state CLOSE -> SYN_SENT transition happens inside
 * tcp_v4_connect/tcp_v6_connect, in the connecting task, before the local
 * port is chosen: the socket is kept per thread there and reported when the
 * system call returns (connect, or sendto/sendmsg for TCP Fast Open), when
 * its local port is set, as bcc reports at tcp_v[46]_connect's return.
 * A connection refused before the call returns (loopback) has already given
 * its port back: its ends are taken from the tracepoint as it leaves
 * SYN_SENT. */
#include "net.bpf.h"

const volatile pid_t targ_tgid = 0;
const volatile uid_t targ_uid = (uid_t)-1;
const volatile u16 targ_family = 0;
const volatile int n_ports = 0;
const volatile u16 targ_ports[MAX_PORTS] = {};
const volatile bool do_count = false;

struct event {
    u8 saddr[16];
    u8 daddr[16];
    u64 ts_us;
    u32 pid;
    u32 uid;
    u16 lport;
    u16 dport;
    u16 family;
    char comm[16];
};

struct flow_key {
    u8 saddr[16];
    u8 daddr[16];
    u16 dport;
    u16 family;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, u64);
} currsock SEC(".maps");

/* sockets between SYN_SENT and the system call's return: their ends once
 * they left SYN_SENT (lport 0 until then) */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, struct sk_ends);
} pending SEC(".maps");

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

static const struct sk_ends no_ends;

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    u64 sk = (u64)ctx->skaddr;

    if (ctx->protocol != IPPROTO_TCP)
        return 0;
    if (ctx->oldstate == TCP_SYN_SENT) {
        struct sk_ends *p = bpf_map_lookup_elem(&pending, &sk);

        if (p)
            tp_read_ends(ctx, p);
        return 0;
    }
    if (ctx->oldstate != TCP_CLOSE || ctx->newstate != TCP_SYN_SENT)
        return 0;
    if (targ_tgid && targ_tgid != id >> 32)
        return 0;
    if (targ_uid != (uid_t)-1 && targ_uid != (u32)bpf_get_current_uid_gid())
        return 0;
    if (targ_family && targ_family != ctx->family)
        return 0;
    if (!in_ports(ctx->dport, targ_ports, n_ports))
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    bpf_map_update_elem(&currsock, &tid, &sk, BPF_ANY);
    bpf_map_update_elem(&pending, &sk, &no_ends, BPF_ANY);
    return 0;
}

static __always_inline int on_return(void)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    u64 *skp = bpf_map_lookup_elem(&currsock, &tid);
    struct sk_ends ends = {}, *p;
    u64 sk;

    if (!skp)
        return 0;
    sk = *skp;
    bpf_map_delete_elem(&currsock, &tid);
    p = bpf_map_lookup_elem(&pending, &sk);
    if (p && p->lport)
        ends = *p;
    else
        sk_read_ends((struct sock *)sk, &ends);
    bpf_map_delete_elem(&pending, &sk);
    /* no local port: tcp_v[46]_connect failed before it sent the SYN */
    if (ends.lport == 0)
        return 0;
    if (do_count) {
        struct flow_key key = {.dport = ends.dport, .family = ends.family};
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
    e->ts_us = bpf_ktime_get_ns() / 1000;
    e->pid = id >> 32;
    e->uid = (u32)bpf_get_current_uid_gid();
    e->lport = ends.lport;
    e->dport = ends.dport;
    e->family = ends.family;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int connect_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_return();
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int sendto_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_return();
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int sendmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_return();
}

char LICENSE[] SEC("license") = "GPL";
