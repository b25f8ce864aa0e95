// SPDX-License-Identifier: Apache-2.0
/* biosnoop: one line per block I/O, from the block raw tracepoints: the
 * submitting process is remembered when the request is accounted as
 * started (block_io_start, 6.5+, else block_rq_insert), the request is
 * timed from its issue (block_rq_issue) to its completion
 * (block_rq_complete). */
#include "blk.bpf.h"

#define DISK_NAME_LEN 32
#define TASK_COMM_LEN 16

const volatile bool queued = false;
const volatile bool pattern = false;

struct start_req {
    u64 ts;
    u64 data_len;
};

struct who {
    u64 ts;
    u32 pid;
    char comm[TASK_COMM_LEN];
};

enum bio_pattern { UNKNOWN, SEQUENTIAL, RANDOM };

struct event {
    u64 ts;
    u64 delta;
    u64 qdelta;
    u64 sector;
    u64 len;
    u32 pid;
    u32 dev;
    u32 cmd_flags;
    u32 pattern;
    u8 has_who;
    char disk_name[DISK_NAME_LEN];
    char comm[TASK_COMM_LEN];
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
} infobyreq SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, u64);
} last_sectors SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

static __always_inline int remember(struct request *rq)
{
    struct who w = {};

    if (!rq_disk_ok(rq) || !tool_cgroup_ok())
        return 0;
    if (bpf_get_current_comm(w.comm, sizeof(w.comm)))
        return 0;
    w.pid = bpf_get_current_pid_tgid() >> 32;
    if (queued)
        w.ts = bpf_ktime_get_ns();
    bpf_map_update_elem(&infobyreq, &rq, &w, BPF_ANY);
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

    if (!rq_disk_ok(rq))
        return 0;
    s.ts = bpf_ktime_get_ns();
    s.data_len = BPF_CORE_READ(rq, __data_len);
    bpf_map_update_elem(&start, &rq, &s, BPF_ANY);
    return 0;
}

SEC("raw_tp/block_rq_complete")
int on_complete(u64 *ctx)
{
    struct request *rq = (struct request *)ctx[0];
    struct start_req *s;
    struct who *w;
    struct event *e;
    struct gendisk *disk;
    u64 ts;

    s = bpf_map_lookup_elem(&start, &rq);
    if (!s)
        return 0;
    w = bpf_map_lookup_elem(&infobyreq, &rq);
    if (!w && filter_cg)
        goto out;
    e = tool_lost_if_null(bpf_ringbuf_reserve(&events, sizeof(*e), 0));
    if (!e)
        goto out;
    ts = bpf_ktime_get_ns();
    e->ts = ts;
    e->delta = ts - s->ts;
    e->qdelta = 0;
    e->len = s->data_len;
    e->sector = BPF_CORE_READ(rq, __sector);
    e->cmd_flags = BPF_CORE_READ(rq, cmd_flags);
    e->dev = rq_dev(rq);
    disk = rq_gendisk(rq);
    e->disk_name[0] = 0;
    if (disk)
        bpf_probe_read_kernel_str(e->disk_name, sizeof(e->disk_name), disk->disk_name);
    if (w) {
        e->has_who = 1;
        e->pid = w->pid;
        if (queued && w->ts)
            e->qdelta = s->ts - w->ts;
        __builtin_memcpy(e->comm, w->comm, sizeof(e->comm));
    } else {
        e->has_who = 0;
        e->pid = 0;
        e->comm[0] = '?';
        e->comm[1] = 0;
    }
    e->pattern = UNKNOWN;
    if (pattern) {
        u64 *last = bpf_map_lookup_elem(&last_sectors, &e->dev);
        u64 next = e->sector + e->len / 512;
        if (last)
            e->pattern = *last == e->sector ? SEQUENTIAL : RANDOM;
        bpf_map_update_elem(&last_sectors, &e->dev, &next, BPF_ANY);
    }
    bpf_ringbuf_submit(e, 0);
out:
    bpf_map_delete_elem(&start, &rq);
    bpf_map_delete_elem(&infobyreq, &rq);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
