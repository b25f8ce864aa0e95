// SPDX-License-Identifier: Apache-2.0
/* killsnoop: signals sent by kill(), tkill() and tgkill(), from the system
 * call tracepoints: the target and signal are kept at entry and sent with
 * the result at exit. */
#include "tool.bpf.h"

#define SYS_KILL 0
#define SYS_TKILL 1
#define SYS_TGKILL 2

const volatile pid_t targ_pid = 0;
const volatile pid_t targ_tpid = 0;
const volatile int targ_sig = 0;
const volatile bool failed_only = false;

struct args_t {
    s32 tpid;
    s32 sig;
    u32 syscall;
};

struct event {
    u32 pid;
    s32 tpid;
    s32 sig;
    s32 ret;
    u32 syscall;
    char comm[16];
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

static __always_inline int on_enter(int tpid, int sig, u32 syscall)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    struct args_t a = {.tpid = tpid, .sig = sig, .syscall = syscall};

    if (targ_pid && targ_pid != (id >> 32))
        return 0;
    if (targ_tpid && targ_tpid != tpid)
        return 0;
    if (targ_sig && targ_sig != sig)
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
    e->pid = id >> 32;
    e->tpid = a->tpid;
    e->sig = a->sig;
    e->ret = ret;
    e->syscall = a->syscall;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
out:
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int kill_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((int)ctx->args[0], (int)ctx->args[1], SYS_KILL);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int tkill_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((int)ctx->args[0], (int)ctx->args[1], SYS_TKILL);
}

/* tgkill(tgid, tid, sig): the target shown is the process, tgid */
SEC("tracepoint/syscalls/sys_enter_tgkill")
int tgkill_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((int)ctx->args[0], (int)ctx->args[2], SYS_TGKILL);
}

SEC("tracepoint/syscalls/sys_exit_kill")
int kill_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int tkill_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int tgkill_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
