// SPDX-License-Identifier: Apache-2.0
/* execsnoop: new processes, from the execve and execveat system call
 * tracepoints. The arguments are read at entry, while the old image still
 * holds them, and sent with the result at exit. A read at entry can fail:
 * right after fork() the child's file-backed pages (a string constant in
 * .rodata) are not mapped yet, since fork copies no page tables for them,
 * and a BPF read cannot fault them in. So after a successful exec the
 * arguments are read again from the new image's stack (mm->arg_start ..
 * arg_end), which the kernel has just written. */
#include "tool.bpf.h"

#define ARG_SIZE 128
#define TOTAL_MAX_ARGS 60
#define ARGS_BUF (TOTAL_MAX_ARGS * ARG_SIZE)

const volatile uid_t targ_uid = (uid_t)-1;
const volatile pid_t targ_ppid = 0;
const volatile bool ignore_failed = false;
const volatile int max_args = 20;

/* The record: a header, then the arguments, of which only the bytes used
 * are sent (the struct ends in an array, so tsbpf decodes short records). */
struct event {
    u64 ts;
    u32 pid;
    u32 tid;
    u32 ppid;
    u32 uid;
    s32 retval;
    s32 args_count; /* -1: args holds the path, then argv as the new image has it */
    u32 args_size;
    u32 path_size; /* bytes of the path (with its NUL) at the start of args; 0: unread */
    u16 args_off;  /* offsetof(struct event, args), for user space */
    u8 truncated;
    char comm[16];
    char args[ARGS_BUF];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, u32);
    __type(value, struct event);
} execs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

static const struct event empty;

static __always_inline int on_enter(const char *filename, const char *const *argv)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    u32 uid = (u32)bpf_get_current_uid_gid();
    struct task_struct *task;
    struct event *e;

    if (targ_uid != (uid_t)-1 && targ_uid != uid)
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    task = (struct task_struct *)bpf_get_current_task();
    u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
    if (targ_ppid && targ_ppid != ppid)
        return 0;
    if (bpf_map_update_elem(&execs, &tid, &empty, BPF_NOEXIST))
        return 0;
    e = bpf_map_lookup_elem(&execs, &tid);
    if (!e)
        return 0;
    e->pid = id >> 32;
    e->tid = tid;
    e->ppid = ppid;
    e->uid = uid;

    long n = bpf_probe_read_user_str(e->args, ARG_SIZE, filename);
    if (n < 0)
        return 0;
    e->args_size = n;
    e->path_size = n;
    e->args_count = 1;
    for (int i = 1; i < TOTAL_MAX_ARGS; i++) {
        const char *arg = NULL;
        if (i >= max_args) {
            /* more arguments than asked for: say so */
            if (!bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) && arg)
                e->truncated = 1;
            break;
        }
        if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
            break;
        if (e->args_size > ARGS_BUF - ARG_SIZE)
            break;
        n = bpf_probe_read_user_str(&e->args[e->args_size], ARG_SIZE, arg);
        if (n < 0)
            break;
        e->args_count++;
        e->args_size += n;
    }
    return 0;
}

static __always_inline int on_exit(long ret)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct event *e = bpf_map_lookup_elem(&execs, &tid);

    if (!e)
        return 0;
    if (ignore_failed && ret < 0)
        goto out;
    e->retval = ret;
    e->ts = bpf_ktime_get_ns();
    if (ret == 0) {
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        unsigned long start = BPF_CORE_READ(task, mm, arg_start);
        unsigned long len = BPF_CORE_READ(task, mm, arg_end) - start;
        u32 off = e->path_size & (ARG_SIZE * 2 - 1);

        if (len > ARGS_BUF - ARG_SIZE * 2)
            len = ARGS_BUF - ARG_SIZE * 2;
        if (len > 0 && !bpf_probe_read_user(&e->args[off], len, (void *)start)) {
            e->args_size = off + len;
            e->args_count = -1;
        }
    }
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    e->args_off = __builtin_offsetof(struct event, args);
    u64 size = __builtin_offsetof(struct event, args) + (u64)e->args_size;
    if (size > sizeof(*e))
        size = sizeof(*e);
    /* keep the bound where the verifier sees it (clang may fold the clamp into the call's argument
     * otherwise) */
    asm volatile("%0 &= 0x3fff" : "+r"(size));
    tool_lost_if_err(bpf_ringbuf_output(&events, e, size, 0));
out:
    bpf_map_delete_elem(&execs, &tid);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int execve_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int execve_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int execveat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int execveat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
