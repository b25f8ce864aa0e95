// SPDX-License-Identifier: Apache-2.0
/* exitsnoop: process (or, with --per-thread, thread) termination, from the
 * sched:sched_process_exit tracepoint, which runs in the exiting task with
 * its exit code set, as bcc's exitsnoop does. */
#include "tool.bpf.h"

const volatile pid_t targ_pid = 0;
const volatile bool per_thread = false;
const volatile bool failed_only = false;

struct event {
    u64 start_time;
    u64 exit_time;
    u32 pid;
    u32 tid;
    u32 ppid;
    s32 exit_code;
    u32 sig_info;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    u32 tgid = BPF_CORE_READ(task, tgid), pid = BPF_CORE_READ(task, pid);
    int code = BPF_CORE_READ(task, exit_code);
    struct event *e;

    if (targ_pid) {
        if (per_thread ? tgid != targ_pid : !(tgid == targ_pid && pid == tgid))
            return 0;
    } else if (!per_thread && pid != tgid) {
        return 0;
    }
    if (failed_only && code == 0)
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    e->start_time = BPF_CORE_READ(task, start_time);
    e->exit_time = bpf_ktime_get_ns();
    e->pid = tgid;
    e->tid = pid;
    e->ppid = BPF_CORE_READ(task, real_parent, tgid);
    e->exit_code = code >> 8;
    e->sig_info = code & 0xff;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
