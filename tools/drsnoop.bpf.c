// SPDX-License-Identifier: Apache-2.0
/* drsnoop: direct page reclaim by allocating tasks, from the
 * vmscan:mm_vmscan_direct_reclaim_begin/end tracepoints (the ones bcc's
 * drsnoop uses): one event per reclaim with its latency and pages. With
 * --memcg also the reclaim a task does when its memory cgroup is at its
 * limit (mm_vmscan_memcg_reclaim_begin/end, same end record). */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16

const volatile pid_t targ_pid = 0;
const volatile pid_t targ_tid = 0;
const volatile uid_t targ_uid = (uid_t)-1;

struct event {
    u64 id;
    u64 nr_reclaimed;
    u64 delta_ns;
    u64 ts_ns;
    u32 uid;
    u32 memcg; /* 1: a memory cgroup's reclaim (--memcg) */
    char comm[TASK_COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

static __always_inline int begin(void)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 uid = (u32)bpf_get_current_uid_gid();
    u64 ts;

    if (targ_tid && targ_tid != (u32)id)
        return 0;
    if (!targ_tid && targ_pid && targ_pid != id >> 32)
        return 0;
    if (targ_uid != (uid_t)-1 && targ_uid != uid)
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    ts = bpf_ktime_get_ns();
    bpf_map_update_elem(&start, &id, &ts, BPF_ANY);
    return 0;
}

static __always_inline int end(struct trace_event_raw_mm_vmscan_direct_reclaim_end_template *ctx,
                               u32 memcg)
{
    u64 id = bpf_get_current_pid_tgid();
    u64 *tsp = bpf_map_lookup_elem(&start, &id);
    u64 now = bpf_ktime_get_ns();
    struct event *e;

    if (!tsp)
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (e) {
        e->id = id;
        e->delta_ns = now - *tsp;
        e->ts_ns = now;
        e->nr_reclaimed = ctx->nr_reclaimed;
        e->uid = (u32)bpf_get_current_uid_gid();
        e->memcg = memcg;
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        bpf_ringbuf_submit(e, 0);
    }
    bpf_map_delete_elem(&start, &id);
    return 0;
}

SEC("tracepoint/vmscan/mm_vmscan_direct_reclaim_begin")
int on_begin(void *ctx)
{
    return begin();
}

SEC("tracepoint/vmscan/mm_vmscan_direct_reclaim_end")
int on_end(struct trace_event_raw_mm_vmscan_direct_reclaim_end_template *ctx)
{
    return end(ctx, 0);
}

SEC("tracepoint/vmscan/mm_vmscan_memcg_reclaim_begin")
int on_memcg_begin(void *ctx)
{
    return begin();
}

SEC("tracepoint/vmscan/mm_vmscan_memcg_reclaim_end")
int on_memcg_end(struct trace_event_raw_mm_vmscan_direct_reclaim_end_template *ctx)
{
    return end(ctx, 1);
}

char LICENSE[] SEC("license") = "GPL";
