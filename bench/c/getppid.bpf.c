// SPDX-License-Identifier: GPL-2.0
/*
 * The event-stream benchmark and test program: for the target process only,
 * every getppid() writes one 32-byte record to a ring buffer and to a perf
 * event array.
 *
 *   clang -target bpf -O2 -g -D__TARGET_ARCH_x86 -I<dir of vmlinux.h> \
 *         -c getppid.bpf.c -o getppid.bpf.o
 *
 * Maps the user space side sets:
 *   target[0]  tgid whose getppid() calls are recorded (0: nobody)
 *   cfg[0]     flags of bpf_ringbuf_output: 0, BPF_RB_NO_WAKEUP (1) or
 *              BPF_RB_FORCE_WAKEUP (2); 4 or more: a wake-up threshold in
 *              bytes (force a wake-up once that much data waits)
 *   cfg[1]     outputs to skip: bit 0 the ring buffer, bit 1 the perf array
 *   seqs[0]    the next sequence number (reset it between runs)
 *   drops[0]   records the ring buffer had no room for; drops[1] the same for
 *              the perf array (bpf_perf_event_output failures; the kernel
 *              also reports those to the reader as PERF_RECORD_LOST)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
    __u32 pid;
    __u32 seq;
    __u64 ts;
    __u64 a; /* pid_tgid */
    __u64 b; /* seq ^ 0x5eed, a checksum for the tests */
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} rb SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} target SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} cfg SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} seqs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} drops SEC(".maps");

/* BPF_F_CURRENT_CPU */
#define CURRENT_CPU 0xffffffffULL

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
    __u32 zero = 0, one = 1;
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 *want = bpf_map_lookup_elem(&target, &zero);
    if (!want || *want == 0 || *want != (__u32)(pid_tgid >> 32))
        return 0;
    __u64 *flags = bpf_map_lookup_elem(&cfg, &zero);
    __u64 *skip = bpf_map_lookup_elem(&cfg, &one);
    __u64 *seq = bpf_map_lookup_elem(&seqs, &zero);
    if (!flags || !skip || !seq)
        return 0;

    /* The target is single-threaded: nothing else updates seq meanwhile. */
    __u64 s = *seq;
    *seq = s + 1;
    struct event e = {
        .pid = pid_tgid >> 32,
        .seq = (__u32)s,
        .ts = bpf_ktime_get_ns(),
        .a = pid_tgid,
        .b = s ^ 0x5eed,
    };
    /*
     * cfg[0] >= 4 is a wake-up threshold in bytes: wake the consumer only
     * once that much data waits (tsbpf's wakeupBytes batching, by hand).
     */
    __u64 f = *flags;
    if (f >= 4)
        f = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= f ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
    if (!(*skip & 1) && bpf_ringbuf_output(&rb, &e, sizeof(e), f) != 0) {
        __u64 *d = bpf_map_lookup_elem(&drops, &zero);
        if (d)
            __sync_fetch_and_add(d, 1);
    }
    if (!(*skip & 2) && bpf_perf_event_output(ctx, &perf_events, CURRENT_CPU, &e, sizeof(e)) != 0) {
        __u64 *d = bpf_map_lookup_elem(&drops, &one);
        if (d)
            __sync_fetch_and_add(d, 1);
    }
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
