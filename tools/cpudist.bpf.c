// SPDX-License-Identifier: Apache-2.0
/* cpudist: on-CPU (or with -O off-CPU) time per scheduling as a histogram,
 * from the sched_switch raw tracepoint (bcc: a kprobe on
 * finish_task_switch): on-CPU time runs from a task's switch-in to its
 * switch-out, off-CPU time from its switch-out to its next switch-in. */
#include "tool.bpf.h"

const volatile bool offcpu = false;
const volatile pid_t targ_tgid = 0;
const volatile bool include_idle = false;
const volatile bool milliseconds = false;
const volatile bool per_process = false;
const volatile bool per_thread = false;
const volatile bool extension = false;

struct ext_val {
    u64 total;
    u64 count;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, u32);
    __type(value, u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct hist_key);
    __type(value, u64);
} hists SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct ext_val);
} ext SEC(".maps");

static __always_inline bool wanted(u32 tgid, u32 pid)
{
    if (targ_tgid && tgid != targ_tgid)
        return false;
    if (!include_idle && pid == 0)
        return false;
    return true;
}

static __always_inline void store_start(u32 tgid, u32 pid, u64 ts)
{
    if (!wanted(tgid, pid))
        return;
    bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
}

static __always_inline void update_hist(u32 tgid, u32 pid, u64 ts)
{
    u64 *tsp, delta;
    u32 id = 0;

    if (!wanted(tgid, pid))
        return;
    tsp = bpf_map_lookup_elem(&start, &pid);
    if (!tsp)
        return;
    if (ts < *tsp)
        return;
    delta = ts - *tsp;
    bpf_map_delete_elem(&start, &pid);
    delta /= milliseconds ? 1000000 : 1000;
    if (per_process)
        id = tgid;
    else if (per_thread)
        id = pid;
    hist_add(&hists, id, log2_slot(delta));
    if (extension) {
        u32 zero = 0;
        struct ext_val *e = bpf_map_lookup_elem(&ext, &zero);
        if (e) {
            __sync_fetch_and_add(&e->total, delta);
            __sync_fetch_and_add(&e->count, 1);
        }
    }
}

SEC("raw_tp/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    u64 ts = bpf_ktime_get_ns();
    u32 prev_pid = BPF_CORE_READ(prev, pid), prev_tgid = BPF_CORE_READ(prev, tgid);
    u32 next_pid = BPF_CORE_READ(next, pid), next_tgid = BPF_CORE_READ(next, tgid);

    /* --cgroup asks about the current task, prev: off-CPU, only its tasks
     * are stamped; on-CPU, only its tasks are measured */
    if (offcpu) {
        if (tool_cgroup_ok())
            store_start(prev_tgid, prev_pid, ts);
        update_hist(next_tgid, next_pid, ts);
    } else {
        if (tool_cgroup_ok())
            update_hist(prev_tgid, prev_pid, ts);
        store_start(next_tgid, next_pid, ts);
    }
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
