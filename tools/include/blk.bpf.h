/* Shared by the block I/O tools: a request's disk and device number across
 * kernel versions, and the --disk filter. */
#ifndef TSBPF_BLK_BPF_H
#define TSBPF_BLK_BPF_H

#include "tool.bpf.h"

/* The kernel's dev_t encoding (MKDEV): 12 bits of major, 20 of minor. */
#define TOOL_MINORBITS 20

/* A request's disk was rq->rq_disk until 5.16, rq->q->disk since. */
struct request___pre516 {
    struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* -d DISK: the disk's dev_t (kernel encoding); 0: every disk. */
const volatile u32 targ_dev = 0;

static __always_inline struct gendisk *rq_gendisk(struct request *rq)
{
    struct request___pre516 *old = (void *)rq;

    if (bpf_core_field_exists(old->rq_disk))
        return BPF_CORE_READ(old, rq_disk);
    return BPF_CORE_READ(rq, q, disk);
}

/* The dev_t of the request's (whole) disk, 0 when it has none. */
static __always_inline u32 rq_dev(struct request *rq)
{
    struct gendisk *disk = rq_gendisk(rq);

    if (!disk)
        return 0;
    return ((u32)BPF_CORE_READ(disk, major) << TOOL_MINORBITS) |
           (u32)BPF_CORE_READ(disk, first_minor);
}

/* True when the request passes the -d filter (or there is none). */
static __always_inline bool rq_disk_ok(struct request *rq)
{
    return !targ_dev || rq_dev(rq) == targ_dev;
}

/* The operation of a request (REQ_OP_*: the low 8 bits of cmd_flags). */
#define TOOL_REQ_OP_MASK 0xff
#define TOOL_REQ_OP_WRITE 1

/* Raw tracepoints whose first argument was the request queue before 5.11
 * (block_rq_issue, block_rq_insert): user space sets this from the
 * kernel's BTF (btf_trace_block_rq_issue's parameters). */
const volatile bool rq_after_queue = false;

static __always_inline struct request *rq_arg(u64 *ctx)
{
    return (struct request *)(rq_after_queue ? ctx[1] : ctx[0]);
}

#endif
