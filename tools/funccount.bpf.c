// SPDX-License-Identifier: Apache-2.0
/* funccount: how often each matched function or tracepoint runs, counted
 * in the kernel. One program per kind of hook is attached to every match,
 * each attachment with its own BPF cookie (Linux 5.15+), the index of its
 * count: one prebuilt program serves any number of functions, where bcc
 * generates one C function per match. */
#include "tool.bpf.h"

const volatile pid_t targ_pid = 0;
const volatile s32 targ_cpu = -1;

/* Sized to the number of probes at open (mapSizes). */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} counts SEC(".maps");

static __always_inline int count(void *ctx)
{
    u32 idx = (u32)bpf_get_attach_cookie(ctx);
    u64 *v;

    if (targ_pid && targ_pid != (pid_t)(bpf_get_current_pid_tgid() >> 32))
        return 0;
    if (targ_cpu >= 0 && (u32)targ_cpu != bpf_get_smp_processor_id())
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    v = bpf_map_lookup_elem(&counts, &idx);
    if (v)
        *v += 1; /* this CPU's slot: no atomic needed */
    return 0;
}

SEC("kprobe")
int count_kprobe(struct pt_regs *ctx)
{
    return count(ctx);
}

SEC("uprobe")
int count_uprobe(struct pt_regs *ctx)
{
    return count(ctx);
}

SEC("tracepoint")
int count_tracepoint(void *ctx)
{
    return count(ctx);
}

char LICENSE[] SEC("license") = "GPL";
