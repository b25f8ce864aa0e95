// SPDX-License-Identifier: Apache-2.0
/* hardirqs: time spent in hard interrupt handlers, per interrupt, from the
 * irq:irq_handler_entry/exit tracepoints (the ones bcc's hardirqs uses).
 * Handlers do not nest on a CPU, so the start is kept per CPU. */
#include "tool.bpf.h"

#define IRQ_NONE 0

const volatile bool count_only = false;
const volatile bool dist = false;
const volatile bool nsecs = false;
const volatile int targ_cpu = -1;

struct start_t {
    u64 ts;
    s32 irq;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct start_t);
} start SEC(".maps");

struct irq_name {
    char name[32];
};

/* irq number → its handler's name */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, struct irq_name);
} names SEC(".maps");

/* irq number → total time (or count) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, u64);
} sums SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct hist_key);
    __type(value, u64);
} hists SEC(".maps");

static __always_inline bool cpu_ok(void)
{
    return targ_cpu < 0 || bpf_get_smp_processor_id() == (u32)targ_cpu;
}

SEC("tracepoint/irq/irq_handler_entry")
int on_entry(struct trace_event_raw_irq_handler_entry *ctx)
{
    u32 zero = 0, irq = ctx->irq;
    struct start_t *s;

    if (!cpu_ok())
        return 0;
    if (!bpf_map_lookup_elem(&names, &irq)) {
        struct irq_name n = {};
        u32 loc = ctx->__data_loc_name;

        bpf_probe_read_kernel_str(n.name, sizeof(n.name), (void *)ctx + (loc & 0xffff));
        bpf_map_update_elem(&names, &irq, &n, BPF_ANY);
    }
    s = bpf_map_lookup_elem(&start, &zero);
    if (!s)
        return 0;
    s->ts = bpf_ktime_get_ns();
    s->irq = irq;
    return 0;
}

SEC("tracepoint/irq/irq_handler_exit")
int on_exit(struct trace_event_raw_irq_handler_exit *ctx)
{
    u32 zero = 0, irq = ctx->irq;
    struct start_t *s;
    u64 delta, *sum;

    if (!cpu_ok())
        return 0;
    s = bpf_map_lookup_elem(&start, &zero);
    if (!s || !s->ts || s->irq != (s32)irq)
        return 0;
    delta = bpf_ktime_get_ns() - s->ts;
    s->ts = 0;
    /* IRQ_NONE: the handler was not the one for this interrupt (shared lines) */
    if (ctx->ret == IRQ_NONE)
        return 0;
    if (dist) {
        hist_add(&hists, irq, log2_slot(nsecs ? delta : delta / 1000));
        return 0;
    }
    sum = bpf_map_lookup_elem(&sums, &irq);
    if (!sum) {
        static const u64 z;
        bpf_map_update_elem(&sums, &irq, &z, BPF_NOEXIST);
        sum = bpf_map_lookup_elem(&sums, &irq);
        if (!sum)
            return 0;
    }
    __sync_fetch_and_add(sum, count_only ? 1 : delta);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
