// SPDX-License-Identifier: Apache-2.0
/* slabratetop: kernel slab cache allocations by cache name, from the
 * kmem:kmem_cache_alloc tracepoint (bcc uses a kprobe on kmem_cache_alloc;
 * the tracepoint fires in the same calls and carries the cache's name and
 * object size since Linux 6.0). */
#include "tool.bpf.h"

#define CACHE_NAME_SIZE 32

struct info_t {
    char name[CACHE_NAME_SIZE];
};

struct val_t {
    u64 count;
    u64 size;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct info_t);
    __type(value, struct val_t);
} counts SEC(".maps");

SEC("tracepoint/kmem/kmem_cache_alloc")
int on_alloc(struct trace_event_raw_kmem_cache_alloc *ctx)
{
    struct info_t info = {};
    static const struct val_t zero;
    struct val_t *v;
    u32 loc;

    if (!tool_cgroup_ok())
        return 0;
    if (!bpf_core_field_exists(ctx->__data_loc_name))
        return 0;
    loc = BPF_CORE_READ(ctx, __data_loc_name);
    bpf_probe_read_kernel_str(info.name, sizeof(info.name), (void *)ctx + (loc & 0xffff));
    v = bpf_map_lookup_elem(&counts, &info);
    if (!v) {
        bpf_map_update_elem(&counts, &info, &zero, BPF_NOEXIST);
        v = bpf_map_lookup_elem(&counts, &info);
        if (!v)
            return 0;
    }
    __sync_fetch_and_add(&v->count, 1);
    __sync_fetch_and_add(&v->size, BPF_CORE_READ(ctx, bytes_alloc));
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
