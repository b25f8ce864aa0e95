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

#include "util.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

/* Largest batch buffer and most index pairs per batch. */
#define MAX_BATCH_BYTES (1u << 30)
#define MAX_INDEX_PAIRS (1u << 16)
#define MIN_INDEX_PAIRS 16u

struct ringbuf {
    napi_env env;
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

    bool view;
    /* A multiple of 8. */
    uint32_t batch_bytes;
    uint32_t index_cap;
    napi_ref on_batch;
    /* copy: the reusable batch ArrayBuffer; view: the external one over the data area. */
    napi_ref data_ref;
    /* A Uint32Array of 2 * index_cap elements. */
    napi_ref index_ref;
    napi_async_context async;
    /* Weak; strong while polling so that a started consumer is not collected. */
    napi_ref self_ref;

    uv_poll_t *poll;
    bool polling;
    bool hook;
    /* onBatch calls in progress (reentrancy guard). */
    int depth;
    bool close_pending;
    bool closed;
};

/* What a batch is written into, valid from prepare() to the next JS call. */
struct batch {
    napi_value recv;
    napi_value fn;
    napi_value data;
    napi_value index;
    uint8_t *copy;
    uint32_t *pairs;
};

static const napi_type_tag ringbuf_tag = {0x7473627066207269ULL, 0x6e676275660a0001ULL};

