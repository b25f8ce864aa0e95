// SPDX-License-Identifier: Apache-2.0
/* oomkill: OOM kills by the victim's command, for oomkill.yaml, from the
 * oom:mark_victim tracepoint, which fires once per victim when the OOM
 * killer (global or a memory cgroup's) picks it.
 *
 * The event's fields by kernel: since 4.19, pid (the victim's); since 6.9
 * (and some stable kernels before it that took the change), also comm,
 * total_vm, anon_rss, file_rss, shmem_rss, uid, pgtables and oom_score_adj.
 * With comm the label is the victim's name; without it, it is the name of
 * the current task when that is the victim (the usual case in a memory
 * cgroup: the task whose allocation failed is picked), else "unknown". */
#include "exporter.bpf.h"

#define COMM_LEN 16

struct command_key {
    char comm[COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, struct command_key);
    __type(value, u64);
} oom_kills_total SEC(".maps");

SEC("tracepoint/oom/mark_victim")
int on_mark_victim(struct trace_event_raw_mark_victim *ctx)
{
    struct command_key key = {};
    u32 loc;

    if (bpf_core_field_exists(ctx->__data_loc_comm)) {
        /* a __data_loc field: the string's offset in the record (low 16 bits) */
        loc = BPF_CORE_READ(ctx, __data_loc_comm);
        bpf_probe_read_kernel_str(key.comm, sizeof(key.comm), (void *)ctx + (loc & 0xffff));
    } else if (BPF_CORE_READ(ctx, pid) == (u32)bpf_get_current_pid_tgid()) {
        bpf_get_current_comm(key.comm, sizeof(key.comm));
    } else {
        __builtin_memcpy(key.comm, "unknown", sizeof("unknown"));
    }
    map_add(&oom_kills_total, &key, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
