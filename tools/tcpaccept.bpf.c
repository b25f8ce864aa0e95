// SPDX-License-Identifier: Apache-2.0
/* tcpaccept: passive TCP connections (accept()), without kprobes. bcc
 * traces inet_csk_accept's return; here the accept and accept4 system call
 * exits, in the accepting task, find the new socket from the returned file
 * descriptor: current->files->fdt->fd[ret]->private_data (a struct socket)
 * ->sk. (The sock:inet_sock_set_state SYN_RECV -> ESTABLISHED transition
 * runs in softirq context, where the accepting process is not current.) */
#include "net.bpf.h"

const volatile pid_t targ_tgid = 0;
const volatile u16 targ_family = 0;
const volatile int n_ports = 0;
const volatile u16 targ_ports[MAX_PORTS] = {};

struct event {
    u8 saddr[16];
    u8 daddr[16];
    u64 ts_us;
    u32 pid;
    u16 lport;
    u16 dport;
    u16 family;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

static __always_inline int on_exit(long ret)
{
    u64 id = bpf_get_current_pid_tgid();
    struct sk_ends ends = {};
    struct event *e;
    struct sock *sk;

    if (ret < 0)
        return 0;
    if (targ_tgid && targ_tgid != id >> 32)
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    sk = task_fd_sock((struct task_struct *)bpf_get_current_task(), ret);
    if (!sk || sk_protocol(sk) != IPPROTO_TCP)
        return 0;
    sk_read_ends(sk, &ends);
    if (ends.family != AF_INET && ends.family != AF_INET6)
        return 0;
    if (targ_family && targ_family != ends.family)
        return 0;
    if (!in_ports(ends.lport, targ_ports, n_ports))
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    __builtin_memcpy(e->saddr, ends.saddr, 16);
    __builtin_memcpy(e->daddr, ends.daddr, 16);
    e->ts_us = bpf_ktime_get_ns() / 1000;
    e->pid = id >> 32;
    e->lport = ends.lport;
    e->dport = ends.dport;
    e->family = ends.family;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
