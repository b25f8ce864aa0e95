// SPDX-License-Identifier: Apache-2.0
/* profile: CPU samples counted by kernel and user stack, from a perf event
 * on each CPU (the CPU clock, or hardware cycles where the CPU has them),
 * as bcc's profile takes them. */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16
#define PERF_MAX_STACK_DEPTH 127
#define MAX_PIDS 16

const volatile u32 targ_pids[MAX_PIDS] = {};
const volatile u32 n_pids = 0;
const volatile pid_t targ_tid = 0;
const volatile bool include_idle = false;
const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;

struct key_t {
    u32 pid; /* the process (tgid), as bcc's key */
    s32 user_stack_id;
    s32 kernel_stack_id;
    char name[TASK_COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 40960);
    __type(key, struct key_t);
    __type(value, u64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 16384);
    __type(key, u32);
    __type(value, u64[PERF_MAX_STACK_DEPTH]);
} stack_traces SEC(".maps");

static __always_inline bool pid_ok(u32 tgid)
{
    if (n_pids == 0)
        return true;
    for (u32 i = 0; i < MAX_PIDS; i++) {
        if (i >= n_pids)
            break;
        if (targ_pids[i] == tgid)
            return true;
    }
    return false;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tgid = id >> 32, tid = (u32)id;
    struct key_t key = {};

    /* the idle task is pid 0 on every CPU */
    if (!include_idle && tid == 0)
        return 0;
    if (!pid_ok(tgid))
        return 0;
    if (targ_tid && targ_tid != tid)
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    key.pid = tgid;
    bpf_get_current_comm(key.name, sizeof(key.name));
    key.user_stack_id = user_stacks ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;
    key.kernel_stack_id = kernel_stacks ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
    counter_add(&counts, &key, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
