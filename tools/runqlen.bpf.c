// SPDX-License-Identifier: Apache-2.0
/* runqlen: the scheduler run queue length, sampled 99 times a second on
 * every CPU by a software perf event (cpu-clock), as bcc's runqlen: the
 * current task's CFS run queue's count of queued tasks, less the running
 * one. */
#include "tool.bpf.h"

const volatile bool per_cpu = false;

/* cfs_rq.nr_running was renamed nr_queued in 6.14. */
struct cfs_rq___pre614 {
    unsigned int nr_running;
} __attribute__((preserve_access_index));

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct hist_key);
    __type(value, u64);
} hists SEC(".maps");

SEC("perf_event")
int do_perf_event(struct bpf_perf_event_data *ctx)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct cfs_rq *q = BPF_CORE_READ(task, se.cfs_rq);
    u32 len;

    if (!q)
        return 0;
    if (bpf_core_field_exists(q->nr_queued))
        len = BPF_CORE_READ(q, nr_queued);
    else
        len = BPF_CORE_READ((struct cfs_rq___pre614 *)q, nr_running);
    /* less the running task: 0 is idle, 1 one task waiting */
    if (len > 0)
        len--;
    hist_add(&hists, per_cpu ? bpf_get_smp_processor_id() : 0, len);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
