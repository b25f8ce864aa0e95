/* Shared by the exporter examples: the usual includes, a counter that
 * creates its map entry on first use, and histograms in ebpf_exporter's
 * layout, which `tsbpf exporter` reads: the bucket index is the last field
 * of the key, and the entry at bucket index MAX + 1 holds the sum of the
 * values (the histogram's _sum). */
#ifndef TSBPF_EXPORTER_BPF_H
#define TSBPF_EXPORTER_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* Adds n to the u64 that a hash map holds at key, inserting 0 first when
 * the key is new (an insert racing with another CPU's is fine: BPF_NOEXIST
 * keeps the first, and both then add to it). */
static __always_inline void map_add(void *map, const void *key, u64 n)
{
    u64 zero = 0, *v = bpf_map_lookup_elem(map, key);

    if (!v) {
        bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
        v = bpf_map_lookup_elem(map, key);
        if (!v)
            return;
    }
    __sync_fetch_and_add(v, n);
}

/* The same for a per-CPU hash map: this CPU's value, no atomic needed. */
static __always_inline void percpu_map_add(void *map, const void *key, u64 n)
{
    u64 *v = bpf_map_lookup_elem(map, key);

    if (!v) {
        if (bpf_map_update_elem(map, key, &n, BPF_NOEXIST) == 0)
            return;
        /* another CPU inserted it first: add to this CPU's slot of it */
        v = bpf_map_lookup_elem(map, key);
        if (!v)
            return;
    }
    *v += n;
}

/* How many bits x needs: 0 for 0, 1 for 1, 2 for 2 and 3, 3 for 4..7, ... */
static __always_inline u32 bit_length(u64 x)
{
    u32 n = 0;

    if (x >> 32) {
        n += 32;
        x >>= 32;
    }
    if (x >> 16) {
        n += 16;
        x >>= 16;
    }
    if (x >> 8) {
        n += 8;
        x >>= 8;
    }
    if (x >> 4) {
        n += 4;
        x >>= 4;
    }
    if (x >> 2) {
        n += 2;
        x >>= 2;
    }
    if (x >> 1) {
        n += 1;
        x >>= 1;
    }
    return n + (u32)x;
}

/* The exp2 bucket of v: the smallest i with v <= 2^i, which is what the
 * bucket's `le` (2^i times bucket_multiplier) promises; at most max, so
 * values past the last bound are counted in the last bucket. */
static __always_inline u32 exp2_bucket(u64 v, u32 max)
{
    u32 i = v > 1 ? bit_length(v - 1) : 0;

    return i < max ? i : max;
}

/* Counts v in an exp2 histogram: key is the map's key, bucket points at
 * its bucket field (the key's last); max is the config's bucket_max. */
static __always_inline void exp2_hist_add(void *map, void *key, u32 *bucket, u64 v, u32 max)
{
    *bucket = exp2_bucket(v, max);
    map_add(map, key, 1);
    *bucket = max + 1;
    map_add(map, key, v);
}

/* Nanoseconds to whole microseconds, rounded up, so that a latency lands in
 * the bucket whose bound it does not exceed. */
static __always_inline u64 ns_to_us_up(u64 ns)
{
    return (ns + 999) / 1000;
}

#endif
