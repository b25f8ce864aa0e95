/*
 * NativeRingBuffer: a consumer of a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF,
 * kernel 5.8+) that reads the kernel's ring layout itself and hands records to
 * JavaScript in batches, one JS call per batch.
 *
 * The map fd mmaps as (kernel/bpf/ringbuf.c):
 *   page 0       consumer_pos, the only page user space may map writable;
 *   page 1       producer_pos (read-only);
 *   pages 2...   the data area of max_entries bytes (a power of two), mapped
 *                twice in a row so that a record wrapping past the end of the
 *                ring is contiguous in memory.
 * Positions only grow; position & (size - 1) is the offset in the data area.
 * Every record is an 8-byte header {u32 len; u32 pg_off} then len bytes of
 * data, rounded up to 8 bytes. len carries BPF_RINGBUF_BUSY_BIT while the
 * producer has reserved but not committed the record, and
 * BPF_RINGBUF_DISCARD_BIT for a discarded one. The kernel publishes
 * producer_pos and each header with release stores; we read them with
 * acquire loads and publish consumer_pos with a release store.
 *
 * libbpf's ring_buffer__consume advances consumer_pos after each record;
 * here consumer_pos moves per batch, which is what makes "view" mode (records
 * read in place) possible.
 *
 * Delivery: onBatch(data, index, count) runs through napi_make_callback.
 * From consume()/poll() a throwing onBatch stops consumption and the
 * exception propagates to their caller. From the event loop (start()), it
 * is raised with napi_fatal_exception: process 'uncaughtException', or the
 * process exits when nothing handles it, as for a throwing I/O callback.
 */
#include "ringbuf.h"

#include "evpoll.h"
#include "util.h"

#include <errno.h>
#include <linux/bpf.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct ringbuf {
    /* First: polling, lifetime, onBatch and the batch buffers. */
    struct evpoll ev;
    /* Our own dup of the map fd (polled, mapped); -1 once closed. */
    int fd;
    size_t page_size;
    /* Size of the data area (the map's max_entries) and size - 1. */
    uint32_t size;
    unsigned long mask;
    /* Page 0, read-write. */
    unsigned long *consumer_pos;
    /* Page 1 and the double mapping of the data area, read-only. */
    void *producer_map;
    size_t producer_map_len;
    const unsigned long *producer_pos;
    const uint8_t *data;

    /* view: the batch buffer is an external ArrayBuffer over the data area. */
    bool view;
    /* A multiple of 8. */
    uint32_t batch_bytes;
};

_Static_assert(offsetof(struct ringbuf, ev) == 0, "struct evpoll must come first");

static inline unsigned long round8(unsigned long n)
{
    return (n + 7) & ~7ul;
}

/*
 * Stops polling, unmaps and closes. With js, evpoll_release also detaches the
 * view buffer (so that JavaScript can never read the unmapped pages) and lets
 * go of onBatch and the async context; without (environment teardown) only
 * what needs no JavaScript.
 */
static void release(struct evpoll *ev, bool js)
{
    struct ringbuf *rb = (struct ringbuf *)ev;
    evpoll_release(ev, js);
    if (rb->producer_map) {
        munmap(rb->producer_map, rb->producer_map_len);
        rb->producer_map = NULL;
    }
    if (rb->consumer_pos) {
        munmap(rb->consumer_pos, rb->page_size);
        rb->consumer_pos = NULL;
    }
    if (rb->fd >= 0) {
        close(rb->fd);
        rb->fd = -1;
    }
}

/* ---- batches ------------------------------------------------------------- */

static bool new_view(struct evpoll *ev, napi_value *out)
{
    struct ringbuf *rb = (struct ringbuf *)ev;
    /* Read-only memory: the kernel refuses writable mappings of these pages. */
    napi_status st = napi_create_external_arraybuffer(ev->env, (void *)rb->data,
                                                      (size_t)rb->size * 2, NULL, NULL, out);
    if (st == napi_ok)
        return true;
    if (st == napi_no_external_buffers_allowed) {
        tsbpf_throw_custom(ev->env, false, "NativeRingBuffer", EOPNOTSUPP, "EOPNOTSUPP",
                           "this runtime does not allow external ArrayBuffers; use mode \"copy\"");
        return false;
    }
    tsbpf_throw_napi(ev->env, "napi_create_external_arraybuffer");
    return false;
}

