// SPDX-License-Identifier: Apache-2.0
/* biolatency: block I/O latency as a histogram, from the block raw
 * tracepoints: a request is stamped when it is issued to the device
 * (block_rq_issue), or with -Q when it is accounted as started
 * (block_io_start, 6.5+, else block_rq_insert), and measured when it
 * completes (block_rq_complete). */
#include "blk.bpf.h"

const volatile bool milliseconds = false;
const volatile bool queued = false;
const volatile bool per_disk = false;
const volatile bool per_flags = false;
const volatile bool extension = false;

struct ext_val {
    u64 total;
    u64 count;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct request *);
    __type(value, u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct hist_key);
    __type(value, u64);
} hists SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct ext_val);
} ext SEC(".maps");

static __always_inline int stamp(struct request *rq, u64 flags)
{
    u64 ts;

    if (!rq_disk_ok(rq))
        return 0;
    ts = bpf_ktime_get_ns();
    bpf_map_update_elem(&start, &rq, &ts, flags);
    return 0;
}

/* -Q: from the request's start (accounting); without it, from issue */
SEC("raw_tp/block_io_start")
int on_io_start(u64 *ctx)
{
    return stamp((struct request *)ctx[0], BPF_ANY);
}

SEC("raw_tp/block_rq_insert")
int on_insert(u64 *ctx)
{
    return stamp(rq_arg(ctx), BPF_ANY);
}

/* with -Q, issue stamps only a request not seen before (issued directly) */
SEC("raw_tp/block_rq_issue")
int on_issue(u64 *ctx)
{
    return stamp(rq_arg(ctx), queued ? BPF_NOEXIST : BPF_ANY);
}

SEC("raw_tp/block_rq_complete")
int on_complete(u64 *ctx)
{
    struct request *rq = (struct request *)ctx[0];
    u64 *tsp, delta;
    u32 id = 0;

    tsp = bpf_map_lookup_elem(&start, &rq);
    if (!tsp)
        return 0;
    delta = bpf_ktime_get_ns() - *tsp;
    bpf_map_delete_elem(&start, &rq);
    if ((s64)delta < 0)
        return 0;
    delta /= milliseconds ? 1000000 : 1000;
    if (per_disk)
        id = rq_dev(rq);
    else if (per_flags)
        id = BPF_CORE_READ(rq, cmd_flags);
    hist_add(&hists, id, log2_slot(delta));
    if (extension) {
        u32 zero = 0;
        struct ext_val *e = bpf_map_lookup_elem(&ext, &zero);
        if (e) {
            __sync_fetch_and_add(&e->total, delta);
            __sync_fetch_and_add(&e->count, 1);
        }
    }
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