static inline unsigned long round8(unsigned long n)
{
    return (n + 7) & ~7ul;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void stop_polling(struct ringbuf *rb, bool js)
{
    if (rb->polling) {
        uv_poll_stop(rb->poll);
        rb->polling = false;
        if (js && rb->self_ref)
            napi_reference_unref(rb->env, rb->self_ref, NULL);
    }
}

static void cleanup_hook(void *arg);

/*
 * Stops polling, unmaps and closes. With js, also detaches the view buffer
 * (so that JavaScript can never read the unmapped pages) and lets go of
 * onBatch and the async context; without (environment teardown) only what
 * needs no JavaScript.
 */
static void release(struct ringbuf *rb, bool js)
{
    stop_polling(rb, js);
    if (rb->poll) {
        rb->poll->data = NULL;
        uv_close((uv_handle_t *)rb->poll, free_handle);
        rb->poll = NULL;
    }
    if (js) {
        napi_value ab;
        if (rb->view && rb->data_ref &&
            napi_get_reference_value(rb->env, rb->data_ref, &ab) == napi_ok && ab) {
            bool detached = true;
            if (napi_is_detached_arraybuffer(rb->env, ab, &detached) == napi_ok && !detached)
                napi_detach_arraybuffer(rb->env, ab);
        }
        napi_ref *refs[] = {&rb->on_batch, &rb->data_ref, &rb->index_ref};
        for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
            if (*refs[i]) {
                napi_delete_reference(rb->env, *refs[i]);
                *refs[i] = NULL;
            }
        }
        if (rb->async) {
            napi_async_destroy(rb->env, rb->async);
            rb->async = NULL;
        }
        if (rb->hook) {
            napi_remove_env_cleanup_hook(rb->env, cleanup_hook, rb);
            rb->hook = false;
        }
    }
    rb->closed = true;
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

/* Environment teardown (e.g. a worker exiting): the uv handle must go. */
static void cleanup_hook(void *arg)
{
    struct ringbuf *rb = arg;
    rb->hook = false;
    release(rb, false);
}

static void finalize(napi_env env, void *data, void *hint)
{
    (void)hint;
    struct ringbuf *rb = data;
    release(rb, true);
    if (rb->self_ref)
        napi_delete_reference(env, rb->self_ref);
    free(rb);
}

/* ---- batches ------------------------------------------------------------- */

static bool new_index(struct ringbuf *rb, napi_value *out)
{
    napi_env env = rb->env;
    napi_value ab;
    void *p;
    if (napi_create_arraybuffer(env, (size_t)rb->index_cap * 8, &p, &ab) != napi_ok ||
        napi_create_typedarray(env, napi_uint32_array, (size_t)rb->index_cap * 2, ab, 0, out) !=
            napi_ok) {
        tsbpf_throw_napi(env, "napi_create_typedarray");
        return false;
    }
    return true;
}

/* Replace *ref with a reference to v. */
static bool reset_ref(napi_env env, napi_ref *ref, napi_value v)
{
    if (*ref)
        napi_delete_reference(env, *ref);
    *ref = NULL;
    if (napi_create_reference(env, v, 1, ref) != napi_ok) {
        tsbpf_throw_napi(env, "napi_create_reference");
        return false;
    }
    return true;
}

static bool new_view(struct ringbuf *rb, napi_value *out)
{
    /* Read-only memory: the kernel refuses writable mappings of these pages. */
    napi_status st = napi_create_external_arraybuffer(rb->env, (void *)rb->data,
                                                      (size_t)rb->size * 2, NULL, NULL, out);
    if (st == napi_ok)
        return true;
    if (st == napi_no_external_buffers_allowed) {
        tsbpf_throw_custom(rb->env, false, "NativeRingBuffer", EOPNOTSUPP, "EOPNOTSUPP",
                           "this runtime does not allow external ArrayBuffers; use mode \"copy\"");
        return false;
    }
    tsbpf_throw_napi(rb->env, "napi_create_external_arraybuffer");
    return false;
}

/*
 * Fetches onBatch and the buffers for a new batch. JavaScript may have
 * detached a buffer (transferred it) during the previous call: then a new one
 * replaces it.
 */
static bool prepare(struct ringbuf *rb, struct batch *b)
{
    napi_env env = rb->env;
    if (napi_get_reference_value(env, rb->on_batch, &b->fn) != napi_ok ||
        napi_get_reference_value(env, rb->data_ref, &b->data) != napi_ok ||
        napi_get_reference_value(env, rb->index_ref, &b->index) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_reference_value");
        return false;
    }

    void *p = NULL;
    size_t len = 0;
    if (napi_get_arraybuffer_info(env, b->data, &p, &len) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_arraybuffer_info");
        return false;
    }
    size_t want = rb->view ? (size_t)rb->size * 2 : rb->batch_bytes;
    if (len != want) {
        if (rb->view ? !new_view(rb, &b->data)
                     : napi_create_arraybuffer(env, want, &p, &b->data) != napi_ok) {
            tsbpf_throw_napi(env, "napi_create_arraybuffer");
            return false;
        }
        if (!reset_ref(env, &rb->data_ref, b->data))
            return false;
    }
    b->copy = p;

    size_t n = 0;
    if (napi_get_typedarray_info(env, b->index, NULL, &n, &p, NULL, NULL) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_typedarray_info");
        return false;
    }
    if (n != (size_t)rb->index_cap * 2) {
        if (!new_index(rb, &b->index) || !reset_ref(env, &rb->index_ref, b->index))
            return false;
        if (napi_get_typedarray_info(env, b->index, NULL, &n, &p, NULL, NULL) != napi_ok) {
            tsbpf_throw_napi(env, "napi_get_typedarray_info");
            return false;
        }
    }
    b->pairs = p;
    return true;
}

/* onBatch(data, index, count); false with the exception pending when it threw. */
static bool deliver(struct ringbuf *rb, struct batch *b, napi_value data, uint32_t count)
{
    napi_env env = rb->env;
    napi_value argv[3] = {data, b->index, NULL}, result;
    if (napi_create_uint32(env, count, &argv[2]) != napi_ok) {
        tsbpf_throw_napi(env, "napi_create_uint32");
        return false;
    }
    rb->depth++;
    napi_status st = napi_make_callback(env, rb->async, b->recv, b->fn, 3, argv, &result);
    rb->depth--;
    if (st != napi_ok) {
        tsbpf_throw_napi(env, "napi_make_callback");
        return false;
    }
    return true;
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

    struct batch b = {.recv = recv};
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
            if (n == rb->index_cap || (n && cons - batch_start >= rb->batch_bytes)) {
                bool ok = deliver(rb, &b, b.data, n);
                advance(rb, cons);
                if (!ok)
                    return -1;
                delivered += n;
                n = 0;
                batch_start = cons;
                if (rb->close_pending)
                    return delivered;
            }
            if (n == 0 && !prepare(rb, &b))
                return -1;
            b.pairs[2 * n] = (uint32_t)((cons & rb->mask) + BPF_RINGBUF_HDR_SZ);
            b.pairs[2 * n + 1] = size;
            n++;
            cons = next;
            continue;
        }

        /* Copy mode: consumer_pos moves as soon as the records are copied. */
        bool big = size > rb->batch_bytes;
        if (n && (big || n == rb->index_cap || used + size > rb->batch_bytes)) {
            advance(rb, cons);
            if (!deliver(rb, &b, b.data, n))
                return -1;
            delivered += n;
            n = used = 0;
            if (rb->close_pending)
                return delivered;
        }
        if (n == 0 && !prepare(rb, &b))
            return -1;
        if (big) {
            napi_value ab;
            void *p;
            if (napi_create_arraybuffer(rb->env, size, &p, &ab) != napi_ok) {
                advance(rb, cons);
                tsbpf_throw_napi(rb->env, "napi_create_arraybuffer");
                return -1;
            }
            memcpy(p, hdr + BPF_RINGBUF_HDR_SZ, size);
            b.pairs[0] = 0;
            b.pairs[1] = size;
            cons = next;
            advance(rb, cons);
            if (!deliver(rb, &b, ab, 1))
                return -1;
            delivered++;
            if (rb->close_pending)
                return delivered;
            continue;
        }
        memcpy(b.copy + used, hdr + BPF_RINGBUF_HDR_SZ, size);
        b.pairs[2 * n] = used;
        b.pairs[2 * n + 1] = size;
        n++;
        /* batch_bytes is a multiple of 8, so this stays within it. */
        used += (uint32_t)round8(size);
        cons = next;
    }

    if (!rb->view)
        advance(rb, cons);
    if (n) {
        bool ok = deliver(rb, &b, b.data, n);
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
static int64_t consume(struct ringbuf *rb, napi_value recv)
{
    int64_t n = consume_records(rb, recv);
    if (rb->close_pending && rb->depth == 0)
        release(rb, true);
    return n;
}

/* ---- the event loop -------------------------------------------------------- */

/* The exception pending now becomes an uncaught exception. */
static void raise_uncaught(napi_env env)
{
    bool pending = false;
    napi_value err;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &err) == napi_ok)
        napi_fatal_exception(env, err);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct ringbuf *rb = h->data;
    if (!rb || !rb->polling)
        return;
    napi_env env = rb->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok)
        return;
    napi_value self = NULL;
    if (napi_get_reference_value(env, rb->self_ref, &self) == napi_ok && self) {
        if (status < 0) {
            stop_polling(rb, true);
            tsbpf_throw_custom(env, false, "NativeRingBuffer.start", -status, "EIO",
                               "polling the ring buffer failed: %s", uv_strerror(status));
            raise_uncaught(env);
        } else if (consume(rb, self) < 0) {
            raise_uncaught(env);
        }
    }
    napi_close_handle_scope(env, scope);
}