static inline void advance(struct ringbuf *rb, unsigned long pos)
{
    __atomic_store_n(rb->consumer_pos, pos, __ATOMIC_RELEASE);
}

/*
 * Reads the records published when it starts (at most one ring's worth, so
 * that a fast producer cannot keep the event loop here) and delivers them.
 * Returns the number delivered, or -1 with an exception pending.
 */
static int64_t consume_records(struct ringbuf *rb, napi_value recv)
{
    unsigned long cons = __atomic_load_n(rb->consumer_pos, __ATOMIC_RELAXED);
    unsigned long prod = __atomic_load_n(rb->producer_pos, __ATOMIC_ACQUIRE);
    if (cons == prod)
        return 0;

    struct evpoll_batch b = {.recv = recv};
    int64_t delivered = 0;
    uint32_t n = 0, used = 0;
    unsigned long batch_start = cons;

    while (cons < prod) {
        const uint8_t *hdr = rb->data + (cons & rb->mask);
        uint32_t len = __atomic_load_n((const uint32_t *)hdr, __ATOMIC_ACQUIRE);
        if (len & BPF_RINGBUF_BUSY_BIT)
            break;
        uint32_t size = len & ~(uint32_t)BPF_RINGBUF_DISCARD_BIT;
        if (size > rb->size - BPF_RINGBUF_HDR_SZ)
            break; /* Cannot happen; never read past the mapping. */
        unsigned long next = cons + round8((unsigned long)size + BPF_RINGBUF_HDR_SZ);
        if (len & BPF_RINGBUF_DISCARD_BIT) {
            cons = next;
            continue;
        }

        if (rb->view) {
            /* Records stay in place; consumer_pos moves once onBatch returned. */
            if (n == rb->ev.index_cap || (n && cons - batch_start >= rb->batch_bytes)) {
                bool ok = evpoll_deliver(&rb->ev, &b, b.data, n);
                advance(rb, cons);
                if (!ok)
                    return -1;
                delivered += n;
                n = 0;
                batch_start = cons;
                if (rb->ev.close_pending)
                    return delivered;
            }
            if (n == 0 && !evpoll_prepare(&rb->ev, &b))
                return -1;
            b.entries[2 * n] = (uint32_t)((cons & rb->mask) + BPF_RINGBUF_HDR_SZ);
            b.entries[2 * n + 1] = size;
            n++;
            cons = next;
            continue;
        }

        /* Copy mode: consumer_pos moves as soon as the records are copied. */
        bool big = size > rb->batch_bytes;
        if (n && (big || n == rb->ev.index_cap || used + size > rb->batch_bytes)) {
            advance(rb, cons);
            if (!evpoll_deliver(&rb->ev, &b, b.data, n))
                return -1;
            delivered += n;
            n = used = 0;
            if (rb->ev.close_pending)
                return delivered;
        }
        if (n == 0 && !evpoll_prepare(&rb->ev, &b))
            return -1;
        if (big) {
            napi_value ab;
            void *p;
            if (napi_create_arraybuffer(rb->ev.env, size, &p, &ab) != napi_ok) {
                advance(rb, cons);
                tsbpf_throw_napi(rb->ev.env, "napi_create_arraybuffer");
                return -1;
            }
            memcpy(p, hdr + BPF_RINGBUF_HDR_SZ, size);
            b.entries[0] = 0;
            b.entries[1] = size;
            cons = next;
            advance(rb, cons);
            if (!evpoll_deliver(&rb->ev, &b, ab, 1))
                return -1;
            delivered++;
            if (rb->ev.close_pending)
                return delivered;
            continue;
        }
        memcpy(b.copy + used, hdr + BPF_RINGBUF_HDR_SZ, size);
        b.entries[2 * n] = used;
        b.entries[2 * n + 1] = size;
        n++;
        /* batch_bytes is a multiple of 8, so this stays within it. */
        used += (uint32_t)round8(size);
        cons = next;
    }

    if (!rb->view)
        advance(rb, cons);
    if (n) {
        bool ok = evpoll_deliver(&rb->ev, &b, b.data, n);
        if (rb->view)
            advance(rb, cons);
        if (!ok)
            return -1;
        delivered += n;
    } else if (rb->view) {
        advance(rb, cons);
    }
    return delivered;
}

