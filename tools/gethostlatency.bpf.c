// SPDX-License-Identifier: Apache-2.0
/* gethostlatency: how long host name lookups take, from uprobes at the entry
 * and return of libc's getaddrinfo, gethostbyname and gethostbyname2 (as
 * bcc's gethostlatency). The host name is read at entry, kept per thread,
 * and sent with the latency at return. */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16
#define HOST_LEN 80

struct val_t {
    char host[HOST_LEN];
    char comm[TASK_COMM_LEN];
    u64 ts;
    u32 pid;
};

struct event {
    char host[HOST_LEN];
    char comm[TASK_COMM_LEN];
    u64 delta;
    u32 pid;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, struct val_t);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 18);
} events SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(do_entry, const char *name)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    struct val_t val = {};

    if (!name)
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    if (bpf_get_current_comm(val.comm, sizeof(val.comm)))
        return 0;
    bpf_probe_read_user_str(val.host, sizeof(val.host), name);
    val.pid = id >> 32;
    val.ts = bpf_ktime_get_ns();
    bpf_map_update_elem(&start, &tid, &val, BPF_ANY);
    return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(do_return)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct val_t *v = bpf_map_lookup_elem(&start, &tid);
    struct event *e;

    if (!v)
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (e) {
        __builtin_memcpy(e->host, v->host, sizeof(e->host));
        __builtin_memcpy(e->comm, v->comm, sizeof(e->comm));
        e->pid = v->pid;
        e->delta = bpf_ktime_get_ns() - v->ts;
        bpf_ringbuf_submit(e, 0);
    }
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
