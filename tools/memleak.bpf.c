// SPDX-License-Identifier: Apache-2.0
/* memleak: outstanding (not yet freed) allocations with the stacks that made
 * them. User mode (-p PID): uprobes at the entry and return of libc's
 * allocators and at the entry of free/munmap, as bcc's memleak. Kernel mode:
 * the kmem (and percpu) tracepoints, which carry the size and the address,
 * as bcc's memleak. */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16

const volatile u64 min_size = 0;
const volatile u64 max_size = (u64)-1;
const volatile u64 sample_every_n = 1;
const volatile bool trace_all = false;
const volatile bool user_stacks = false;
const volatile bool wa_missing_free = false;
const volatile u64 page_size = 4096;

struct alloc_info_t {
    u64 size;
    u64 timestamp_ns;
    s32 stack_id;
};

struct combined_alloc_info_t {
    u64 total_size;
    u64 number_of_allocs;
};

/* -t: one record per call */
struct trace_event {
    u64 size;
    u64 addr;
    u32 pid;
    u32 kind; /* 0 alloc entered, 1 alloc exited, 2 free entered */
    char comm[TASK_COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, u64);
} sizes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1000000);
    __type(key, u64);
    __type(value, struct alloc_info_t);
} allocs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, u64);
} memptrs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, u64[127]);
} stack_traces SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, struct combined_alloc_info_t);
} combined_allocs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 20);
} events SEC(".maps");

static __always_inline void trace(u32 kind, u64 size, u64 addr)
{
    struct trace_event *e;

    if (!trace_all)
        return;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return;
    e->kind = kind;
    e->size = size;
    e->addr = addr;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
}

static __always_inline void stats_add(u64 stack_id, u64 sz)
{
    struct combined_alloc_info_t *c, zero = {};

    c = bpf_map_lookup_elem(&combined_allocs, &stack_id);
    if (!c) {
        bpf_map_update_elem(&combined_allocs, &stack_id, &zero, BPF_NOEXIST);
        c = bpf_map_lookup_elem(&combined_allocs, &stack_id);
        if (!c)
            return;
    }
    __sync_fetch_and_add(&c->total_size, sz);
    __sync_fetch_and_add(&c->number_of_allocs, 1);
}

static __always_inline void stats_del(u64 stack_id, u64 sz)
{
    struct combined_alloc_info_t *c = bpf_map_lookup_elem(&combined_allocs, &stack_id);

    if (!c)
        return;
    c->total_size = sz >= c->total_size ? 0 : c->total_size - sz;
    if (c->number_of_allocs > 0)
        c->number_of_allocs--;
}

static __always_inline int alloc_enter(u64 size)
{
    u64 id = bpf_get_current_pid_tgid();

    if (size < min_size || size > max_size)
        return 0;
    if (sample_every_n > 1 && bpf_ktime_get_ns() % sample_every_n != 0)
        return 0;
    bpf_map_update_elem(&sizes, &id, &size, BPF_ANY);
    trace(0, size, 0);
    return 0;
}

static __always_inline int alloc_exit2(void *ctx, u64 address)
{
    u64 id = bpf_get_current_pid_tgid();
    u64 *size = bpf_map_lookup_elem(&sizes, &id);
    struct alloc_info_t info = {};

    if (!size)
        return 0;
    info.size = *size;
    bpf_map_delete_elem(&sizes, &id);
    if (address) {
        info.timestamp_ns = bpf_ktime_get_ns();
        info.stack_id = bpf_get_stackid(ctx, &stack_traces, user_stacks ? BPF_F_USER_STACK : 0);
        bpf_map_update_elem(&allocs, &address, &info, BPF_ANY);
        stats_add(info.stack_id, info.size);
    }
    trace(1, info.size, address);
    return 0;
}

static __always_inline int free_enter(u64 addr)
{
    struct alloc_info_t *info = bpf_map_lookup_elem(&allocs, &addr);
    u64 size;
    s32 stack_id;

    if (!info)
        return 0;
    size = info->size;
    stack_id = info->stack_id;
    bpf_map_delete_elem(&allocs, &addr);
    stats_del(stack_id, size);
    trace(2, size, addr);
    return 0;
}

/* user mode: libc */

SEC("uprobe")
int BPF_KPROBE(malloc_enter, size_t size)
{
    return alloc_enter(size);
}

