// SPDX-License-Identifier: Apache-2.0
/* capable: security capability checks, from the capability:cap_capable
 * tracepoint (Linux 6.13+), which cap_capable() fires with the check's
 * result. Unlike bcc's kprobe it does not see the check's options (audit or
 * not, insetid). */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16

const volatile pid_t targ_pid = 0;
const volatile pid_t self_pid = 0;
const volatile bool kernel_stacks = false;
const volatile bool user_stacks = false;
const volatile bool unique = false;

struct event {
    u32 tgid;
    u32 pid;
    u32 uid;
    s32 cap;
    s32 ret;
    s32 kernel_stack_id;
    s32 user_stack_id;
    char comm[TASK_COMM_LEN];
};

struct repeat_key {
    s32 cap;
    u32 tgid;
    u64 cgroupid;
    s32 kernel_stack_id;
    s32 user_stack_id;
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 2048);
    __type(key, u32);
    __type(value, u64[127]);
} stacks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct repeat_key);
    __type(value, u64);
} seen SEC(".maps");

SEC("tracepoint/capability/cap_capable")
int on_cap_capable(struct trace_event_raw_cap_capable *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tgid = id >> 32;
    struct event *e;

    if (targ_pid && targ_pid != tgid)
        return 0;
    if (tgid == self_pid)
        return 0;
    if (!tool_cgroup_ok())
        return 0;

    struct event ev = {};
    ev.tgid = tgid;
    ev.pid = (u32)id;
    ev.uid = (u32)bpf_get_current_uid_gid();
    ev.cap = BPF_CORE_READ(ctx, cap);
    ev.ret = BPF_CORE_READ(ctx, ret);
    ev.kernel_stack_id = kernel_stacks ? bpf_get_stackid(ctx, &stacks, 0) : -1;
    ev.user_stack_id = user_stacks ? bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK) : -1;

    if (unique) {
        struct repeat_key k = {};
        static const u64 zero;

        k.cap = ev.cap;
        if (filter_cg)
            k.cgroupid = bpf_get_current_cgroup_id();
        else
            k.tgid = tgid;
        k.kernel_stack_id = ev.kernel_stack_id;
        k.user_stack_id = ev.user_stack_id;
        if (bpf_map_update_elem(&seen, &k, &zero, BPF_NOEXIST))
            return 0;
    }

    e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    *e = ev;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
