// SPDX-License-Identifier: Apache-2.0
/* stackcount: how often each stack reaches the traced events, counted in
 * the kernel, as bcc's stackcount counts them. One program per kind of
 * hook (kprobe, uprobe, tracepoint), each attached to every event the
 * pattern matches. */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16
#define PERF_MAX_STACK_DEPTH 127

const volatile pid_t targ_pid = 0;
const volatile s32 targ_cpu = -1;
const volatile bool per_pid = false;
const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;

struct key_t {
    u32 tgid; /* 0xffffffff without -P */
    s32 user_stack_id;
    s32 kernel_stack_id;
    char name[TASK_COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct key_t);
    __type(value, u64);
} counts SEC(".maps");

/* Without -P: the last process each key came from, so user space can
 * still name its user frames (bcc prints them as [unknown] then). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct key_t);
    __type(value, u32);
} owners SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, u64[PERF_MAX_STACK_DEPTH]);
} stack_traces SEC(".maps");

static __always_inline int count(void *ctx)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct key_t key = {};

    if (targ_pid && targ_pid != tgid)
        return 0;
    if (targ_cpu >= 0 && (u32)targ_cpu != bpf_get_smp_processor_id())
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    /* bcc: the user stack is looked up in the process even without -P */
    key.tgid = per_pid ? tgid : 0xffffffff;
    if (per_pid)
        bpf_get_current_comm(key.name, sizeof(key.name));
    key.user_stack_id = user_stacks ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;
    key.kernel_stack_id = kernel_stacks ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
    counter_add(&counts, &key, 1);
    if (!per_pid)
        bpf_map_update_elem(&owners, &key, &tgid, BPF_ANY);
    return 0;
}

SEC("kprobe")
int stack_kprobe(struct pt_regs *ctx)
{
    return count(ctx);
}

SEC("uprobe")
int stack_uprobe(struct pt_regs *ctx)
{
    return count(ctx);
}

SEC("tracepoint")
int stack_tracepoint(void *ctx)
{
    return count(ctx);
}

char LICENSE[] SEC("license") = "GPL";
