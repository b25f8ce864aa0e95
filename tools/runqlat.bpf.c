// SPDX-License-Identifier: Apache-2.0
/* runqlat: how long runnable tasks wait for a CPU, from the scheduler's raw
 * tracepoints: a task is stamped when it is woken (sched_wakeup,
 * sched_wakeup_new) or preempted while runnable (sched_switch's prev), and
 * measured when sched_switch puts it on a CPU. */
#include "tool.bpf.h"

/* The state of a runnable task: __state == TASK_RUNNING (0). */
#define TASK_RUNNING 0

const volatile pid_t targ_tgid = 0;
const volatile bool per_process = false;
const volatile bool per_thread = false;
const volatile bool per_pidns = false;
const volatile bool milliseconds = false;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct hist_key);
    __type(value, u64);
} hists SEC(".maps");

/* The task's state field was renamed from state to __state in 5.14. */
struct task_struct___pre514 {
    long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
    if (bpf_core_field_exists(t->__state))
        return BPF_CORE_READ(t, __state);
    return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline int stamp(u32 tgid, u32 pid)
{
    u64 ts;

    if (!pid)
        return 0;
    if (targ_tgid && targ_tgid != tgid)
        return 0;
    ts = bpf_ktime_get_ns();
    bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
    return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
    if (!tool_cgroup_ok())
        return 0;
    return stamp(BPF_CORE_READ(p, tgid), BPF_CORE_READ(p, pid));
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(on_wakeup_new, struct task_struct *p)
{
    if (!tool_cgroup_ok())
        return 0;
    return stamp(BPF_CORE_READ(p, tgid), BPF_CORE_READ(p, pid));
}

SEC("raw_tp/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    u32 pid, id;
    u64 *tsp, delta;

    /* prev is still runnable (preempted): it waits from now */
    if (task_state(prev) == TASK_RUNNING && tool_cgroup_ok())
        stamp(BPF_CORE_READ(prev, tgid), BPF_CORE_READ(prev, pid));

    pid = BPF_CORE_READ(next, pid);
    tsp = bpf_map_lookup_elem(&start, &pid);
    if (!tsp)
        return 0;
    delta = bpf_ktime_get_ns() - *tsp;
    bpf_map_delete_elem(&start, &pid);
    if ((s64)delta < 0)
        return 0;
    delta /= milliseconds ? 1000000 : 1000;
    if (per_process)
        id = BPF_CORE_READ(next, tgid);
    else if (per_thread)
        id = pid;
    else if (per_pidns)
        id = BPF_CORE_READ(next, nsproxy, pid_ns_for_children, ns.inum);
    else
        id = 0;
    hist_add(&hists, id, log2_slot(delta));
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
