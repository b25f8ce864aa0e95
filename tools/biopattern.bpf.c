// SPDX-License-Identifier: Apache-2.0
/* biopattern: random vs sequential block I/O per disk, from the
 * block_rq_complete raw tracepoint (bcc: the block:block_rq_complete
 * tracepoint, whose dev, sector and nr_sector are the request's disk,
 * position and completed bytes / 512, read here from the same arguments). */
#include "blk.bpf.h"

struct counter {
    u64 last_sector;
    u64 bytes;
    u32 sequential;
    u32 random;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, u32);
    __type(value, struct counter);
} counters SEC(".maps");

SEC("raw_tp/block_rq_complete")
int on_complete(u64 *ctx)
{
    struct request *rq = (struct request *)ctx[0];
    u32 nr_sector = (u32)(ctx[2] >> 9);
    static const struct counter zero;
    struct counter *c;
    u64 sector;
    u32 dev;

    dev = rq_dev(rq);
    if (targ_dev && dev != targ_dev)
        return 0;
    sector = BPF_CORE_READ(rq, __sector);
    c = bpf_map_lookup_elem(&counters, &dev);
    if (!c) {
        bpf_map_update_elem(&counters, &dev, &zero, BPF_NOEXIST);
        c = bpf_map_lookup_elem(&counters, &dev);
        if (!c)
            return 0;
    }
    if (c->last_sector) {
        if (c->last_sector == sector)
            __sync_fetch_and_add(&c->sequential, 1);
        else
            __sync_fetch_and_add(&c->random, 1);
        __sync_fetch_and_add(&c->bytes, (u64)nr_sector * 512);
    }
    c->last_sector = sector + nr_sector;
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
