// SPDX-License-Identifier: Apache-2.0
/* mountsnoop: mount() and umount(), and the calls of the new mount API
 * (fsopen, fsconfig, fsmount, move_mount, fspick, open_tree,
 * mount_setattr), from the system call tracepoints: the arguments are read
 * at entry and sent with the result at exit. */
#include "tool.bpf.h"

#define STR_LEN 256
#define NSTR 4

struct event {
    char str[NSTR][STR_LEN];
    u64 flags;
    s64 nums[3];
    u32 pid;
    u32 tid;
    u32 ppid;
    u32 mnt_ns;
    s32 ret;
    u32 syscall;
    u32 present;
    char comm[16];
    char pcomm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, struct event);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

static const struct event empty;

/* A new entry for the calling thread, with who is calling; NULL when filtered out. */
static __always_inline struct event *begin(u32 syscall)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    struct task_struct *task;
    struct event *e;

    if (!tool_cgroup_ok())
        return NULL;
    if (bpf_map_update_elem(&start, &tid, &empty, BPF_ANY))
        return NULL;
    e = bpf_map_lookup_elem(&start, &tid);
    if (!e)
        return NULL;
    task = (struct task_struct *)bpf_get_current_task();
    e->pid = id >> 32;
    e->tid = tid;
    e->syscall = syscall;
    e->ppid = BPF_CORE_READ(task, real_parent, tgid);
    e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    BPF_CORE_READ_STR_INTO(&e->pcomm, task, real_parent, comm);
    return e;
}

/* Reads user string i (a NULL pointer stays absent: bit i of present unset). */
static __always_inline void read_str(struct event *e, u32 i, u64 ptr)
{
    if (i >= NSTR || !ptr)
        return;
    if (bpf_probe_read_user_str(e->str[i], STR_LEN, (const void *)ptr) >= 0)
        e->present |= 1 << i;
}

SEC("tracepoint/syscalls/sys_exit_mount")
int on_exit(struct trace_event_raw_sys_exit *ctx)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct event *e = bpf_map_lookup_elem(&start, &tid);

    if (!e)
        return 0;
    e->ret = ctx->ret;
    tool_lost_if_err(bpf_ringbuf_output(&events, e, sizeof(*e), 0));
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

/* The numbers are the tool's own: indexes into its list of system calls. */
SEC("tracepoint/syscalls/sys_enter_mount")
int mount_enter(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e = begin(0);

    if (!e)
        return 0;
    read_str(e, 0, ctx->args[0]);
    read_str(e, 1, ctx->args[1]);
    read_str(e, 2, ctx->args[2]);
    e->flags = ctx->args[3];
    read_str(e, 3, ctx->args[4]);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_umount")
int umount_enter(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e = begin(1);

    if (!e)
        return 0;
    read_str(e, 1, ctx->args[0]);
    e->flags = ctx->args[1];
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_fsopen")
int fsopen_enter(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e = begin(2);

    if (!e)
        return 0;
    read_str(e, 0, ctx->args[0]);
    e->flags = ctx->args[1];
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_fsconfig")
int fsconfig_enter(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e = begin(3);

    if (!e)
        return 0;
    e->nums[0] = (s32)ctx->args[0];
    e->nums[1] = (u32)ctx->args[1];
    read_str(e, 0, ctx->args[2]);
    /* the value is text for set-string and the path commands, else binary or unused */
    if (ctx->args[1] == 1 || ctx->args[1] == 3 || ctx->args[1] == 4)
        read_str(e, 1, ctx->args[3]);
    e->nums[2] = (s32)ctx->args[4];
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_fsmount")
int fsmount_enter(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e = begin(4);

    if (!e)
        return 0;
    e->nums[0] = (s32)ctx->args[0];
    e->flags = ctx->args[1];
    e->nums[1] = (u32)ctx->args[2];
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_move_mount")
int move_mount_enter(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e = begin(5);

    if (!e)
        return 0;
    e->nums[0] = (s32)ctx->args[0];
    read_str(e, 0, ctx->args[1]);
    e->nums[1] = (s32)ctx->args[2];
    read_str(e, 1, ctx->args[3]);
    e->flags = ctx->args[4];
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_fspick")
int fspick_enter(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e = begin(6);

    if (!e)
        return 0;
    e->nums[0] = (s32)ctx->args[0];
    read_str(e, 0, ctx->args[1]);
    e->flags = ctx->args[2];
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_open_tree")
int open_tree_enter(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e = begin(7);

    if (!e)
        return 0;
    e->nums[0] = (s32)ctx->args[0];
    read_str(e, 0, ctx->args[1]);
    e->flags = ctx->args[2];
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_mount_setattr")
int mount_setattr_enter(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e = begin(8);

    if (!e)
        return 0;
    e->nums[0] = (s32)ctx->args[0];
    read_str(e, 0, ctx->args[1]);
    e->flags = ctx->args[2];
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
