// SPDX-License-Identifier: Apache-2.0
/* bashreadline: commands typed into bash, from a uretprobe on readline() in
 * /bin/bash (or a libreadline), as bcc's bashreadline: the returned line is
 * read in the caller's memory, for processes named "bash". */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16

struct event {
    char str[80];
    u32 pid;
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 18);
} events SEC(".maps");

SEC("uretprobe")
int BPF_KRETPROBE(printret, const char *ret)
{
    char comm[TASK_COMM_LEN] = {};
    struct event *e;

    if (!ret)
        return 0;
    bpf_get_current_comm(comm, sizeof(comm));
    if (comm[0] != 'b' || comm[1] != 'a' || comm[2] != 's' || comm[3] != 'h' || comm[4] != 0)
        return 0;
    if (!tool_cgroup_ok())
        return 0;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        return 0;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    bpf_probe_read_user_str(e->str, sizeof(e->str), ret);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
