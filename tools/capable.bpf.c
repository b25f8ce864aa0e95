// SPDX-License-Identifier: Apache-2.0
/* capable: security capability checks. Three ways in, the tool picks one:
 * bcc's kprobe on cap_capable() (with a kretprobe for the result), fexit on
 * the same function (arguments and result at once), or the
 * capability:cap_capable tracepoint (Linux 6.13+), which has the result but
 * not the check's options (audit or not, insetid). */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16

const volatile pid_t targ_pid = 0;
const volatile pid_t self_pid = 0;
const volatile bool kernel_stacks = false;
const volatile bool user_stacks = false;
const volatile bool unique = false;
/* -v: include checks made with CAP_OPT_NOAUDIT (the tracepoint cannot tell). */
const volatile bool verbose = false;

/* cap_capable()'s options (CAP_OPT_NOAUDIT, CAP_OPT_INSETID, Linux 5.1+). */
#define OPT_NOAUDIT (1 << 1)
#define OPT_INSETID (1 << 2)

struct event {
    u32 tgid;
    u32 pid;
    u32 uid;
    s32 cap;
    s32 ret;
    s32 opts; /* -1: not known (tracepoint) */
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
    __uint(max_entries, TOOL_RING_BYTES);
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

struct pending {
    s32 cap;
    s32 opts;
    s32 kernel_stack_id;
    s32 user_stack_id;
};

/* Between the kprobe and the kretprobe, by thread. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, struct pending);
} start SEC(".maps");

static __always_inline void ids(struct event *ev)
{
    u64 id = bpf_get_current_pid_tgid();

    ev->tgid = id >> 32;
    ev->pid = (u32)id;
    ev->uid = (u32)bpf_get_current_uid_gid();
}

/* Whether the calling task's check is traced; fills the event's ids. */
static __always_inline bool wanted(struct event *ev, s32 opts)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;

    if (targ_pid && targ_pid != tgid)
        return false;
    if (tgid == self_pid)
        return false;
    if (!verbose && opts >= 0 && (opts & OPT_NOAUDIT))
        return false;
    if (!tool_cgroup_ok())
        return false;
    ids(ev);
    ev->opts = opts;
    return true;
}

static __always_inline void stacks_of(void *ctx, struct event *ev)
{
    ev->kernel_stack_id = kernel_stacks ? bpf_get_stackid(ctx, &stacks, 0) : -1;
    ev->user_stack_id = user_stacks ? bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK) : -1;
}

static __always_inline int submit(struct event *ev)
{
    struct event *e;

    if (unique) {
        struct repeat_key k = {};
        static const u64 zero;

        k.cap = ev->cap;
        if (filter_cg)
            k.cgroupid = bpf_get_current_cgroup_id();
        else
            k.tgid = ev->tgid;
        k.kernel_stack_id = ev->kernel_stack_id;
        k.user_stack_id = ev->user_stack_id;
        if (bpf_map_update_elem(&seen, &k, &zero, BPF_NOEXIST))
            return 0;
    }

    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    *e = *ev;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tracepoint/capability/cap_capable")
int on_cap_capable(struct trace_event_raw_cap_capable *ctx)
{
    struct event ev = {};

    if (!wanted(&ev, -1))
        return 0;
    ev.cap = BPF_CORE_READ(ctx, cap);
    ev.ret = BPF_CORE_READ(ctx, ret);
    stacks_of(ctx, &ev);
    return submit(&ev);
}

SEC("fexit/cap_capable")
int BPF_PROG(cap_capable_fexit, const struct cred *cred, struct user_namespace *ns, int cap,
             unsigned int opts, int ret)
{
    struct event ev = {};

    if (!wanted(&ev, (s32)(opts & 0x7fffffff)))
        return 0;
    ev.cap = cap;
    ev.ret = ret;
    stacks_of(ctx, &ev);
    return submit(&ev);
}

SEC("kprobe/cap_capable")
int BPF_KPROBE(cap_capable_entry, const struct cred *cred, struct user_namespace *ns, int cap,
               unsigned int opts)
{
    struct event ev = {};
    struct pending p = {};

    if (!wanted(&ev, (s32)(opts & 0x7fffffff)))
        return 0;
    stacks_of(ctx, &ev);
    p.cap = cap;
    p.opts = ev.opts;
    p.kernel_stack_id = ev.kernel_stack_id;
    p.user_stack_id = ev.user_stack_id;
    bpf_map_update_elem(&start, &ev.pid, &p, BPF_ANY);
    return 0;
}

SEC("kretprobe/cap_capable")
int BPF_KRETPROBE(cap_capable_return, int ret)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct pending *p = bpf_map_lookup_elem(&start, &tid);
    struct event ev = {};

    if (!p)
        return 0;
    ev.cap = p->cap;
    ev.kernel_stack_id = p->kernel_stack_id;
    ev.user_stack_id = p->user_stack_id;
    ids(&ev); /* the filters passed at entry */
    ev.opts = p->opts;
    ev.ret = ret;
    bpf_map_delete_elem(&start, &tid);
    return submit(&ev);
}

char LICENSE[] SEC("license") = "GPL";
