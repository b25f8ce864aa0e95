// SPDX-License-Identifier: Apache-2.0
/* syscalls: system calls by name, and failed ones by name and error, for
 * syscalls.yaml, from the raw_syscalls tracepoints that every system call
 * passes (Linux 4.7+ for BPF on tracepoints). Each CPU counts in its own
 * slot (per-CPU hash maps, summed by the exporter), so the hot path takes
 * no shared cache line. */
#include "exporter.bpf.h"

/* Above every system call number this machine has (x86-64 has ~460). */
#define MAX_SYSCALL 1024

/* The range of errors a system call returns, -1 to -4095 (MAX_ERRNO). */
#define MAX_ERRNO 4095

struct error_key {
    u32 nr;  /* the system call */
    u32 err; /* the error, positive (ENOENT: 2) */
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, MAX_SYSCALL);
    __type(key, u32);
    __type(value, u64);
} syscalls_total SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 8192);
    __type(key, struct error_key);
    __type(value, u64);
} syscall_errors_total SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int on_enter(struct trace_event_raw_sys_enter *ctx)
{
    long id = ctx->id;
    u32 nr;

    if (id < 0 || id >= MAX_SYSCALL) /* -1: a number a tracer rewrote */
        return 0;
    nr = id;
    percpu_map_add(&syscalls_total, &nr, 1);
    return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int on_exit(struct trace_event_raw_sys_exit *ctx)
{
    long id = ctx->id, ret = ctx->ret;
    struct error_key key;

    if (ret >= 0 || ret < -MAX_ERRNO || id < 0 || id >= MAX_SYSCALL)
        return 0;
    key.nr = id;
    key.err = -ret;
    percpu_map_add(&syscall_errors_total, &key, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
