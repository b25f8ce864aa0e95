// SPDX-License-Identifier: Apache-2.0
/* solisten: listen() on IPv4 and IPv6 stream sockets, from the system call
 * tracepoints: the fd is kept at entry; at exit the socket is found through
 * the task's file table and its backlog (as the kernel clamped it), bound
 * port (chosen by then when the socket was not bound), address and network
 * namespace are read. */
#include "tool.bpf.h"

#define AF_INET 2
#define AF_INET6 10

const volatile pid_t targ_pid = 0;
const volatile u32 targ_netns = 0;

struct event {
    u8 addr[16];
    u64 ts_us;
    u32 pid;
    s32 backlog;
    u32 netns;
    s32 ret;
    u16 family;
    u16 type;
    u16 lport;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, s32);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_listen")
int listen_enter(struct trace_event_raw_sys_enter *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    s32 fd = (s32)ctx->args[0];

    if (targ_pid && targ_pid != (id >> 32))
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    bpf_map_update_elem(&start, &tid, &fd, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_listen")
int listen_exit(struct trace_event_raw_sys_exit *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    s32 *fd = bpf_map_lookup_elem(&start, &tid);
    struct sock *sk;
    struct event *e;
    u16 family;
    u32 netns;

    if (!fd)
        return 0;
    sk = task_fd_sock((struct task_struct *)bpf_get_current_task(), *fd);
    if (!sk)
        goto out;
    family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family != AF_INET && family != AF_INET6)
        goto out;
    netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
    if (targ_netns && targ_netns != netns)
        goto out;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        goto out;
    e->ts_us = bpf_ktime_get_ns() / 1000;
    e->pid = id >> 32;
    e->backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
    e->netns = netns;
    e->ret = ctx->ret;
    e->family = family;
    e->type = BPF_CORE_READ(sk, sk_type);
    e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
    __builtin_memset(e->addr, 0, sizeof(e->addr));
    if (family == AF_INET) {
        u32 v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
        __builtin_memcpy(e->addr, &v4, 4);
    } else {
        BPF_CORE_READ_INTO(&e->addr, sk, __sk_common.skc_v6_rcv_saddr);
    }
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
out:
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