/* ---- methods ------------------------------------------------------------- */

static struct ringbuf *unwrap_this(napi_env env, napi_callback_info info, const char *op,
                                   size_t argc, napi_value *argv, napi_value *self,
                                   bool allow_closed)
{
    if (!tsbpf_get_args(env, info, op, argc, argv, self))
        return NULL;
    bool ok = false;
    napi_valuetype t;
    if (napi_typeof(env, *self, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return NULL;
    }
    if (t == napi_object && napi_check_object_type_tag(env, *self, &ringbuf_tag, &ok) != napi_ok) {
        tsbpf_throw_napi(env, "napi_check_object_type_tag");
        return NULL;
    }
    void *data = NULL;
    if (!ok || napi_unwrap(env, *self, &data) != napi_ok || !data) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "not a NativeRingBuffer");
        return NULL;
    }
    struct ringbuf *rb = data;
    if (!allow_closed && (rb->closed || rb->close_pending)) {
        tsbpf_throw_custom(env, false, op, 0, "ECLOSED", "ring buffer is closed");
        return NULL;
    }
    return rb;
}

static napi_value not_reentrant(napi_env env, const char *op)
{
    return tsbpf_throw_custom(env, false, op, EBUSY, "EBUSY",
                              "cannot consume from inside onBatch of the same ring buffer");
}

static napi_value pending_bytes(napi_env env, napi_callback_info info)
{
    napi_value self, v;
    struct ringbuf *rb =
        unwrap_this(env, info, "NativeRingBuffer.pendingBytes", 0, NULL, &self, false);
    if (!rb)
        return NULL;
    unsigned long cons = __atomic_load_n(rb->consumer_pos, __ATOMIC_RELAXED);
    unsigned long prod = __atomic_load_n(rb->producer_pos, __ATOMIC_ACQUIRE);
    TSBPF_NAPI(env, napi_create_double(env, (double)(prod - cons), &v));
    return v;
}

