// SPDX-License-Identifier: Apache-2.0
/* bindsnoop: bind() on IPv4 and IPv6 sockets, from the system call
 * tracepoints. At entry the fd and the address the caller passed are kept;
 * at exit the socket is found through the task's file table and its bound
 * address, port (the one the kernel chose for port 0), protocol, device and
 * options are read, as bcc reads them when inet_bind() returns. A failed
 * bind shows the address the caller asked for. */
#include "tool.bpf.h"

#define AF_INET 2
#define AF_INET6 10

const volatile pid_t targ_pid = 0;
const volatile uid_t targ_uid = (uid_t)-1;
const volatile bool filter_port = false;
const volatile bool ignore_errors = true;

struct args_t {
    u8 addr[16];
    s32 fd;
    u16 family;
    u16 port;
};

struct event {
    u8 addr[16];
    u64 ts_us;
    u32 pid;
    u32 uid;
    u32 bound_dev_if;
    s32 ret;
    u16 family;
    u16 port;
    u16 protocol;
    u8 opts;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, struct args_t);
} start SEC(".maps");

/* -P: the ports to trace */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, u16);
    __type(value, u8);
} ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

/* Before 6.6 the IP options were bit-fields of inet_sock; since, bits of inet_flags. */
struct inet_sock___old {
    u8 freebind : 1;
    u8 transparent : 1;
    u8 bind_address_no_port : 1;
} __attribute__((preserve_access_index));

#define INET_FLAGS_FREEBIND 11
#define INET_FLAGS_TRANSPARENT 15
#define INET_FLAGS_BIND_ADDRESS_NO_PORT 18

/* bcc's OPTS bits: F (freebind), T (transparent), N (bind address no port),
 * R (SO_REUSEADDR), r (SO_REUSEPORT) */
static __always_inline u8 sock_opts(struct sock *sk)
{
    struct inet_sock *inet = (struct inet_sock *)sk;
    u8 o = 0;

    if (bpf_core_field_exists(inet->inet_flags)) {
        unsigned long f = BPF_CORE_READ(inet, inet_flags);
        o |= (f >> INET_FLAGS_FREEBIND) & 1;
        o |= ((f >> INET_FLAGS_TRANSPARENT) & 1) << 1;
        o |= ((f >> INET_FLAGS_BIND_ADDRESS_NO_PORT) & 1) << 2;
    } else {
        struct inet_sock___old *old = (void *)sk;
        o |= BPF_CORE_READ_BITFIELD_PROBED(old, freebind);
        o |= BPF_CORE_READ_BITFIELD_PROBED(old, transparent) << 1;
        o |= BPF_CORE_READ_BITFIELD_PROBED(old, bind_address_no_port) << 2;
    }
    if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_reuse))
        o |= 1 << 3;
    if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_reuseport))
        o |= 1 << 4;
    return o;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int bind_enter(struct trace_event_raw_sys_enter *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    struct args_t a = {.fd = (s32)ctx->args[0]};
    const void *uaddr = (const void *)ctx->args[1];

    if (targ_pid && targ_pid != (id >> 32))
        return 0;
    if (targ_uid != (uid_t)-1 && targ_uid != (u32)bpf_get_current_uid_gid())
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    if (bpf_probe_read_user(&a.family, sizeof(a.family), uaddr))
        return 0;
    if (a.family == AF_INET) {
        struct sockaddr_in sin;
        if (bpf_probe_read_user(&sin, sizeof(sin), uaddr))
            return 0;
        a.port = bpf_ntohs(sin.sin_port);
        __builtin_memcpy(a.addr, &sin.sin_addr, 4);
    } else if (a.family == AF_INET6) {
        struct sockaddr_in6 sin6;
        if (bpf_probe_read_user(&sin6, sizeof(sin6), uaddr))
            return 0;
        a.port = bpf_ntohs(sin6.sin6_port);
        __builtin_memcpy(a.addr, &sin6.sin6_addr, 16);
    } else {
        return 0;
    }
    bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int bind_exit(struct trace_event_raw_sys_exit *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    struct args_t *a = bpf_map_lookup_elem(&start, &tid);
    struct sock *sk;
    struct event *e;
    u16 port;

    if (!a)
        return 0;
    if (ctx->ret != 0 && ignore_errors)
        goto out;
    sk = task_fd_sock((struct task_struct *)bpf_get_current_task(), a->fd);
    if (!sk)
        goto out;
    port = ctx->ret == 0 ? BPF_CORE_READ(sk, __sk_common.skc_num) : a->port;
    if (filter_port && !bpf_map_lookup_elem(&ports, &port))
        goto out;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        goto out;
    e->ts_us = bpf_ktime_get_ns() / 1000;
    e->pid = id >> 32;
    e->uid = (u32)bpf_get_current_uid_gid();
    e->ret = ctx->ret;
    e->family = a->family;
    e->port = port;
    e->protocol = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
    e->bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
    e->opts = sock_opts(sk);
    __builtin_memcpy(e->addr, a->addr, 16);
    if (ctx->ret == 0) {
        if (a->family == AF_INET) {
            u32 v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
            __builtin_memcpy(e->addr, &v4, 4);
        } else
            BPF_CORE_READ_INTO(&e->addr, sk, __sk_common.skc_v6_rcv_saddr);
    }
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
out:
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
