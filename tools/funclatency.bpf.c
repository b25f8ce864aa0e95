// SPDX-License-Identifier: Apache-2.0
/* funclatency: the time from a function's entry to its return, in a log2
 * histogram, as bcc's funclatency measures it. The entry and return
 * programs are attached to every matched function, each attachment with
 * a BPF cookie (Linux 5.15+) naming the function: the return reads it
 * where bcc stashes the entry's instruction pointer. */
#include "tool.bpf.h"

/* The deepest nesting -l can follow per thread. */
#define MAX_LEVEL 32

const volatile pid_t targ_pid = 0;
/* 1 (nsecs), 1000 (usecs) or 1000000 (msecs) */
const volatile u64 unit_div = 1;
/* a histogram per function (-F, or user functions without -p as bcc) */
const volatile bool per_function = false;
/* ... and per process */
const volatile bool per_process = false;
/* 0: bcc's one entry time per thread (a nested call overwrites it);
 * else how many nested calls a thread's stack follows (-l) */
const volatile u32 level = 0;

struct lat_key {
    u32 id;
    u32 pid;
    u32 slot;
    u32 pad;
};

struct frames {
    u32 depth; /* entries held in ts[] */
    u32 over;  /* calls deeper than level, whose returns are ignored */
    u64 ts[MAX_LEVEL];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, struct frames);
} nest SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct lat_key);
    __type(value, u64);
} dist SEC(".maps");

/* [0]: total nanoseconds, [1]: calls (bcc's avg array) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 2);
    __type(key, u32);
    __type(value, u64);
} avg SEC(".maps");

static const struct frames empty_frames;

static __always_inline int entry(void)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = id;
    u64 ts;

    if (targ_pid && targ_pid != (pid_t)(id >> 32))
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    ts = bpf_ktime_get_ns();
    if (!level) {
        bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
        return 0;
    }
    struct frames *f = bpf_map_lookup_elem(&nest, &tid);
    if (!f) {
        bpf_map_update_elem(&nest, &tid, &empty_frames, BPF_NOEXIST);
        f = bpf_map_lookup_elem(&nest, &tid);
        if (!f)
            return 0;
    }
    if (f->depth >= level || f->depth >= MAX_LEVEL) {
        f->over++;
        return 0;
    }
    f->ts[f->depth & (MAX_LEVEL - 1)] = ts;
    f->depth++;
    return 0;
}

static __always_inline void add(u32 idx, u64 n)
{
    u64 *v = bpf_map_lookup_elem(&avg, &idx);

    if (v)
        *v += n;
}

static __always_inline int ret(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = id;
    u64 now = bpf_ktime_get_ns(), begin;
    struct lat_key key = {};

    if (!level) {
        u64 *tsp = bpf_map_lookup_elem(&start, &tid);

        if (!tsp)
            return 0; /* entry missed */
        begin = *tsp;
        bpf_map_delete_elem(&start, &tid);
    } else {
        struct frames *f = bpf_map_lookup_elem(&nest, &tid);

        if (!f)
            return 0;
        if (f->over) {
            f->over--;
            return 0;
        }
        if (!f->depth)
            return 0;
        f->depth--;
        begin = f->ts[f->depth & (MAX_LEVEL - 1)];
        if (!f->depth)
            bpf_map_delete_elem(&nest, &tid);
    }
    u64 delta = now - begin;

    add(0, delta);
    add(1, 1);
    if (per_function)
        key.id = (u32)bpf_get_attach_cookie(ctx);
    if (per_process)
        key.pid = id >> 32;
    key.slot = log2_slot(delta / unit_div);
    counter_add(&dist, &key, 1);
    return 0;
}

SEC("kprobe")
int entry_kprobe(struct pt_regs *ctx)
{
    return entry();
}

SEC("kretprobe")
int return_kprobe(struct pt_regs *ctx)
{
    return ret(ctx);
}

SEC("uprobe")
int entry_uprobe(struct pt_regs *ctx)
{
    return entry();
}

SEC("uretprobe")
int return_uprobe(struct pt_regs *ctx)
{
    return ret(ctx);
}

char LICENSE[] SEC("license") = "GPL";