/* consume_records() plus a close() requested from inside onBatch. */
static int64_t consume(struct evpoll *ev, napi_value recv)
{
    int64_t n = consume_records((struct ringbuf *)ev, recv);
    evpoll_finish(ev);
    return n;
}

/* ---- methods ------------------------------------------------------------- */

static const struct evpoll_class ringbuf_class = {
    .name = "NativeRingBuffer",
    .start_op = "NativeRingBuffer.start",
    .stop_op = "NativeRingBuffer.stop",
    .close_op = "NativeRingBuffer.close",
    .noun = "ring buffer",
    .busy_message = "cannot consume from inside onBatch of the same ring buffer",
    .tag = {0x7473627066207269ULL, 0x6e676275660a0001ULL},
    .consume = consume,
    .release = release,
};

static struct ringbuf *unwrap_this(napi_env env, napi_callback_info info, const char *op,
                                   size_t argc, napi_value *argv, napi_value *self)
{
    return (struct ringbuf *)evpoll_unwrap(env, info, &ringbuf_class, op, argc, argv, self, false);
}

static napi_value pending_bytes(napi_env env, napi_callback_info info)
{
    napi_value self, v;
    struct ringbuf *rb = unwrap_this(env, info, "NativeRingBuffer.pendingBytes", 0, NULL, &self);
    if (!rb)
        return NULL;
    unsigned long cons = __atomic_load_n(rb->consumer_pos, __ATOMIC_RELAXED);
    unsigned long prod = __atomic_load_n(rb->producer_pos, __ATOMIC_ACQUIRE);
    TSBPF_NAPI(env, napi_create_double(env, (double)(prod - cons), &v));
    return v;
}

static napi_value consume_method(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeRingBuffer.consume";
    napi_value self;
    struct ringbuf *rb = unwrap_this(env, info, op, 0, NULL, &self);
    if (!rb || evpoll_busy(&rb->ev, op))
        return NULL;
    return evpoll_count(env, consume(&rb->ev, self));
}

static napi_value poll_method(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeRingBuffer.poll";
    napi_value argv[1], self;
    struct ringbuf *rb = unwrap_this(env, info, op, 1, argv, &self);
    int32_t timeout;
    if (!rb || !tsbpf_arg_int32(env, argv[0], op, "timeoutMs", &timeout) ||
        evpoll_busy(&rb->ev, op))
        return NULL;
    struct pollfd pfd = {.fd = rb->fd, .events = POLLIN};
    if (poll(&pfd, 1, timeout < 0 ? -1 : timeout) < 0 && errno != EINTR)
        return tsbpf_throw(env, "poll", errno);
    return evpoll_count(env, consume(&rb->ev, self));
}

/* ---- construction ---------------------------------------------------------- */

static bool parse_options(napi_env env, napi_value opts, const char *op, struct ringbuf *rb,
                          napi_value *on_batch)
{
    napi_value v;
    char *mode = NULL;
    if (!tsbpf_get_prop(env, opts, op, "mode", &v) || !tsbpf_arg_string(env, v, op, "mode", &mode))
        return false;
    bool view = strcmp(mode, "view") == 0;
    bool copy = strcmp(mode, "copy") == 0;
    free(mode);
    if (!view && !copy) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "mode must be \"copy\" or \"view\"");
        return false;
    }
    rb->view = view;

    if (!tsbpf_get_prop(env, opts, op, "batchBytes", &v) ||
        !tsbpf_arg_uint32(env, v, op, "batchBytes", &rb->batch_bytes) ||
        !evpoll_batch_bytes(env, op, &rb->batch_bytes))
        return false;
    return evpoll_function_prop(env, opts, op, "onBatch", on_batch);
}