static napi_value result_count(napi_env env, int64_t n)
{
    if (n < 0)
        return NULL;
    napi_value v;
    TSBPF_NAPI(env, napi_create_int64(env, n, &v));
    return v;
}

static napi_value consume_method(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeRingBuffer.consume";
    napi_value self;
    struct ringbuf *rb = unwrap_this(env, info, op, 0, NULL, &self, false);
    if (!rb)
        return NULL;
    if (rb->depth)
        return not_reentrant(env, op);
    return result_count(env, consume(rb, self));
}

static napi_value poll_method(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeRingBuffer.poll";
    napi_value argv[1], self;
    struct ringbuf *rb = unwrap_this(env, info, op, 1, argv, &self, false);
    int32_t timeout;
    if (!rb || !tsbpf_arg_int32(env, argv[0], op, "timeoutMs", &timeout))
        return NULL;
    if (rb->depth)
        return not_reentrant(env, op);
    struct pollfd pfd = {.fd = rb->fd, .events = POLLIN};
    if (poll(&pfd, 1, timeout < 0 ? -1 : timeout) < 0 && errno != EINTR)
        return tsbpf_throw(env, "poll", errno);
    return result_count(env, consume(rb, self));
}

static napi_value start_method(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeRingBuffer.start";
    napi_value self;
    struct ringbuf *rb = unwrap_this(env, info, op, 0, NULL, &self, false);
    if (!rb)
        return NULL;
    if (rb->polling)
        return tsbpf_undefined(env);
    if (!rb->poll) {
        uv_loop_t *loop;
        TSBPF_NAPI(env, napi_get_uv_event_loop(env, &loop));
        rb->poll = calloc(1, sizeof(*rb->poll));
        if (!rb->poll)
            return tsbpf_throw(env, op, ENOMEM);
        int err = uv_poll_init(loop, rb->poll, rb->fd);
        if (err) {
            free(rb->poll);
            rb->poll = NULL;
            return tsbpf_throw_custom(env, false, "uv_poll_init", -err, tsbpf_errno_name(-err),
                                      "%s", uv_strerror(err));
        }
        rb->poll->data = rb;
    }
    int err = uv_poll_start(rb->poll, UV_READABLE, on_readable);
    if (err)
        return tsbpf_throw_custom(env, false, "uv_poll_start", -err, tsbpf_errno_name(-err), "%s",
                                  uv_strerror(err));
    rb->polling = true;
    TSBPF_NAPI(env, napi_reference_ref(env, rb->self_ref, NULL));
    return tsbpf_undefined(env);
}

static napi_value stop_method(napi_env env, napi_callback_info info)
{
    napi_value self;
    struct ringbuf *rb = unwrap_this(env, info, "NativeRingBuffer.stop", 0, NULL, &self, false);
    if (!rb)
        return NULL;
    stop_polling(rb, true);
    return tsbpf_undefined(env);
}

static napi_value close_method(napi_env env, napi_callback_info info)
{
    napi_value self;
    struct ringbuf *rb = unwrap_this(env, info, "NativeRingBuffer.close", 0, NULL, &self, true);
    if (!rb)
        return NULL;
    if (rb->depth) {
        /* Inside onBatch: the records being delivered stay mapped until it returns. */
        stop_polling(rb, true);
        rb->close_pending = true;
    } else {
        release(rb, true);
    }
    return tsbpf_undefined(env);
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

    uint32_t batch;
    if (!tsbpf_get_prop(env, opts, op, "batchBytes", &v) ||
        !tsbpf_arg_uint32(env, v, op, "batchBytes", &batch))
        return false;
    if (batch < 8 || batch > MAX_BATCH_BYTES) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                           "batchBytes must be between 8 and %u, got %u", MAX_BATCH_BYTES, batch);
        return false;
    }
    rb->batch_bytes = (uint32_t)round8(batch);

    napi_valuetype t;
    if (!tsbpf_get_prop(env, opts, op, "onBatch", on_batch))
        return false;
    if (napi_typeof(env, *on_batch, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return false;
    }
    if (t != napi_function) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "onBatch must be a function");
        return false;
    }
    return true;
}

