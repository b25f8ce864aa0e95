// SPDX-License-Identifier: Apache-2.0
/* runqlat: how long runnable tasks wait for a CPU, for runqlat.yaml. A task
 * is stamped when it is woken (sched_wakeup, sched_wakeup_new) or preempted
 * while still runnable (sched_switch's prev), and measured when sched_switch
 * puts it on a CPU. BTF-typed tracepoints (tp_btf, Linux 5.5+): the
 * arguments are typed kernel pointers the program reads directly. */
#include "exporter.bpf.h"

/* The last bucket: 2^26 us, about 67 s (bucket_max in the YAML). */
#define MAX_BUCKET 26

/* A runnable task's state. */
#define TASK_RUNNING 0

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, u32);
    __type(value, u64);
} start SEC(".maps");

/* Read as the histogram of the same name; the key is the bucket alone. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, MAX_BUCKET + 2);
    __type(key, u32);
    __type(value, u64);
} run_queue_latency_seconds SEC(".maps");

/* The state field was task_struct.state until 5.14, __state since. */
struct task_struct___pre514 {
    long state;
} __attribute__((preserve_access_index));

static __always_inline bool still_runnable(struct task_struct *t)
{
    if (bpf_core_field_exists(t->__state))
        return t->__state == TASK_RUNNING;
    return ((struct task_struct___pre514 *)t)->state == TASK_RUNNING;
}

static __always_inline void stamp(u32 tid)
{
    u64 ts = bpf_ktime_get_ns();

    if (tid) /* not the idle task */
        bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
    stamp(p->pid);
    return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(on_wakeup_new, struct task_struct *p)
{
    stamp(p->pid);
    return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    u32 tid = next->pid, bucket;
    u64 *ts, now;

    if (still_runnable(prev))
        stamp(prev->pid);
    ts = bpf_map_lookup_elem(&start, &tid);
    if (!ts)
        return 0;
    now = bpf_ktime_get_ns();
    if (now > *ts)
        exp2_hist_add(&run_queue_latency_seconds, &bucket, &bucket, ns_to_us_up(now - *ts),
                      MAX_BUCKET);
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