/*
 * Dups map_fd into rb->fd, checks that it is a ring buffer and maps its
 * consumer page and its producer page + data area.
 */
static bool map_ring(napi_env env, int map_fd, struct ringbuf *rb)
{
    struct bpf_map_info info;
    if (!evpoll_open_map(env, "NativeRingBuffer", map_fd, BPF_MAP_TYPE_RINGBUF, "a ring buffer",
                         &rb->fd, &info))
        return false;
    if (info.max_entries == 0 || (info.max_entries & (info.max_entries - 1)))
        return !tsbpf_throw_custom(env, false, "NativeRingBuffer", EINVAL, "EINVAL",
                                   "unexpected ring buffer size %u", info.max_entries);
    rb->size = info.max_entries;
    rb->mask = (unsigned long)info.max_entries - 1;

    void *p = mmap(NULL, rb->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, rb->fd, 0);
    if (p == MAP_FAILED)
        return !tsbpf_throw(env, "mmap", errno);
    rb->consumer_pos = p;

    rb->producer_map_len = rb->page_size + 2 * (size_t)rb->size;
    p = mmap(NULL, rb->producer_map_len, PROT_READ, MAP_SHARED, rb->fd, (off_t)rb->page_size);
    if (p == MAP_FAILED)
        return !tsbpf_throw(env, "mmap", errno);
    rb->producer_map = p;
    rb->producer_pos = p;
    rb->data = (const uint8_t *)p + rb->page_size;
    return true;
}

/* new NativeRingBuffer(mapFd, { mode, batchBytes, onBatch }) */
static napi_value construct(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeRingBuffer";
    napi_value argv[2], on_batch;
    int32_t map_fd;
    napi_value self = evpoll_construct_args(env, info, op, argv, &map_fd);
    if (!self)
        return NULL;
    if (map_fd < 0)
        return tsbpf_throw_custom(env, true, op, EBADF, "EBADF", "mapFd must not be negative");

    struct ringbuf *rb = calloc(1, sizeof(*rb));
    if (!rb)
        return tsbpf_throw(env, op, ENOMEM);
    evpoll_init(&rb->ev, env, &ringbuf_class);
    rb->fd = -1;
    rb->page_size = (size_t)sysconf(_SC_PAGESIZE);
    if (!parse_options(env, argv[1], op, rb, &on_batch))
        goto fail;

    tsbpf_log_reset();
    if (!map_ring(env, map_fd, rb))
        goto fail;

    rb->ev.poll_fd = rb->fd;
    /* copy: the reusable batch buffer; view: the external one over the data area. */
    rb->ev.data_len = rb->view ? (size_t)rb->size * 2 : rb->batch_bytes;
    rb->ev.new_view = rb->view ? new_view : NULL;
    /* Every record takes at least 8 bytes of the batch (view: of the ring). */
    rb->ev.index_cap = evpoll_index_cap(rb->batch_bytes);
    /* [offset, length] pairs. */
    rb->ev.index_stride = 2;
    if (!evpoll_buffers(&rb->ev, on_batch))
        goto fail;
    return evpoll_wrap(&rb->ev, self, "tsbpf.RingBuffer");

fail:
    return evpoll_destroy(&rb->ev);
}

napi_value tsbpf_ringbuf_class(napi_env env)
{
    const napi_property_descriptor methods[] = {
        EVPOLL_METHOD("pendingBytes", pending_bytes),
        EVPOLL_METHOD("consume", consume_method),
        EVPOLL_METHOD("poll", poll_method),
    };
    return evpoll_define_class(env, &ringbuf_class, construct, sizeof(methods) / sizeof(methods[0]),
                               methods);
}
