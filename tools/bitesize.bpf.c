// SPDX-License-Identifier: Apache-2.0
/* bitesize: block I/O sizes per process name as log2 histograms of Kbytes,
 * from the block:block_rq_issue tracepoint (its comm is the issuing task's,
 * as in bcc's bitesize). */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16

struct comm_key {
    char comm[TASK_COMM_LEN];
    u32 slot;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct comm_key);
    __type(value, u64);
} hists SEC(".maps");

SEC("tracepoint/block/block_rq_issue")
int on_issue(struct trace_event_raw_block_rq *ctx)
{
    struct comm_key key = {};
    static const u64 zero;
    u32 slot;
    u64 *v;

    if (!tool_cgroup_ok())
        return 0;
    slot = log2_slot(BPF_CORE_READ(ctx, bytes) / 1024);
    key.slot = slot < MAX_SLOTS ? slot : MAX_SLOTS - 1;
    bpf_probe_read_kernel(key.comm, sizeof(key.comm), ctx->comm);
    v = bpf_map_lookup_elem(&hists, &key);
    if (!v) {
        bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
        v = bpf_map_lookup_elem(&hists, &key);
        if (!v)
            return 0;
    }
    __sync_fetch_and_add(v, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
