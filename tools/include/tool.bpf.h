/* Shared by the tools' BPF programs: the includes every tool needs and the
 * --cgroup filter (a cgroup array holding the user's cgroup; a task matches
 * when it runs in that cgroup or one of its descendants, which is what
 * bpf_current_task_under_cgroup() checks, Linux 4.9+). */
#ifndef TSBPF_TOOL_BPF_H
#define TSBPF_TOOL_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile bool filter_cg = false;

struct {
    __uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u32);
} cgroup_map SEC(".maps");

/* True when the current task passes the --cgroup filter (or there is none). */
static __always_inline bool tool_cgroup_ok(void)
{
    return !filter_cg || bpf_current_task_under_cgroup(&cgroup_map, 0) == 1;
}

#endif
