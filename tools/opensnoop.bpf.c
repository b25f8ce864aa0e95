// SPDX-License-Identifier: Apache-2.0
/* opensnoop: open(), openat() and openat2() calls, from the system call
 * tracepoints: the arguments are kept at entry and sent with the result at
 * exit. With -F, a relative path is completed in the kernel: the names of
 * the directory it is relative to (the working directory, or the directory
 * of openat's dirfd), walked up to the task's root across mounts. */
#include "tool.bpf.h"

#define NAME_LEN 256
#define PATH_BUF 4096
#define MAX_PARTS 48
#define AT_FDCWD -100

const volatile pid_t targ_pid = 0;
const volatile pid_t targ_tid = 0;
const volatile uid_t targ_uid = (uid_t)-1;
const volatile u32 flags_mask = 0;
const volatile bool filter_flags = false;
const volatile bool failed_only = false;
const volatile bool full_path = false;

struct args_t {
    const char *fname;
    s32 flags;
    s32 dfd;
};

/* The record: a fixed header, then the path (the file name as given, then
 * with -F the directory names from the innermost up). Only the header and
 * the path's bytes go into the ring buffer (bpf_ringbuf_output), not the
 * whole 4.4 KB: a storm of opens then fills the ring 40 times slower. */
struct event {
    u64 ts;
    u32 pid;
    u32 tid;
    u32 uid;
    s32 ret;
    s32 flags;
    u32 path_size;
    u32 parts;
    u32 truncated;
    char comm[16];
    char path[PATH_BUF + NAME_LEN];
};
/* user space reads the path at this offset (tools/opensnoop.ts PATH_OFFSET) */
_Static_assert(__builtin_offsetof(struct event, path) == 56, "opensnoop's path offset");

/* the record being built, per CPU (too big for the BPF stack) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct event);
} scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, struct args_t);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

static __always_inline int on_enter(int dfd, const char *fname, int flags)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 pid = id >> 32, tid = (u32)id;
    struct args_t a = {.fname = fname, .flags = flags, .dfd = dfd};

    if (targ_tid) {
        if (targ_tid != tid)
            return 0;
    } else if (targ_pid && targ_pid != pid) {
        return 0;
    }
    if (targ_uid != (uid_t)-1 && targ_uid != (u32)bpf_get_current_uid_gid())
        return 0;
    if (filter_flags && !(flags & flags_mask))
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    bpf_map_update_elem(&start, &id, &a, BPF_ANY);
    return 0;
}

/* The directory a relative name of dfd starts from: the working directory
 * or the file open as dfd. */
static __always_inline bool start_dir(struct task_struct *task, int dfd, struct dentry **d,
                                      struct vfsmount **vm)
{
    if (dfd == AT_FDCWD) {
        *d = BPF_CORE_READ(task, fs, pwd.dentry);
        *vm = BPF_CORE_READ(task, fs, pwd.mnt);
        return true;
    }
    struct file *f = task_fd_file(task, dfd);

    if (!f)
        return false;
    *d = BPF_CORE_READ(f, f_path.dentry);
    *vm = BPF_CORE_READ(f, f_path.mnt);
    return true;
}

/* Appends the names of the directories from d up to the task's root (as
 * d_path() walks them: up the dentries, then from a mount's root to where it
 * is mounted). */
static __always_inline void walk_dirs(struct event *e, struct task_struct *task, int dfd)
{
    struct dentry *d, *root_d = BPF_CORE_READ(task, fs, root.dentry);
    struct vfsmount *vm, *root_vm = BPF_CORE_READ(task, fs, root.mnt);
    struct mount *mnt;
    u32 off = e->path_size;

    if (!start_dir(task, dfd, &d, &vm))
        return;
    mnt = (struct mount *)((void *)vm - bpf_core_field_offset(struct mount, mnt));
    for (int i = 0; i < MAX_PARTS; i++) {
        if (d == root_d && vm == root_vm)
            break;
        struct dentry *parent = BPF_CORE_READ(d, d_parent);
        if (d == BPF_CORE_READ(vm, mnt_root) || d == parent) {
            struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
            if (up == mnt)
                break;
            d = BPF_CORE_READ(mnt, mnt_mountpoint);
            mnt = up;
            vm = (struct vfsmount *)((void *)up + bpf_core_field_offset(struct mount, mnt));
            continue;
        }
        if (off >= PATH_BUF - NAME_LEN) {
            e->truncated = 1;
            break;
        }
        long n = bpf_probe_read_kernel_str(&e->path[off], NAME_LEN, BPF_CORE_READ(d, d_name.name));
        if (n <= 0)
            break;
        /* masked: the offset keeps one range from one pass to the next, so
         * the verifier sees the loop's states repeat */
        off = (off + n) & (PATH_BUF - 1);
        e->parts++;
        d = parent;
    }
    e->path_size = off;
}

static __always_inline int on_exit(void *ctx, long ret)
{
    u64 id = bpf_get_current_pid_tgid();
    struct args_t *a = bpf_map_lookup_elem(&start, &id);
    u32 zero = 0;
    struct event *e;
    u64 size;

    if (!a)
        return 0;
    if (failed_only && ret >= 0)
        goto out;
    e = bpf_map_lookup_elem(&scratch, &zero);
    if (!e)
        goto out;
    e->ts = bpf_ktime_get_ns();
    e->pid = id >> 32;
    e->tid = (u32)id;
    e->uid = (u32)bpf_get_current_uid_gid();
    e->ret = ret;
    e->flags = a->flags;
    e->parts = 1;
    e->truncated = 0;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    long n = bpf_probe_read_user_str(e->path, NAME_LEN, a->fname);
    if (n <= 0) {
        e->path[0] = 0;
        n = 1;
    }
    e->path_size = n;
    if (full_path && e->path[0] != '/')
        walk_dirs(e, (struct task_struct *)bpf_get_current_task(), a->dfd);
    size = __builtin_offsetof(struct event, path) + e->path_size;
    if (size > sizeof(*e))
        size = sizeof(*e);
    barrier_var(size);
    tool_lost_if_err(bpf_ringbuf_output(&events, e, size, 0));
out:
    bpf_map_delete_elem(&start, &id);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int open_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter(AT_FDCWD, (const char *)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int openat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((int)ctx->args[0], (const char *)ctx->args[1], (int)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int openat2_enter(struct trace_event_raw_sys_enter *ctx)
{
    u64 flags = 0;

    bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[2]);
    return on_enter((int)ctx->args[0], (const char *)ctx->args[1], (int)flags);
}

SEC("tracepoint/syscalls/sys_exit_open")
int open_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int openat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int openat2_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
