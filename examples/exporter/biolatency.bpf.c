// SPDX-License-Identifier: Apache-2.0
/* biolatency: block I/O latency by disk and operation, for
 * biolatency.yaml. A request is stamped when it is issued to the driver
 * (block_rq_issue) and measured when it completes (block_rq_complete).
 * Raw tracepoints (Linux 4.17+): their first argument is the request, or,
 * before 5.11, the queue and then the request. */
#include "exporter.bpf.h"

/* The last bucket: 2^27 us, about 134 s (bucket_max in the YAML). */
#define MAX_BUCKET 27

/* The operation is the low 8 bits of a request's cmd_flags (REQ_OP_*). */
#define OP_MASK 0xff

extern int LINUX_KERNEL_VERSION __kconfig;

struct disk_op_key {
    u32 dev;    /* the disk, as user space encodes a dev_t (majorminor) */
    u32 op;     /* REQ_OP_*: 0 read, 1 write, 2 flush, 3 discard, ... */
    u32 bucket; /* exp2 bucket of the latency in microseconds */
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u64);
    __type(value, u64);
} start SEC(".maps");

/* Read as the histogram of the same name: a few disks x a few operations x
 * (MAX_BUCKET + 2) buckets. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8192);
    __type(key, struct disk_op_key);
    __type(value, u64);
} bio_latency_seconds SEC(".maps");

/* The disk was rq->rq_disk until 5.16, rq->q->disk since. */
struct request___pre516 {
    struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *request_disk(struct request *rq)
{
    struct request___pre516 *old = (void *)rq;

    if (bpf_core_field_exists(old->rq_disk))
        return BPF_CORE_READ(old, rq_disk);
    return BPF_CORE_READ(rq, q, disk);
}

/* A device number in user space's encoding (the kernel's new_encode_dev):
 * the minor's low 8 bits, 12 bits of major, then the minor's other bits. */
static __always_inline u32 user_dev(u32 major, u32 minor)
{
    return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffU) << 12);
}

static __always_inline struct request *issued_request(u64 *ctx)
{
    if (LINUX_KERNEL_VERSION < KERNEL_VERSION(5, 11, 0))
        return (struct request *)ctx[1];
    return (struct request *)ctx[0];
}

SEC("raw_tp/block_rq_issue")
int on_issue(u64 *ctx)
{
    u64 rq = (u64)issued_request(ctx), ts = bpf_ktime_get_ns();

    bpf_map_update_elem(&start, &rq, &ts, BPF_ANY);
    return 0;
}

SEC("raw_tp/block_rq_complete")
int on_complete(u64 *ctx)
{
    struct request *rq = (struct request *)ctx[0];
    struct disk_op_key key = {};
    struct gendisk *disk;
    u64 id = (u64)rq, *ts, now = bpf_ktime_get_ns();

    ts = bpf_map_lookup_elem(&start, &id);
    if (!ts)
        return 0;
    if (now > *ts) {
        disk = request_disk(rq);
        if (disk)
            key.dev = user_dev(BPF_CORE_READ(disk, major), BPF_CORE_READ(disk, first_minor));
        key.op = BPF_CORE_READ(rq, cmd_flags) & OP_MASK;
        exp2_hist_add(&bio_latency_seconds, &key, &key.bucket, ns_to_us_up(now - *ts), MAX_BUCKET);
    }
    bpf_map_delete_elem(&start, &id);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