SEC("uretprobe")
int BPF_KRETPROBE(malloc_exit, void *ret)
{
    return alloc_exit2(ctx, (u64)ret);
}

SEC("uprobe")
int BPF_KPROBE(free_enter_u, void *address)
{
    return free_enter((u64)address);
}

SEC("uprobe")
int BPF_KPROBE(calloc_enter, size_t nmemb, size_t size)
{
    return alloc_enter(nmemb * size);
}

SEC("uprobe")
int BPF_KPROBE(realloc_enter, void *ptr, size_t size)
{
    free_enter((u64)ptr);
    return alloc_enter(size);
}

SEC("uprobe")
int BPF_KPROBE(mmap_enter, void *addr, size_t size)
{
    return alloc_enter(size);
}

SEC("uprobe")
int BPF_KPROBE(munmap_enter, void *address)
{
    return free_enter((u64)address);
}

SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, void **memptr, size_t alignment, size_t size)
{
    u64 id = bpf_get_current_pid_tgid();
    u64 p = (u64)memptr;

    bpf_map_update_elem(&memptrs, &id, &p, BPF_ANY);
    return alloc_enter(size);
}

SEC("uretprobe")
int BPF_KRETPROBE(posix_memalign_exit)
{
    u64 id = bpf_get_current_pid_tgid();
    u64 *p = bpf_map_lookup_elem(&memptrs, &id);
    void *addr;

    if (!p)
        return 0;
    bpf_map_delete_elem(&memptrs, &id);
    if (bpf_probe_read_user(&addr, sizeof(addr), (void *)*p))
        return 0;
    return alloc_exit2(ctx, (u64)addr);
}

/* aligned_alloc, memalign: (alignment, size) */
SEC("uprobe")
int BPF_KPROBE(memalign_enter, size_t alignment, size_t size)
{
    return alloc_enter(size);
}

/* valloc, pvalloc: (size) */
SEC("uprobe")
int BPF_KPROBE(valloc_enter, size_t size)
{
    return alloc_enter(size);
}

/* kernel mode: kmem tracepoints */

static __always_inline int kalloc(void *ctx, u64 ptr, u64 bytes)
{
    if (wa_missing_free)
        free_enter(ptr);
    alloc_enter(bytes);
    return alloc_exit2(ctx, ptr);
}

SEC("tracepoint/kmem/kmalloc")
int on_kmalloc(struct trace_event_raw_kmalloc *ctx)
{
    return kalloc(ctx, (u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tracepoint/kmem/kmem_cache_alloc")
int on_kmem_cache_alloc(struct trace_event_raw_kmem_cache_alloc *ctx)
{
    return kalloc(ctx, (u64)BPF_CORE_READ(ctx, ptr), BPF_CORE_READ(ctx, bytes_alloc));
}

SEC("tracepoint/kmem/kfree")
int on_kfree(struct trace_event_raw_kfree *ctx)
{
    return free_enter((u64)ctx->ptr);
}

SEC("tracepoint/kmem/kmem_cache_free")
int on_kmem_cache_free(struct trace_event_raw_kmem_cache_free *ctx)
{
    return free_enter((u64)BPF_CORE_READ(ctx, ptr));
}

SEC("tracepoint/kmem/mm_page_alloc")
int on_page_alloc(struct trace_event_raw_mm_page_alloc *ctx)
{
    alloc_enter(page_size << ctx->order);
    return alloc_exit2(ctx, ctx->pfn);
}

SEC("tracepoint/kmem/mm_page_free")
int on_page_free(struct trace_event_raw_mm_page_free *ctx)
{
    return free_enter(ctx->pfn);
}

SEC("tracepoint/percpu/percpu_alloc_percpu")
int on_percpu_alloc(struct trace_event_raw_percpu_alloc_percpu *ctx)
{
    alloc_enter(BPF_CORE_READ(ctx, size));
    return alloc_exit2(ctx, (u64)BPF_CORE_READ(ctx, ptr));
}

SEC("tracepoint/percpu/percpu_free_percpu")
int on_percpu_free(struct trace_event_raw_percpu_free_percpu *ctx)
{
    return free_enter((u64)BPF_CORE_READ(ctx, ptr));
}

char LICENSE[] SEC("license") = "GPL";
