// SPDX-License-Identifier: Apache-2.0
/* biotop: block I/O per process and disk, summed per interval, from the
 * block raw tracepoints: the submitting process is remembered when the
 * request is accounted as started (block_io_start, 6.5+, else
 * block_rq_insert), the request is timed from its issue (block_rq_issue)
 * to its completion (block_rq_complete). */
#include "blk.bpf.h"

#define TASK_COMM_LEN 16

const volatile pid_t targ_pid = 0;

struct start_req {
    u64 ts;
    u64 data_len;
};

struct who {
    u32 pid;
    char name[TASK_COMM_LEN];
};

struct info {
    u32 pid;
    u32 rwflag;
    u32 major;
    u32 minor;
    char name[TASK_COMM_LEN];
};

struct val {
    u64 bytes;
    u64 us;
    u64 io; /* 64 bits: served as a counter, never cleared */
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct request *);
    __type(value, struct start_req);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct request *);
    __type(value, struct who);
} whobyreq SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct info);
    __type(value, struct val);
} counts SEC(".maps");

static __always_inline int remember(struct request *rq)
{
    struct who w = {};

    if (!tool_cgroup_ok())
        return 0;
    if (bpf_get_current_comm(w.name, sizeof(w.name)))
        return 0;
    w.pid = bpf_get_current_pid_tgid() >> 32;
    if (targ_pid && w.pid != targ_pid)
        return 0;
    bpf_map_update_elem(&whobyreq, &rq, &w, BPF_ANY);
    return 0;
}

SEC("raw_tp/block_io_start")
int on_io_start(u64 *ctx)
{
    return remember((struct request *)ctx[0]);
}

SEC("raw_tp/block_rq_insert")
int on_insert(u64 *ctx)
{
    return remember(rq_arg(ctx));
}

SEC("raw_tp/block_rq_issue")
int on_issue(u64 *ctx)
{
    struct request *rq = rq_arg(ctx);
    struct start_req s = {};

    s.ts = bpf_ktime_get_ns();
    s.data_len = BPF_CORE_READ(rq, __data_len);
    bpf_map_update_elem(&start, &rq, &s, BPF_ANY);
    return 0;
}

SEC("raw_tp/block_rq_complete")
int on_complete(u64 *ctx)
{
    struct request *rq = (struct request *)ctx[0];
    static const struct val zero;
    struct info info = {};
    struct start_req *s;
    struct who *w;
    struct val *v;
    u32 dev;

    s = bpf_map_lookup_elem(&start, &rq);
    if (!s)
        return 0;
    w = bpf_map_lookup_elem(&whobyreq, &rq);
    /* with a filter, an I/O whose process is unknown is not counted */
    if (!w && (targ_pid || filter_cg))
        goto out;
    dev = rq_dev(rq);
    info.major = dev >> TOOL_MINORBITS;
    info.minor = dev & ((1 << TOOL_MINORBITS) - 1);
    info.rwflag = (BPF_CORE_READ(rq, cmd_flags) & TOOL_REQ_OP_MASK) == TOOL_REQ_OP_WRITE;
    if (w) {
        info.pid = w->pid;
        __builtin_memcpy(info.name, w->name, sizeof(info.name));
    }
    v = bpf_map_lookup_elem(&counts, &info);
    if (!v) {
        bpf_map_update_elem(&counts, &info, &zero, BPF_NOEXIST);
        v = bpf_map_lookup_elem(&counts, &info);
        if (!v)
            goto out;
    }
    __sync_fetch_and_add(&v->us, (bpf_ktime_get_ns() - s->ts) / 1000);
    __sync_fetch_and_add(&v->bytes, s->data_len);
    __sync_fetch_and_add(&v->io, 1);
out:
    bpf_map_delete_elem(&start, &rq);
    bpf_map_delete_elem(&whobyreq, &rq);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
