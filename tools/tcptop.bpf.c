// SPDX-License-Identifier: Apache-2.0
/* tcptop: TCP throughput per connection and process. Two ways in: bcc's,
 * tcp_sendmsg()'s return and tcp_cleanup_rbuf()'s copied bytes (kprobes, or
 * fexit/fentry); or the sock_send_length and sock_recv_length raw
 * tracepoints (Linux 6.3+), which sock_sendmsg and sock_recvmsg fire in the
 * calling task with the byte count. */
#include "net.bpf.h"

#define MSG_PEEK 2

const volatile pid_t targ_tgid = 0;
const volatile u16 targ_family = 0;

struct flow_key {
    u8 saddr[16];
    u8 daddr[16];
    u32 pid;
    char name[16];
    u16 lport;
    u16 dport;
    u16 family;
};

struct flow_bytes {
    u64 sent;
    u64 received;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct flow_key);
    __type(value, struct flow_bytes);
} flows SEC(".maps");

static __always_inline int count(struct sock *sk, int ret, bool sent)
{
    u64 id = bpf_get_current_pid_tgid();
    struct flow_key key = {.pid = id >> 32};
    struct sk_ends ends = {};
    struct flow_bytes *v;

    if (ret <= 0 || !sk)
        return 0;
    if (targ_tgid && targ_tgid != key.pid)
        return 0;
    if (sk_protocol(sk) != IPPROTO_TCP)
        return 0;
    sk_read_ends(sk, &ends);
    if (ends.family != AF_INET && ends.family != AF_INET6)
        return 0;
    if (targ_family && targ_family != ends.family)
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    __builtin_memcpy(key.saddr, ends.saddr, 16);
    __builtin_memcpy(key.daddr, ends.daddr, 16);
    key.lport = ends.lport;
    key.dport = ends.dport;
    key.family = ends.family;
    bpf_get_current_comm(key.name, sizeof(key.name));
    v = bpf_map_lookup_elem(&flows, &key);
    if (!v) {
        struct flow_bytes zero = {};

        bpf_map_update_elem(&flows, &key, &zero, BPF_NOEXIST);
        v = bpf_map_lookup_elem(&flows, &key);
        if (!v)
            return 0;
    }
    if (sent)
        __sync_fetch_and_add(&v->sent, ret);
    else
        __sync_fetch_and_add(&v->received, ret);
    return 0;
}

SEC("raw_tp/sock_send_length")
int BPF_PROG(on_send, struct sock *sk, int ret, int flags)
{
    return count(sk, ret, true);
}

SEC("raw_tp/sock_recv_length")
int BPF_PROG(on_recv, struct sock *sk, int ret, int flags)
{
    /* a peek reads the same bytes again later */
    if (flags & MSG_PEEK)
        return 0;
    return count(sk, ret, false);
}

/* tcp_sendmsg()'s socket between the kprobe and the kretprobe, by thread. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, struct sock *);
} sending SEC(".maps");

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tcp_sendmsg_entry, struct sock *sk)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();

    bpf_map_update_elem(&sending, &tid, &sk, BPF_ANY);
    return 0;
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(tcp_sendmsg_return, int ret)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct sock **skp = bpf_map_lookup_elem(&sending, &tid);
    struct sock *sk;

    if (!skp)
        return 0;
    sk = *skp;
    bpf_map_delete_elem(&sending, &tid);
    return count(sk, ret, true);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(tcp_sendmsg_fexit, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
    return count(sk, ret, true);
}

/* tcp_cleanup_rbuf(sk, copied): after a read copied bytes to the user
 * (tcp_recvmsg calls it for MSG_PEEK reads too, so those count, as in bcc) */
SEC("kprobe/tcp_cleanup_rbuf")
int BPF_KPROBE(tcp_cleanup_rbuf_kprobe, struct sock *sk, int copied)
{
    return count(sk, copied, false);
}

SEC("fentry/tcp_cleanup_rbuf")
int BPF_PROG(tcp_cleanup_rbuf_fentry, struct sock *sk, int copied)
{
    return count(sk, copied, false);
}

char LICENSE[] SEC("license") = "GPL";
