// SPDX-License-Identifier: Apache-2.0
/* threadsnoop: new threads, from a uprobe on pthread_create() (as bcc's
 * threadsnoop): who creates one, and the function it starts in. */
#include "tool.bpf.h"

const volatile pid_t targ_pid = 0;

struct event {
    u64 ts;
    u64 start;
    u32 pid;
    u32 tid;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(do_entry, void *thread, void *attr, void *start)
{
    u64 id = bpf_get_current_pid_tgid();
    struct event *e;

    if (targ_pid && targ_pid != (id >> 32))
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    e->ts = bpf_ktime_get_ns();
    e->start = (u64)start;
    e->pid = id >> 32;
    e->tid = (u32)id;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
