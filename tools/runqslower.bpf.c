// SPDX-License-Identifier: Apache-2.0
/* runqslower: one line per run queue wait longer than a threshold, from the
 * scheduler's raw tracepoints (as bcc's runqslower where it can): a task is
 * stamped when it is woken or preempted while runnable, and measured when
 * sched_switch puts it on a CPU. */
#include "tool.bpf.h"

#define TASK_RUNNING 0
#define TASK_COMM_LEN 16

const volatile u64 min_us = 0;
const volatile pid_t targ_tgid = 0;
const volatile pid_t targ_pid = 0;

struct event {
    char task[TASK_COMM_LEN];
    char prev_task[TASK_COMM_LEN];
    u64 delta_us;
    u32 pid;
    u32 prev_pid;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

struct task_struct___pre514 {
    long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
    if (bpf_core_field_exists(t->__state))
        return BPF_CORE_READ(t, __state);
    return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline int stamp(struct task_struct *p)
{
    u32 tgid = BPF_CORE_READ(p, tgid);
    u32 pid = BPF_CORE_READ(p, pid);
    u64 ts;

    if (!pid)
        return 0;
    if (targ_tgid && targ_tgid != tgid)
        return 0;
    if (targ_pid && targ_pid != pid)
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
    return stamp(p);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(on_wakeup_new, struct task_struct *p)
{
    if (!tool_cgroup_ok())
        return 0;
    return stamp(p);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    struct event *e;
    u64 *tsp, delta_us;
    u32 pid;

    /* prev is still runnable (preempted): it waits from now */
    if (task_state(prev) == TASK_RUNNING && tool_cgroup_ok())
        stamp(prev);

    pid = BPF_CORE_READ(next, pid);
    tsp = bpf_map_lookup_elem(&start, &pid);
    if (!tsp)
        return 0;
    delta_us = (bpf_ktime_get_ns() - *tsp) / 1000;
    bpf_map_delete_elem(&start, &pid);
    if (min_us && delta_us <= min_us)
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    e->pid = pid;
    e->prev_pid = BPF_CORE_READ(prev, pid);
    e->delta_us = delta_us;
    bpf_probe_read_kernel_str(e->task, sizeof(e->task), next->comm);
    bpf_probe_read_kernel_str(e->prev_task, sizeof(e->prev_task), prev->comm);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