/* Maps the consumer page and the producer page + data area of rb->fd. */
static bool map_ring(napi_env env, struct ringbuf *rb)
{
    struct bpf_map_info info;
    uint32_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    int err = bpf_obj_get_info_by_fd(rb->fd, &info, &len);
    if (err)
        return !tsbpf_throw(env, "bpf_obj_get_info_by_fd", errno ? errno : -err);
    if (info.type != BPF_MAP_TYPE_RINGBUF)
        return !tsbpf_throw_custom(env, true, "NativeRingBuffer", EINVAL, "EINVAL",
                                   "map '%s' is not a ring buffer (map type %u)", info.name,
                                   info.type);
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
    napi_value target;
    TSBPF_NAPI(env, napi_get_new_target(env, info, &target));
    if (!target)
        return tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                                  "class constructor cannot be invoked without 'new'");
    napi_value argv[2], self, on_batch;
    int32_t map_fd;
    if (!tsbpf_get_args(env, info, op, 2, argv, &self) ||
        !tsbpf_arg_int32(env, argv[0], op, "mapFd", &map_fd))
        return NULL;
    if (map_fd < 0)
        return tsbpf_throw_custom(env, true, op, EBADF, "EBADF", "mapFd must not be negative");

    struct ringbuf *rb = calloc(1, sizeof(*rb));
    if (!rb)
        return tsbpf_throw(env, op, ENOMEM);
    rb->env = env;
    rb->fd = -1;
    rb->page_size = (size_t)sysconf(_SC_PAGESIZE);
    if (!parse_options(env, argv[1], op, rb, &on_batch))
        goto fail;

    tsbpf_log_reset();
    /* Our own fd: the caller may close theirs while we poll and map ours. */
    rb->fd = fcntl(map_fd, F_DUPFD_CLOEXEC, 3);
    if (rb->fd < 0) {
        tsbpf_throw(env, "fcntl(F_DUPFD_CLOEXEC)", errno);
        goto fail;
    }
    if (!map_ring(env, rb))
        goto fail;

    /* Every record takes at least 8 bytes of the batch (view: of the ring). */
    uint32_t pairs = rb->batch_bytes / 8;
    if (pairs < MIN_INDEX_PAIRS)
        pairs = MIN_INDEX_PAIRS;
    if (pairs > MAX_INDEX_PAIRS)
        pairs = MAX_INDEX_PAIRS;
    rb->index_cap = pairs;

    napi_value data, index, name;
    void *p;
    if (rb->view ? !new_view(rb, &data)
                 : napi_create_arraybuffer(env, rb->batch_bytes, &p, &data) != napi_ok) {
        tsbpf_throw_napi(env, "napi_create_arraybuffer");
        goto fail;
    }
    if (!new_index(rb, &index) || !reset_ref(env, &rb->data_ref, data) ||
        !reset_ref(env, &rb->index_ref, index) || !reset_ref(env, &rb->on_batch, on_batch))
        goto fail;
    if (napi_create_string_utf8(env, "tsbpf.RingBuffer", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_async_init(env, NULL, name, &rb->async) != napi_ok) {
        tsbpf_throw_napi(env, "napi_async_init");
        goto fail;
    }
    if (napi_wrap(env, self, rb, finalize, NULL, NULL) != napi_ok) {
        tsbpf_throw_napi(env, "napi_wrap");
        goto fail;
    }
    /* From here on the finalizer owns rb. */
    TSBPF_NAPI(env, napi_type_tag_object(env, self, &ringbuf_tag));
    TSBPF_NAPI(env, napi_create_reference(env, self, 0, &rb->self_ref));
    TSBPF_NAPI(env, napi_add_env_cleanup_hook(env, cleanup_hook, rb));
    rb->hook = true;
    return self;

fail:
    release(rb, true);
    free(rb);
    return NULL;
}

napi_value tsbpf_ringbuf_class(napi_env env)
{
#define METHOD(name, fn)                                                                           \
    {                                                                                              \
        name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL                                \
    }
    const napi_property_descriptor props[] = {
        METHOD("pendingBytes", pending_bytes), METHOD("consume", consume_method),
        METHOD("poll", poll_method),           METHOD("start", start_method),
        METHOD("stop", stop_method),           METHOD("close", close_method),
    };
#undef METHOD
    napi_value ctor;
    TSBPF_NAPI(env, napi_define_class(env, "NativeRingBuffer", NAPI_AUTO_LENGTH, construct, NULL,
                                      sizeof(props) / sizeof(props[0]), props, &ctor));
    return ctor;
}
