// SPDX-License-Identifier: Apache-2.0
/* cachestat: page cache accesses, misses and dirtied pages. Two ways in:
 * bcc's, calls of the page cache's own functions (kprobes or fentry on
 * mark_page_accessed, add_to_page_cache_lru, account_page_dirtied and
 * mark_buffer_dirty, or their folio successors: *_fn programs, attached by
 * name), or tracepoints:
 *   accesses: the pages a read() asks the page cache for
 *             (filemap:mm_filemap_get_pages, counted once per read: the
 *             later calls of the same read cover part of the first range)
 *             and file page faults (filemap:mm_filemap_fault);
 *   added:    pages put into the page cache (filemap:mm_filemap_add_to_page_cache);
 *   dirtied:  folios dirtied (writeback:writeback_dirty_folio, or _page). */
#include "tool.bpf.h"

enum { C_ACCESSED, C_ADDED, C_DIRTIED, C_BUFFERS, C_MAX };

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, C_MAX);
    __type(key, u32);
    __type(value, u64);
} counts SEC(".maps");

/* the read a thread is in: its file and the last page it asked for */
struct read_t {
    u64 ino;
    u64 index;
    u64 last;
    u32 dev;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, struct read_t);
} reads SEC(".maps");

static __always_inline void add(u32 which, u64 n)
{
    u64 *v = bpf_map_lookup_elem(&counts, &which);

    if (v)
        *v += n;
}

SEC("tracepoint/filemap/mm_filemap_get_pages")
int on_get_pages(struct trace_event_raw_mm_filemap_op_page_cache_range *ctx)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct read_t r = {}, *prev;

    if (!tool_cgroup_ok())
        return 0;
    r.ino = BPF_CORE_READ(ctx, i_ino);
    r.dev = BPF_CORE_READ(ctx, s_dev);
    r.index = BPF_CORE_READ(ctx, index);
    r.last = BPF_CORE_READ(ctx, last_index);
    prev = bpf_map_lookup_elem(&reads, &tid);
    if (prev && prev->ino == r.ino && prev->dev == r.dev && prev->last == r.last &&
        r.index > prev->index) {
        prev->index = r.index; /* the same read, going on: counted already */
        return 0;
    }
    if (r.last >= r.index)
        add(C_ACCESSED, r.last - r.index + 1);
    bpf_map_update_elem(&reads, &tid, &r, BPF_ANY);
    return 0;
}

SEC("tracepoint/filemap/mm_filemap_fault")
int on_fault(void *ctx)
{
    if (tool_cgroup_ok())
        add(C_ACCESSED, 1);
    return 0;
}

/* Before 5.18 the event had no order: one page. */
struct trace_event_raw_mm_filemap_op_page_cache___o {
    unsigned char order;
} __attribute__((preserve_access_index));

SEC("tracepoint/filemap/mm_filemap_add_to_page_cache")
int on_add(struct trace_event_raw_mm_filemap_op_page_cache___o *ctx)
{
    u32 order = 0;

    if (!tool_cgroup_ok())
        return 0;
    if (bpf_core_field_exists(ctx->order))
        order = BPF_CORE_READ(ctx, order);
    add(C_ADDED, 1ULL << (order & 31));
    return 0;
}

SEC("tracepoint/writeback/writeback_dirty_folio")
int on_dirty(void *ctx)
{
    if (tool_cgroup_ok())
        add(C_DIRTIED, 1);
    return 0;
}

SEC("tracepoint/block/block_dirty_buffer")
int on_dirty_buffer(void *ctx)
{
    if (tool_cgroup_ok())
        add(C_BUFFERS, 1);
    return 0;
}

/* The function hooks: each counts a call (the tool attaches them to the
 * function this kernel has). */
#define COUNTER(name, which)                                                                       \
    SEC("kprobe")                                                                                  \
    int name##_kprobe(void *ctx)                                                                   \
    {                                                                                              \
        if (tool_cgroup_ok())                                                                      \
            add(which, 1);                                                                         \
        return 0;                                                                                  \
    }                                                                                              \
    SEC("fentry/" #name)                                                                           \
    int name##_fentry(void *ctx)                                                                   \
    {                                                                                              \
        if (tool_cgroup_ok())                                                                      \
            add(which, 1);                                                                         \
        return 0;                                                                                  \
    }

COUNTER(mark_page_accessed, C_ACCESSED)
COUNTER(add_to_page_cache_lru, C_ADDED)
COUNTER(account_page_dirtied, C_DIRTIED)
COUNTER(mark_buffer_dirty, C_BUFFERS)

char LICENSE[] SEC("license") = "GPL";
