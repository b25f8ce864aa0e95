// SPDX-License-Identifier: Apache-2.0
/* syncsnoop: calls that flush file data to storage (sync, fsync, fdatasync,
 * syncfs, sync_file_range, msync), from their system call entry
 * tracepoints, as bcc's kprobe on sync() sees them: at entry. */
#include "tool.bpf.h"

struct event {
    u64 ts;
    u32 pid;
    u32 tid;
    s32 fd;
    u32 syscall;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

static __always_inline int submit(u32 syscall, s32 fd)
{
    u64 id = bpf_get_current_pid_tgid();
    struct event *e;

    if (!tool_cgroup_ok())
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    e->ts = bpf_ktime_get_ns();
    e->pid = id >> 32;
    e->tid = (u32)id;
    e->fd = fd;
    e->syscall = syscall;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}

/* The numbers are the tool's own: indexes into its list of system calls. */
SEC("tracepoint/syscalls/sys_enter_sync")
int sync_enter(struct trace_event_raw_sys_enter *ctx)
{
    return submit(0, -1);
}

SEC("tracepoint/syscalls/sys_enter_fsync")
int fsync_enter(struct trace_event_raw_sys_enter *ctx)
{
    return submit(1, (s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_fdatasync")
int fdatasync_enter(struct trace_event_raw_sys_enter *ctx)
{
    return submit(2, (s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_syncfs")
int syncfs_enter(struct trace_event_raw_sys_enter *ctx)
{
    return submit(3, (s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_sync_file_range")
int sync_file_range_enter(struct trace_event_raw_sys_enter *ctx)
{
    return submit(4, (s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_msync")
int msync_enter(struct trace_event_raw_sys_enter *ctx)
{
    return submit(5, -1);
}

char LICENSE[] SEC("license") = "GPL";
