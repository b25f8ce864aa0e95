// SPDX-License-Identifier: Apache-2.0
/* wqlat: how long work items wait on a workqueue between being queued and
 * starting to run, from the workqueue:workqueue_queue_work and
 * workqueue:workqueue_execute_start tracepoints (the ones bcc's wqlat
 * uses). A workqueue is known by its name; its section id is a hash of the
 * name, kept with the name in wqnames for user space. */
#include "tool.bpf.h"

#define WQ_NAME_LEN 24

const volatile bool per_wq = false;
const volatile bool nsecs = false;
const volatile bool filter_wq = false;
const volatile char targ_wq[WQ_NAME_LEN] = {};

struct wq_name {
    char name[WQ_NAME_LEN];
};

struct start_t {
    u64 ts;
    u32 id;
};

/* work item address → when it was queued, on which workqueue */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, struct start_t);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, struct wq_name);
} wqnames SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct hist_key);
    __type(value, u64);
} hists SEC(".maps");

SEC("tracepoint/workqueue/workqueue_queue_work")
int on_queue(struct trace_event_raw_workqueue_queue_work *ctx)
{
    struct wq_name n = {};
    struct start_t s = {};
    u32 loc = ctx->__data_loc_workqueue;
    u32 h = 2166136261u;
    u64 work = (u64)ctx->work;

    bpf_probe_read_kernel_str(n.name, sizeof(n.name), (void *)ctx + (loc & 0xffff));
    if (filter_wq) {
        for (int i = 0; i < WQ_NAME_LEN; i++) {
            if (n.name[i] != targ_wq[i])
                return 0;
            if (!n.name[i])
                break;
        }
    }
    if (per_wq) {
        /* FNV-1a of the name: its section id */
        for (int i = 0; i < WQ_NAME_LEN; i++) {
            if (!n.name[i])
                break;
            h = (h ^ (u8)n.name[i]) * 16777619u;
        }
        s.id = h;
        if (!bpf_map_lookup_elem(&wqnames, &h))
            bpf_map_update_elem(&wqnames, &h, &n, BPF_ANY);
    }
    s.ts = bpf_ktime_get_ns();
    bpf_map_update_elem(&start, &work, &s, BPF_ANY);
    return 0;
}

SEC("tracepoint/workqueue/workqueue_execute_start")
int on_execute(struct trace_event_raw_workqueue_execute_start *ctx)
{
    u64 work = (u64)ctx->work, delta;
    struct start_t *s = bpf_map_lookup_elem(&start, &work);

    if (!s)
        return 0;
    delta = bpf_ktime_get_ns() - s->ts;
    if (!nsecs)
        delta /= 1000;
    hist_add(&hists, s->id, log2_slot(delta));
    bpf_map_delete_elem(&start, &work);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
