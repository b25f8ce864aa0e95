// SPDX-License-Identifier: Apache-2.0
/* syscount: system calls counted (and timed with -L) by call or by process,
 * from the raw_syscalls:sys_enter and sys_exit tracepoints (as bcc's
 * syscount). */
#include "tool.bpf.h"

const volatile pid_t filter_pid = 0;
const volatile pid_t filter_tid = 0;
const volatile pid_t filter_ppid = 0;
const volatile bool filter_failed = false;
const volatile int filter_errno = 0;
const volatile int filter_nr = -1;
const volatile bool latency = false;
const volatile bool by_process = false;

struct data {
    u64 count;
    u64 total_ns;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, struct data);
} data SEC(".maps");

static __always_inline bool selected(u64 pid_tgid, long id)
{
    if (filter_nr >= 0 && id != filter_nr)
        return false;
    if (filter_pid && (u32)(pid_tgid >> 32) != filter_pid)
        return false;
    if (filter_tid && (u32)pid_tgid != filter_tid)
        return false;
    if (filter_ppid) {
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        if (BPF_CORE_READ(task, real_parent, tgid) != filter_ppid)
            return false;
    }
    return tool_cgroup_ok();
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u64 t;

    if (!latency || !selected(pid_tgid, ctx->id))
        return 0;
    t = bpf_ktime_get_ns();
    bpf_map_update_elem(&start, &pid_tgid, &t, BPF_ANY);
    return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
    u64 pid_tgid = bpf_get_current_pid_tgid();
    static const struct data zero;
    struct data *val;
    u64 *start_ns = NULL;
    long ret = ctx->ret;
    u32 key;

    if (!selected(pid_tgid, ctx->id))
        return 0;
    if (latency) {
        start_ns = bpf_map_lookup_elem(&start, &pid_tgid);
        if (!start_ns)
            return 0;
    }
    if (filter_failed && ret >= 0)
        goto out;
    if (filter_errno && ret != -filter_errno)
        goto out;
    key = by_process ? pid_tgid >> 32 : (u32)ctx->id;
    val = bpf_map_lookup_elem(&data, &key);
    if (!val) {
        bpf_map_update_elem(&data, &key, &zero, BPF_NOEXIST);
        val = bpf_map_lookup_elem(&data, &key);
        if (!val)
            goto out;
    }
    __sync_fetch_and_add(&val->count, 1);
    if (start_ns)
        __sync_fetch_and_add(&val->total_ns, bpf_ktime_get_ns() - *start_ns);
out:
    if (start_ns)
        bpf_map_delete_elem(&start, &pid_tgid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
