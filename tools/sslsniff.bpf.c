// SPDX-License-Identifier: Apache-2.0
/* sslsniff: the plain text that goes through TLS libraries' read and write
 * calls (OpenSSL's SSL_read/SSL_write, GnuTLS's gnutls_record_recv/send,
 * NSS's PR_Read/PR_Write/...), from uprobes at their entry (the buffer) and
 * uretprobes at their return (the length), as bcc's sslsniff. */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16
#define MAX_BUF_SIZE 16384

const volatile pid_t targ_pid = 0;
const volatile uid_t targ_uid = (uid_t)-1;
const volatile u32 max_buf = 8192;

/* The record: a fixed header, then the bytes copied. Only the header and
 * those bytes go into the ring buffer, not the whole 16 KB: the tools' ring
 * (TOOL_RING_BYTES, 256 KiB, which the kernel maps whole into the tool's RSS,
 * twice) then holds hundreds of typical records and 31 of the default
 * largest (8 KB; bcc's perf buffer: 8 pages per CPU, two records of its
 * size); one that finds it full is counted and reported as lost. */
struct event {
    u64 timestamp_ns;
    u64 delta_ns;
    u32 pid;
    u32 tid;
    u32 uid;
    u32 len;
    u32 copied;
    s32 buf_filled;
    s32 rw;
    char comm[TASK_COMM_LEN];
    u8 buf[MAX_BUF_SIZE];
};
/* user space reads the bytes at this offset (tools/sslsniff.ts BUF_OFFSET) */
_Static_assert(__builtin_offsetof(struct event, buf) == 60, "sslsniff's buffer offset");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct event);
} ssl_data SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, u64);
} start_ns SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, u64);
} bufs SEC(".maps");

/* SSL_read_ex/SSL_write_ex: where the byte count will be written */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, u64);
} sizes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, TOOL_RING_BYTES);
} events SEC(".maps");

static __always_inline bool wanted(u64 id)
{
    if (targ_pid && targ_pid != id >> 32)
        return false;
    if (targ_uid != (uid_t)-1 && targ_uid != (u32)bpf_get_current_uid_gid())
        return false;
    return tool_cgroup_ok();
}

static __always_inline bool rw_enter(void *buf)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    u64 ts = bpf_ktime_get_ns();
    u64 b = (u64)buf;

    if (!wanted(id))
        return false;
    bpf_map_update_elem(&bufs, &tid, &b, BPF_ANY);
    bpf_map_update_elem(&start_ns, &tid, &ts, BPF_ANY);
    return true;
}

SEC("uprobe")
int BPF_KPROBE(probe_SSL_rw_enter, void *ssl, void *buf, int num)
{
    rw_enter(buf);
    return 0;
}

/* int SSL_read_ex(SSL *, void *buf, size_t num, size_t *readbytes), and
 * SSL_write_ex with *written: 1 on success, the count through the pointer
 * (OpenSSL 1.1.1+; CPython's ssl module uses them) */
SEC("uprobe")
int BPF_KPROBE(probe_SSL_rw_ex_enter, void *ssl, void *buf, size_t num, size_t *count)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    u64 p = (u64)count;

    if (rw_enter(buf))
        bpf_map_update_elem(&sizes, &tid, &p, BPF_ANY);
    return 0;
}

static __always_inline struct event *fill(u64 id, u64 ts, u64 start, int len, int rw)
{
    u32 zero = 0;
    struct event *d = bpf_map_lookup_elem(&ssl_data, &zero);

    if (!d)
        return NULL;
    d->timestamp_ns = ts;
    d->delta_ns = ts - start;
    d->pid = id >> 32;
    d->tid = (u32)id;
    d->uid = (u32)bpf_get_current_uid_gid();
    d->len = len;
    d->copied = 0;
    d->buf_filled = 0;
    d->rw = rw;
    bpf_get_current_comm(d->comm, sizeof(d->comm));
    return d;
}

static __always_inline int rw_exit(int len, int rw)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    u64 ts = bpf_ktime_get_ns();
    u64 *bufp = bpf_map_lookup_elem(&bufs, &tid);
    u64 *tsp = bpf_map_lookup_elem(&start_ns, &tid);
    struct event *d;
    u64 n, size;

    if (!bufp || !tsp)
        return 0;
    if (len <= 0)
        goto out;
    d = fill(id, ts, *tsp, len, rw);
    if (!d)
        goto out;
    n = (u64)len < (u64)max_buf ? (u64)len : (u64)max_buf;
    if (n > MAX_BUF_SIZE)
        n = MAX_BUF_SIZE;
    /* the clamped copy, not len's register (equal on one path), reaches the
     * helper: the verifier needs its bounds */
    barrier_var(n);
    if (!bpf_probe_read_user(d->buf, n, (void *)*bufp)) {
        d->buf_filled = 1;
        d->copied = n;
    }
    size = __builtin_offsetof(struct event, buf) + d->copied;
    if (size > sizeof(*d))
        size = sizeof(*d);
    barrier_var(size);
    tool_lost_if_err(bpf_ringbuf_output(&events, d, size, 0));
out:
    bpf_map_delete_elem(&bufs, &tid);
    bpf_map_delete_elem(&start_ns, &tid);
    return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(probe_SSL_read_exit)
{
    return rw_exit(PT_REGS_RC(ctx), 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(probe_SSL_write_exit)
{
    return rw_exit(PT_REGS_RC(ctx), 1);
}

/* The count an _ex call wrote (0 when it failed). */
static __always_inline int ex_count(int ret)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    u64 *p = bpf_map_lookup_elem(&sizes, &tid);
    u64 n = 0;

    if (!p)
        return 0;
    if (ret == 1 && bpf_probe_read_user(&n, sizeof(n), (void *)*p))
        n = 0;
    bpf_map_delete_elem(&sizes, &tid);
    return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

SEC("uretprobe")
int BPF_KRETPROBE(probe_SSL_read_ex_exit)
{
    return rw_exit(ex_count(PT_REGS_RC(ctx)), 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(probe_SSL_write_ex_exit)
{
    return rw_exit(ex_count(PT_REGS_RC(ctx)), 1);
}

SEC("uprobe")
int BPF_KPROBE(probe_SSL_do_handshake_enter, void *ssl)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    u64 ts = bpf_ktime_get_ns();

    if (!wanted(id))
        return 0;
    bpf_map_update_elem(&start_ns, &tid, &ts, BPF_ANY);
    return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(probe_SSL_do_handshake_exit)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    u64 ts = bpf_ktime_get_ns();
    u64 *tsp = bpf_map_lookup_elem(&start_ns, &tid);
    int ret = PT_REGS_RC(ctx);
    struct event *d;

    if (!tsp)
        return 0;
    if (ret > 0) {
        d = fill(id, ts, *tsp, ret, 2);
        if (d)
            tool_lost_if_err(
                bpf_ringbuf_output(&events, d, __builtin_offsetof(struct event, buf), 0));
    }
    bpf_map_delete_elem(&start_ns, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
