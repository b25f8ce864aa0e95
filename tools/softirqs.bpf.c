// SPDX-License-Identifier: Apache-2.0
/* softirqs: time spent in soft interrupts, per kind (vector), from the
 * irq:softirq_entry/exit tracepoints (the ones bcc's softirqs uses). Soft
 * interrupts do not nest on a CPU, so the start is kept per CPU. */
#include "tool.bpf.h"

const volatile bool count_only = false;
const volatile bool dist = false;
const volatile bool nsecs = false;
const volatile int targ_cpu = -1;

struct start_t {
    u64 ts;
    u32 vec;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct start_t);
} start SEC(".maps");

/* vector → total time (or count) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 32);
    __type(key, u32);
    __type(value, u64);
} sums SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, struct hist_key);
    __type(value, u64);
} hists SEC(".maps");

static __always_inline bool cpu_ok(void)
{
    return targ_cpu < 0 || bpf_get_smp_processor_id() == (u32)targ_cpu;
}

static __always_inline void add(u32 vec, u64 v)
{
    u64 *sum = bpf_map_lookup_elem(&sums, &vec);

    if (!sum) {
        static const u64 z;
        bpf_map_update_elem(&sums, &vec, &z, BPF_NOEXIST);
        sum = bpf_map_lookup_elem(&sums, &vec);
        if (!sum)
            return;
    }
    __sync_fetch_and_add(sum, v);
}

SEC("tracepoint/irq/softirq_entry")
int on_entry(struct trace_event_raw_softirq *ctx)
{
    u32 zero = 0;
    struct start_t *s;

    if (!cpu_ok())
        return 0;
    if (count_only) {
        add(ctx->vec, 1);
        return 0;
    }
    s = bpf_map_lookup_elem(&start, &zero);
    if (!s)
        return 0;
    s->ts = bpf_ktime_get_ns();
    s->vec = ctx->vec;
    return 0;
}

SEC("tracepoint/irq/softirq_exit")
int on_exit(struct trace_event_raw_softirq *ctx)
{
    u32 zero = 0;
    struct start_t *s;
    u64 delta;

    if (!cpu_ok())
        return 0;
    s = bpf_map_lookup_elem(&start, &zero);
    if (!s || !s->ts)
        return 0;
    delta = bpf_ktime_get_ns() - s->ts;
    s->ts = 0;
    if (dist)
        hist_add(&hists, s->vec, log2_slot(nsecs ? delta : delta / 1000));
    else
        add(s->vec, delta);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
