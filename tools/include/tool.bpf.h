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

/* Events the ring buffer had no room for (the consumer fell behind): per CPU,
 * read and reported by the tool's runtime, never silent. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} events_lost SEC(".maps");

static __always_inline void tool_event_lost(void)
{
    u32 zero = 0;
    u64 *n = bpf_map_lookup_elem(&events_lost, &zero);

    if (n)
        (*n)++;
}

/* Wraps bpf_ringbuf_reserve(): a NULL (the ring is full) is counted in events_lost.
 * (The call stays visible in the source: tsbpf compile finds the record type there.) */
static __always_inline void *tool_lost_if_null(void *e)
{
    if (!e)
        tool_event_lost();
    return e;
}

/*
 * The size of a tool's event ring. User space maps a ring's data twice (so
 * that a record is contiguous across the wrap), and the kernel maps every
 * page at mmap time: each byte here is two bytes of the tool's RSS. 256 KiB
 * holds thousands of the usual records (a few hundred bytes) and 33 of
 * execsnoop's largest (7.7 KB); the tool drains it on each wake-up, and a
 * record that finds it full is counted and reported (tool_lost_if_err).
 * bcc's tools have 8 pages of perf buffer per CPU.
 */
#define TOOL_RING_BYTES (256 * 1024)

/* Wraps bpf_ringbuf_output(): an error (the ring is full) is counted in events_lost. */
static __always_inline long tool_lost_if_err(long err)
{
    if (err)
        tool_event_lost();
    return err;
}

/* A histogram bucket: section id (0 when there is none) and log2 slot. */
struct hist_key {
    u32 id;
    u32 slot;
};

#define MAX_SLOTS 64

/* Adds n to the u64 a hash map holds at key, inserting it at 0 first. */
static __always_inline void counter_add(void *map, const void *key, u64 n)
{
    static const u64 zero;
    u64 *v = bpf_map_lookup_elem(map, key);

    if (!v) {
        bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
        v = bpf_map_lookup_elem(map, key);
        if (!v)
            return;
    }
    __sync_fetch_and_add(v, n);
}

/* Adds one to a histogram map (a BPF_MAP_TYPE_HASH of struct hist_key →
 * u64). */
static __always_inline void hist_add(void *map, u32 id, u32 slot)
{
    struct hist_key key = {.id = id, .slot = slot < MAX_SLOTS ? slot : MAX_SLOTS - 1};

    counter_add(map, &key, 1);
}

/* The slot of a log2 histogram as bcc's bpf_log2l() gives it:
 * floor(log2(v)) + 1, and 1 for 0 (bcc's printer shows slot 1 as "0 -> 1"). */
static __always_inline u32 log2_slot(u64 v)
{
    u32 r = 0;

    if (!v)
        return 1;
#pragma unroll
    for (int s = 32; s > 0; s >>= 1) {
        if (v >> s) {
            v >>= s;
            r += s;
        }
    }
    return r + 1;
}

/* The file a task has open as fd, or NULL (through its file table, as
 * fget() finds it, without taking a reference). */
static __always_inline struct file *task_fd_file(struct task_struct *task, int fd)
{
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    struct file **fds = BPF_CORE_READ(fdt, fd);
    struct file *f = NULL;

    if (fd < 0 || (u32)fd >= BPF_CORE_READ(fdt, max_fds))
        return NULL;
    if (bpf_core_read(&f, sizeof(f), &fds[fd]))
        return NULL;
    return f;
}

/* The socket a task has open as fd, or NULL when fd is not a socket. */
static __always_inline struct sock *task_fd_sock(struct task_struct *task, int fd)
{
    struct file *f = task_fd_file(task, fd);
    struct socket *sock;

    if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & 0170000) != 0140000) /* S_IFSOCK */
        return NULL;
    sock = BPF_CORE_READ(f, private_data);
    return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

#endif
