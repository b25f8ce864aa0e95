// SPDX-License-Identifier: Apache-2.0
/* statsnoop: stat() family calls that take a path, from the system call
 * tracepoints: the path pointer is kept at entry, read and sent with the
 * result at exit. */
#include "tool.bpf.h"

#define NAME_LEN 256

const volatile pid_t targ_pid = 0;
const volatile bool failed_only = false;

struct args_t {
    const char *fname;
    u32 syscall;
};

struct event {
    u64 ts_ns;
    u32 pid;
    s32 ret;
    u32 syscall;
    char comm[16];
    char fname[NAME_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, struct args_t);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

static __always_inline int on_enter(const char *fname, u32 syscall)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    struct args_t a = {.fname = fname, .syscall = syscall};
    char first = 0;

    if (targ_pid && targ_pid != (id >> 32))
        return 0;
    /* fstatat(fd, "", AT_EMPTY_PATH) is how libc's fstat() is made: no path */
    if (bpf_probe_read_user(&first, 1, fname) == 0 && first == 0)
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
    return 0;
}

static __always_inline int on_exit(long ret)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    struct args_t *a = bpf_map_lookup_elem(&start, &tid);
    struct event *e;

    if (!a)
        return 0;
    if (failed_only && ret >= 0)
        goto out;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        goto out;
    e->ts_ns = bpf_ktime_get_ns();
    e->pid = id >> 32;
    e->ret = ret;
    e->syscall = a->syscall;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname) < 0)
        e->fname[0] = 0;
    bpf_ringbuf_submit(e, 0);
out:
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

/* The numbers are the tool's own: indexes into its list of system calls. */
SEC("tracepoint/syscalls/sys_enter_newstat")
int newstat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[0], 0);
}

SEC("tracepoint/syscalls/sys_exit_newstat")
int newstat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_newlstat")
int newlstat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[0], 1);
}

SEC("tracepoint/syscalls/sys_exit_newlstat")
int newlstat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_newfstatat")
int newfstatat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[1], 2);
}

SEC("tracepoint/syscalls/sys_exit_newfstatat")
int newfstatat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_statx")
int statx_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[1], 3);
}

SEC("tracepoint/syscalls/sys_exit_statx")
int statx_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_statfs")
int statfs_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[0], 4);
}

SEC("tracepoint/syscalls/sys_exit_statfs")
int statfs_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_stat")
int stat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[0], 5);
}

SEC("tracepoint/syscalls/sys_exit_stat")
int stat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_lstat")
int lstat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[0], 6);
}

SEC("tracepoint/syscalls/sys_exit_lstat")
int lstat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_stat64")
int stat64_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[0], 7);
}

SEC("tracepoint/syscalls/sys_exit_stat64")
int stat64_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_lstat64")
int lstat64_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[0], 8);
}

SEC("tracepoint/syscalls/sys_exit_lstat64")
int lstat64_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_fstatat64")
int fstatat64_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[1], 9);
}

SEC("tracepoint/syscalls/sys_exit_fstatat64")
int fstatat64_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_statfs64")
int statfs64_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[0], 10);
}

SEC("tracepoint/syscalls/sys_exit_statfs64")
int statfs64_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
