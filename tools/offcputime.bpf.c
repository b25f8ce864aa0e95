// SPDX-License-Identifier: Apache-2.0
/* offcputime: off-CPU time summed by kernel and user stack, from the
 * sched_switch raw tracepoint (bcc: a kprobe on finish_task_switch). The
 * task leaving the CPU is the current one there: its stacks and comm are
 * taken then, with the time, and the sum is made when it comes back. */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16
#define PF_KTHREAD 0x00200000
#define PERF_MAX_STACK_DEPTH 127

const volatile pid_t targ_tgid = 0;
const volatile pid_t targ_pid = 0;
const volatile bool user_threads_only = false;
const volatile bool kernel_threads_only = false;
const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile s64 state = -1;
const volatile u64 min_us = 1;
const volatile u64 max_us = (u64)-1;

struct key_t {
    u32 pid;
    u32 tgid;
    s32 user_stack_id;
    s32 kernel_stack_id;
    char name[TASK_COMM_LEN];
};

struct start_val {
    u64 ts;
    struct key_t key;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct key_t);
    __type(value, u64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, u32);
    __type(value, struct start_val);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 1024);
    __type(key, u32);
    /* typed (not value_size): user space decodes the frames from the BTF */
    __type(value, u64[PERF_MAX_STACK_DEPTH]);
} stack_traces SEC(".maps");

struct task_struct___pre514 {
    long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
    if (bpf_core_field_exists(t->__state))
        return BPF_CORE_READ(t, __state);
    return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline bool thread_ok(struct task_struct *t, u32 pid, u32 tgid)
{
    if (targ_tgid)
        return tgid == targ_tgid;
    if (targ_pid)
        return pid == targ_pid;
    if (user_threads_only)
        return !(BPF_CORE_READ(t, flags) & PF_KTHREAD);
    if (kernel_threads_only)
        return BPF_CORE_READ(t, flags) & PF_KTHREAD;
    return true;
}

static __always_inline bool state_ok(struct task_struct *t)
{
    if (state < 0)
        return true;
    if (state == 0)
        return task_state(t) == 0;
    return (task_state(t) & state) != 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    struct start_val sv = {};
    struct start_val *svp;
    u32 pid = BPF_CORE_READ(prev, pid);
    u32 tgid = BPF_CORE_READ(prev, tgid);
    u64 delta, *val;
    static const u64 zero;

    /* prev leaves the CPU: stamp it, with its stacks (it is current here) */
    if (pid && thread_ok(prev, pid, tgid) && state_ok(prev) && tool_cgroup_ok()) {
        sv.ts = bpf_ktime_get_ns();
        sv.key.pid = pid;
        sv.key.tgid = tgid;
        sv.key.user_stack_id =
            user_stacks ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;
        sv.key.kernel_stack_id = kernel_stacks ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
        bpf_get_current_comm(sv.key.name, sizeof(sv.key.name));
        bpf_map_update_elem(&start, &pid, &sv, BPF_ANY);
    }

    /* next comes back: add its time off the CPU to its stacks */
    pid = BPF_CORE_READ(next, pid);
    svp = bpf_map_lookup_elem(&start, &pid);
    if (!svp)
        return 0;
    delta = bpf_ktime_get_ns();
    if (delta < svp->ts)
        goto out;
    delta = (delta - svp->ts) / 1000;
    if (delta < min_us || delta > max_us)
        goto out;
    val = bpf_map_lookup_elem(&counts, &svp->key);
    if (!val) {
        bpf_map_update_elem(&counts, &svp->key, &zero, BPF_NOEXIST);
        val = bpf_map_lookup_elem(&counts, &svp->key);
        if (!val)
            goto out;
    }
    __sync_fetch_and_add(val, delta);
out:
    bpf_map_delete_elem(&start, &pid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
