// SPDX-License-Identifier: Apache-2.0
/* oomkill: the kernel's out-of-memory killer, from the oom:mark_victim
 * tracepoint. It fires in __oom_kill_process() when the victim is chosen,
 * in the context of the task whose allocation triggered the kill (bcc reads
 * the same task as the current one in its oom_kill_process kprobe). Where
 * the kernel has kprobes or fentry, bcc's hook on oom_kill_process() adds
 * what the tracepoint lacks: the OOM control's total pages (bcc's "pages")
 * and, before Linux 6.2's richer event, the victim's name. */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16

struct event {
    u32 fpid;
    u32 tpid;
    u64 pages;
    u64 anon_rss;
    u64 file_rss;
    u64 shmem_rss;
    u32 uid;
    s32 oom_score_adj;
    char fcomm[TASK_COMM_LEN];
    char tcomm[TASK_COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 16);
} events SEC(".maps");

/* What oom_kill_process() knows, for the mark_victim event that follows in
 * the same thread. */
struct kill_ctx {
    u64 totalpages;
    char tcomm[TASK_COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, struct kill_ctx);
} killing SEC(".maps");

static __always_inline int note_kill(struct oom_control *oc)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct task_struct *t = BPF_CORE_READ(oc, chosen);
    struct kill_ctx c = {};

    c.totalpages = BPF_CORE_READ(oc, totalpages);
    if (t)
        BPF_CORE_READ_STR_INTO(&c.tcomm, t, comm);
    bpf_map_update_elem(&killing, &tid, &c, BPF_ANY);
    return 0;
}

SEC("kprobe/oom_kill_process")
int BPF_KPROBE(oom_kill_process_kprobe, struct oom_control *oc)
{
    return note_kill(oc);
}

SEC("fentry/oom_kill_process")
int BPF_PROG(oom_kill_process_fentry, struct oom_control *oc)
{
    return note_kill(oc);
}

/* Before 5.19 the event had the victim's pid only. */
struct trace_event_raw_mark_victim___pre519 {
    int pid;
} __attribute__((preserve_access_index));

SEC("tracepoint/oom/mark_victim")
int on_mark_victim(struct trace_event_raw_mark_victim *ctx)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct event *e;

    if (!tool_cgroup_ok())
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    __builtin_memset(e, 0, sizeof(*e));
    e->fpid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(e->fcomm, sizeof(e->fcomm));
    e->tpid = BPF_CORE_READ((struct trace_event_raw_mark_victim___pre519 *)ctx, pid);
    if (bpf_core_field_exists(ctx->total_vm)) {
        u32 loc = BPF_CORE_READ(ctx, __data_loc_comm);
        bpf_probe_read_kernel_str(e->tcomm, sizeof(e->tcomm), (void *)ctx + (loc & 0xffff));
        e->pages = BPF_CORE_READ(ctx, total_vm);
        e->anon_rss = BPF_CORE_READ(ctx, anon_rss);
        e->file_rss = BPF_CORE_READ(ctx, file_rss);
        e->shmem_rss = BPF_CORE_READ(ctx, shmem_rss);
        e->uid = BPF_CORE_READ(ctx, uid);
        e->oom_score_adj = BPF_CORE_READ(ctx, oom_score_adj);
    }
    struct kill_ctx *c = bpf_map_lookup_elem(&killing, &tid);
    if (c) {
        e->pages = c->totalpages;
        if (!e->tcomm[0])
            __builtin_memcpy(e->tcomm, c->tcomm, sizeof(e->tcomm));
        bpf_map_delete_elem(&killing, &tid);
    }
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
