/*
 * NativePerfBuffer: a consumer of a BPF perf event array (BPF_PERF_OUTPUT,
 * kernel 4.4+) built on libbpf's perf_buffer, which opens one
 * PERF_COUNT_SW_BPF_OUTPUT event and ring per CPU, stores their fds in the
 * map, copies records that wrap around the end of a ring, and reports
 * PERF_RECORD_LOST. We use the raw interface (perf_buffer__new_raw) so that
 * the perf_event_attr, and with it wakeup_events, is ours.
 *
 * Records are copied into one reusable ArrayBuffer and handed to JavaScript
 * in batches: onBatch(data, index, count) with index holding [cpu, offset,
 * length] triples. Lost-sample counts are summed per CPU over a consume and
 * reported after its records through onLost(cpu, lost).
 *
 * The event loop polls perf_buffer__epoll_fd (an epoll fd that is readable
 * while one of the per-CPU rings has been woken) and then consumes every
 * ring: perf's poll() clears a ring's wakeup when it reports it, so the
 * check the event loop makes on the nested epoll fd already used up the
 * information perf_buffer__poll(0) would need.
 *
 * Exceptions from onBatch/onLost: as in ringbuf.c, they propagate out of
 * consume()/poll(), and become uncaught exceptions (napi_fatal_exception)
 * when the event loop drives consumption. libbpf advances a ring past each
 * record it hands us even when we stop, so the record in hand when onBatch
 * throws is stashed and leads the next batch: no record is lost.
 */
#include "perfbuf.h"

#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define MAX_BATCH_BYTES (1u << 30)
#define MAX_INDEX_RECORDS (1u << 16)
#define MIN_INDEX_RECORDS 16u
/* perf_buffer__new fails beyond this anyway (the kernel's perf_event_mlock_kb is far lower). */
#define MAX_PAGE_CNT (1u << 20)

/* Valid during one consume: what the libbpf callback needs to deliver. */
struct batch {
    napi_value recv;
    napi_value fn;
    napi_value data;
    napi_value index;
    uint8_t *copy;
    uint32_t *triples;
    /* copy and triples are valid (no JS ran since they were fetched). */
    bool ready;
    uint32_t n;
    uint32_t used;
    int64_t delivered;
    /* onBatch threw or a napi call failed: an exception is pending. */
    bool failed;
};

struct perfbuf {
    napi_env env;
    /* NULL once closed. */
    struct perf_buffer *pb;
    /* Our dup of the map fd: libbpf clears the map slots through it on free. */
    int map_fd;
    int epoll_fd;
    int ncpu;
    /* Lost samples per CPU not reported yet. */
    uint64_t *lost;

    /* A multiple of 8. */
    uint32_t batch_bytes;
    uint32_t index_cap;
    napi_ref on_batch;
    napi_ref on_lost;
    napi_ref data_ref;
    napi_ref index_ref;
    napi_async_context async;
    napi_ref self_ref;

    /* The record libbpf had handed us when a delivery failed. */
    uint8_t *stash;
    uint32_t stash_len;
    uint32_t stash_cap;
    int stash_cpu;
    bool stashed;

    /* The consume in progress, NULL otherwise. */
    struct batch *cur;

    uv_poll_t *poll;
    bool polling;
    bool hook;
    int depth;
    bool close_pending;
};

static const napi_type_tag perfbuf_tag = {0x7473627066207065ULL, 0x7266627566000001ULL};

static inline uint32_t round8(uint32_t n)
{
    return (n + 7) & ~7u;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void stop_polling(struct perfbuf *p, bool js)
{
    if (p->polling) {
        uv_poll_stop(p->poll);
        p->polling = false;
        if (js && p->self_ref)
            napi_reference_unref(p->env, p->self_ref, NULL);
    }
}

static void cleanup_hook(void *arg);

/* Stops polling and frees the perf buffer; with js, also the JS references. */
static void release(struct perfbuf *p, bool js)
{
    stop_polling(p, js);
    if (p->poll) {
        p->poll->data = NULL;
        uv_close((uv_handle_t *)p->poll, free_handle);
        p->poll = NULL;
    }
    if (js) {
        napi_ref *refs[] = {&p->on_batch, &p->on_lost, &p->data_ref, &p->index_ref};
        for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
            if (*refs[i]) {
                napi_delete_reference(p->env, *refs[i]);
                *refs[i] = NULL;
            }
        }
        if (p->async) {
            napi_async_destroy(p->env, p->async);
            p->async = NULL;
        }
        if (p->hook) {
            napi_remove_env_cleanup_hook(p->env, cleanup_hook, p);
            p->hook = false;
        }
    }
    if (p->pb) {
        perf_buffer__free(p->pb);
        p->pb = NULL;
    }
    if (p->map_fd >= 0) {
        close(p->map_fd);
        p->map_fd = -1;
    }
    free(p->stash);
    p->stash = NULL;
    p->stashed = false;
    free(p->lost);
    p->lost = NULL;
}

static void cleanup_hook(void *arg)
{
    struct perfbuf *p = arg;
    p->hook = false;
    release(p, false);
}

static void finalize(napi_env env, void *data, void *hint)
{
    (void)hint;
    struct perfbuf *p = data;
    release(p, true);
    if (p->self_ref)
        napi_delete_reference(env, p->self_ref);
    free(p);
}

/* ---- batches ------------------------------------------------------------- */

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

static bool new_index(struct perfbuf *p, napi_value *out)
{
    napi_value ab;
    void *data;
    if (napi_create_arraybuffer(p->env, (size_t)p->index_cap * 12, &data, &ab) != napi_ok ||
        napi_create_typedarray(p->env, napi_uint32_array, (size_t)p->index_cap * 3, ab, 0, out) !=
            napi_ok) {
        tsbpf_throw_napi(p->env, "napi_create_typedarray");
        return false;
    }
    return true;
}

/*
 * Fetches onBatch and the buffers, replacing a buffer that JavaScript
 * detached (transferred) meanwhile.
 */
static bool prepare(struct perfbuf *p, struct batch *b)
{
    napi_env env = p->env;
    if (napi_get_reference_value(env, p->on_batch, &b->fn) != napi_ok ||
        napi_get_reference_value(env, p->data_ref, &b->data) != napi_ok ||
        napi_get_reference_value(env, p->index_ref, &b->index) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_reference_value");
        return false;
    }
    void *data = NULL;
    size_t len = 0;
    if (napi_get_arraybuffer_info(env, b->data, &data, &len) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_arraybuffer_info");
        return false;
    }
    if (len != p->batch_bytes) {
        if (napi_create_arraybuffer(env, p->batch_bytes, &data, &b->data) != napi_ok) {
            tsbpf_throw_napi(env, "napi_create_arraybuffer");
            return false;
        }
        if (!reset_ref(env, &p->data_ref, b->data))
            return false;
    }
    b->copy = data;
    size_t n = 0;
    if (napi_get_typedarray_info(env, b->index, NULL, &n, &data, NULL, NULL) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_typedarray_info");
        return false;
    }
    if (n != (size_t)p->index_cap * 3) {
        if (!new_index(p, &b->index) || !reset_ref(env, &p->index_ref, b->index))
            return false;
        if (napi_get_typedarray_info(env, b->index, NULL, &n, &data, NULL, NULL) != napi_ok) {
            tsbpf_throw_napi(env, "napi_get_typedarray_info");
            return false;
        }
    }
    b->triples = data;
    b->ready = true;
    return true;
}

/* fn(argv) through napi_make_callback; false with the exception pending. */
static bool call(struct perfbuf *p, struct batch *b, napi_value fn, size_t argc, napi_value *argv)
{
    napi_value result;
    p->depth++;
    napi_status st = napi_make_callback(p->env, p->async, b->recv, fn, argc, argv, &result);
    p->depth--;
    /* JavaScript ran: the buffers may have been detached. */
    b->ready = false;
    if (st != napi_ok) {
        tsbpf_throw_napi(p->env, "napi_make_callback");
        b->failed = true;
        return false;
    }
    return true;
}

static bool deliver(struct perfbuf *p, struct batch *b, napi_value data, uint32_t count)
{
    napi_value argv[3] = {data, b->index, NULL};
    if (napi_create_uint32(p->env, count, &argv[2]) != napi_ok) {
        tsbpf_throw_napi(p->env, "napi_create_uint32");
        b->failed = true;
        return false;
    }
    b->delivered += count;
    return call(p, b, b->fn, 3, argv);
}

static bool flush(struct perfbuf *p, struct batch *b)
{
    uint32_t n = b->n;
    b->n = b->used = 0;
    return n == 0 || deliver(p, b, b->data, n);
}

/* Keeps the record libbpf handed us for the next consume. */
static void stash(struct perfbuf *p, int cpu, const void *data, uint32_t size)
{
    if (data != p->stash) {
        if (size > p->stash_cap) {
            uint8_t *s = realloc(p->stash, size);
            if (!s)
                return; /* Out of memory: the record is lost. */
            p->stash = s;
            p->stash_cap = size;
        }
        memcpy(p->stash, data, size);
    }
    p->stash_len = size;
    p->stash_cpu = cpu;
    p->stashed = true;
}

/* Adds one sample to the batch; false once consumption must stop. */
static bool add_record(struct perfbuf *p, struct batch *b, int cpu, const void *data, uint32_t size)
{
    napi_env env = p->env;
    bool big = size > p->batch_bytes;
    if (b->n && (big || b->n == p->index_cap || b->used + size > p->batch_bytes)) {
        if (!flush(p, b) || p->close_pending) {
            stash(p, cpu, data, size);
            return false;
        }
    }
    if (!b->ready && !prepare(p, b)) {
        b->failed = true;
        stash(p, cpu, data, size);
        return false;
    }
    if (big) {
        /* Alone, in a buffer of its own. */
        napi_value ab;
        void *copy;
        if (napi_create_arraybuffer(env, size, &copy, &ab) != napi_ok) {
            tsbpf_throw_napi(env, "napi_create_arraybuffer");
            b->failed = true;
            stash(p, cpu, data, size);
            return false;
        }
        memcpy(copy, data, size);
        b->triples[0] = (uint32_t)cpu;
        b->triples[1] = 0;
        b->triples[2] = size;
        return deliver(p, b, ab, 1) && !p->close_pending;
    }
    memcpy(b->copy + b->used, data, size);
    uint32_t *t = b->triples + 3 * b->n;
    t[0] = (uint32_t)cpu;
    t[1] = b->used;
    t[2] = size;
    b->n++;
    b->used += round8(size);
    return true;
}

struct sample {
    struct perf_event_header header;
    uint32_t size;
    uint8_t data[];
};

struct lost_record {
    struct perf_event_header header;
    uint64_t id;
    uint64_t lost;
};

static enum bpf_perf_event_ret on_event(void *ctx, int cpu, struct perf_event_header *event)
{
    struct perfbuf *p = ctx;
    struct batch *b = p->cur;
    if (!b || b->failed)
        return LIBBPF_PERF_EVENT_ERROR;
    if (event->type == PERF_RECORD_SAMPLE) {
        const struct sample *s = (const void *)event;
        if (event->size < sizeof(*s) || s->size > event->size - sizeof(*s))
            return LIBBPF_PERF_EVENT_CONT; /* Malformed: skip it. */
        if (!add_record(p, b, cpu, s->data, s->size))
            return LIBBPF_PERF_EVENT_ERROR;
    } else if (event->type == PERF_RECORD_LOST) {
        const struct lost_record *l = (const void *)event;
        if (event->size >= sizeof(*l) && cpu >= 0 && cpu < p->ncpu)
            p->lost[cpu] += l->lost;
    }
    return LIBBPF_PERF_EVENT_CONT;
}

enum how { CONSUME, POLL };

/*
 * Reads the rings (all of them, or the ready ones after waiting timeout ms)
 * and delivers. Returns the number of records delivered, or -1 with an
 * exception pending.
 */
static int64_t consume(struct perfbuf *p, napi_value recv, enum how how, int timeout)
{
    struct batch b = {.recv = recv};
    int err = 0;
    p->cur = &b;
    if (p->stashed) {
        p->stashed = false;
        add_record(p, &b, p->stash_cpu, p->stash, p->stash_len);
    }
    if (!b.failed && !p->close_pending) {
        tsbpf_log_reset();
        err = how == CONSUME ? perf_buffer__consume(p->pb) : perf_buffer__poll(p->pb, timeout);
    }
    if (!b.failed && !p->close_pending)
        flush(p, &b);
    /* Lost counts follow the records they were lost among. */
    for (int cpu = 0; cpu < p->ncpu && !b.failed && !p->close_pending; cpu++) {
        if (!p->lost[cpu])
            continue;
        napi_value fn, argv[2];
        double lost = (double)p->lost[cpu];
        p->lost[cpu] = 0;
        if (napi_get_reference_value(p->env, p->on_lost, &fn) != napi_ok ||
            napi_create_int32(p->env, cpu, &argv[0]) != napi_ok ||
            napi_create_double(p->env, lost, &argv[1]) != napi_ok) {
            tsbpf_throw_napi(p->env, "onLost arguments");
            b.failed = true;
            break;
        }
        call(p, &b, fn, 2, argv);
    }
    p->cur = NULL;
    if (p->close_pending && p->depth == 0)
        release(p, true);
    if (b.failed)
        return -1;
    if (err < 0 && err != -EINTR && !p->close_pending) {
        tsbpf_throw(p->env, how == CONSUME ? "perf_buffer__consume" : "perf_buffer__poll", err);
        return -1;
    }
    return b.delivered;
}

/* ---- the event loop -------------------------------------------------------- */

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
    struct perfbuf *p = h->data;
    if (!p || !p->polling)
        return;
    napi_env env = p->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok)
        return;
    napi_value self = NULL;
    if (napi_get_reference_value(env, p->self_ref, &self) == napi_ok && self) {
        if (status < 0) {
            stop_polling(p, true);
            tsbpf_throw_custom(env, false, "NativePerfBuffer.start", -status, "EIO",
                               "polling the perf buffer failed: %s", uv_strerror(status));
            raise_uncaught(env);
        } else if (consume(p, self, CONSUME, 0) < 0) {
            raise_uncaught(env);
        }
    }
    napi_close_handle_scope(env, scope);
}

/* ---- methods ------------------------------------------------------------- */

static struct perfbuf *unwrap_this(napi_env env, napi_callback_info info, const char *op,
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
    if (t == napi_object && napi_check_object_type_tag(env, *self, &perfbuf_tag, &ok) != napi_ok) {
        tsbpf_throw_napi(env, "napi_check_object_type_tag");
        return NULL;
    }
    void *data = NULL;
    if (!ok || napi_unwrap(env, *self, &data) != napi_ok || !data) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "not a NativePerfBuffer");
        return NULL;
    }
    struct perfbuf *p = data;
    if (!allow_closed && (!p->pb || p->close_pending)) {
        tsbpf_throw_custom(env, false, op, 0, "ECLOSED", "perf buffer is closed");
        return NULL;
    }
    return p;
}

static napi_value not_reentrant(napi_env env, const char *op)
{
    return tsbpf_throw_custom(env, false, op, EBUSY, "EBUSY",
                              "cannot consume from inside a callback of the same perf buffer");
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
    static const char op[] = "NativePerfBuffer.consume";
    napi_value self;
    struct perfbuf *p = unwrap_this(env, info, op, 0, NULL, &self, false);
    if (!p)
        return NULL;
    if (p->depth)
        return not_reentrant(env, op);
    return result_count(env, consume(p, self, CONSUME, 0));
}

static napi_value poll_method(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativePerfBuffer.poll";
    napi_value argv[1], self;
    struct perfbuf *p = unwrap_this(env, info, op, 1, argv, &self, false);
    int32_t timeout;
    if (!p || !tsbpf_arg_int32(env, argv[0], op, "timeoutMs", &timeout))
        return NULL;
    if (p->depth)
        return not_reentrant(env, op);
    return result_count(env, consume(p, self, POLL, timeout < 0 ? -1 : timeout));
}

static napi_value start_method(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativePerfBuffer.start";
    napi_value self;
    struct perfbuf *p = unwrap_this(env, info, op, 0, NULL, &self, false);
    if (!p)
        return NULL;
    if (p->polling)
        return tsbpf_undefined(env);
    if (!p->poll) {
        uv_loop_t *loop;
        TSBPF_NAPI(env, napi_get_uv_event_loop(env, &loop));
        p->poll = calloc(1, sizeof(*p->poll));
        if (!p->poll)
            return tsbpf_throw(env, op, ENOMEM);
        int err = uv_poll_init(loop, p->poll, p->epoll_fd);
        if (err) {
            free(p->poll);
            p->poll = NULL;
            return tsbpf_throw_custom(env, false, "uv_poll_init", -err, tsbpf_errno_name(-err),
                                      "%s", uv_strerror(err));
        }
        p->poll->data = p;
    }
    int err = uv_poll_start(p->poll, UV_READABLE, on_readable);
    if (err)
        return tsbpf_throw_custom(env, false, "uv_poll_start", -err, tsbpf_errno_name(-err), "%s",
                                  uv_strerror(err));
    p->polling = true;
    TSBPF_NAPI(env, napi_reference_ref(env, p->self_ref, NULL));
    return tsbpf_undefined(env);
}

static napi_value stop_method(napi_env env, napi_callback_info info)
{
    napi_value self;
    struct perfbuf *p = unwrap_this(env, info, "NativePerfBuffer.stop", 0, NULL, &self, false);
    if (!p)
        return NULL;
    stop_polling(p, true);
    return tsbpf_undefined(env);
}

static napi_value close_method(napi_env env, napi_callback_info info)
{
    napi_value self;
    struct perfbuf *p = unwrap_this(env, info, "NativePerfBuffer.close", 0, NULL, &self, true);
    if (!p)
        return NULL;
    if (p->depth) {
        /* Inside a callback, libbpf is still reading the rings: free them after. */
        stop_polling(p, true);
        p->close_pending = true;
    } else {
        release(p, true);
    }
    return tsbpf_undefined(env);
}

/* ---- construction ---------------------------------------------------------- */

struct options {
    uint32_t page_cnt;
    uint32_t wakeup_events;
    uint32_t batch_bytes;
    napi_value on_batch;
    napi_value on_lost;
};

static bool function_prop(napi_env env, napi_value opts, const char *op, const char *name,
                          napi_value *out)
{
    napi_valuetype t;
    if (!tsbpf_get_prop(env, opts, op, name, out))
        return false;
    if (napi_typeof(env, *out, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return false;
    }
    if (t != napi_function) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s must be a function", name);
        return false;
    }
    return true;
}

static bool parse_options(napi_env env, napi_value opts, const char *op, struct options *o)
{
    napi_value v;
    if (!tsbpf_get_prop(env, opts, op, "pageCnt", &v) ||
        !tsbpf_arg_uint32(env, v, op, "pageCnt", &o->page_cnt) ||
        !tsbpf_get_prop(env, opts, op, "wakeupEvents", &v) ||
        !tsbpf_arg_uint32(env, v, op, "wakeupEvents", &o->wakeup_events) ||
        !tsbpf_get_prop(env, opts, op, "batchBytes", &v) ||
        !tsbpf_arg_uint32(env, v, op, "batchBytes", &o->batch_bytes) ||
        !function_prop(env, opts, op, "onBatch", &o->on_batch) ||
        !function_prop(env, opts, op, "onLost", &o->on_lost))
        return false;
    if (o->page_cnt == 0 || (o->page_cnt & (o->page_cnt - 1)) || o->page_cnt > MAX_PAGE_CNT) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                           "pageCnt must be a power of two between 1 and %u, got %u", MAX_PAGE_CNT,
                           o->page_cnt);
        return false;
    }
    if (o->wakeup_events == 0) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "wakeupEvents must be at least 1");
        return false;
    }
    if (o->batch_bytes < 8 || o->batch_bytes > MAX_BATCH_BYTES) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                           "batchBytes must be between 8 and %u, got %u", MAX_BATCH_BYTES,
                           o->batch_bytes);
        return false;
    }
    o->batch_bytes = round8(o->batch_bytes);
    return true;
}

static bool check_map(napi_env env, int fd)
{
    struct bpf_map_info info;
    uint32_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    int err = bpf_obj_get_info_by_fd(fd, &info, &len);
    if (err) {
        tsbpf_throw(env, "bpf_obj_get_info_by_fd", errno ? errno : -err);
        return false;
    }
    if (info.type != BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
        tsbpf_throw_custom(env, true, "NativePerfBuffer", EINVAL, "EINVAL",
                           "map '%s' is not a perf event array (map type %u)", info.name,
                           info.type);
        return false;
    }
    return true;
}

/* new NativePerfBuffer(mapFd, { pageCnt, wakeupEvents, batchBytes, onBatch, onLost }) */
static napi_value construct(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativePerfBuffer";
    napi_value target;
    TSBPF_NAPI(env, napi_get_new_target(env, info, &target));
    if (!target)
        return tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                                  "class constructor cannot be invoked without 'new'");
    napi_value argv[2], self;
    int32_t map_fd;
    struct options o;
    if (!tsbpf_get_args(env, info, op, 2, argv, &self) ||
        !tsbpf_arg_int32(env, argv[0], op, "mapFd", &map_fd) ||
        !parse_options(env, argv[1], op, &o))
        return NULL;
    if (map_fd < 0)
        return tsbpf_throw_custom(env, true, op, EBADF, "EBADF", "mapFd must not be negative");

    struct perfbuf *p = calloc(1, sizeof(*p));
    if (!p)
        return tsbpf_throw(env, op, ENOMEM);
    p->env = env;
    p->map_fd = -1;
    p->batch_bytes = o.batch_bytes;
    uint32_t cap = o.batch_bytes / 8;
    p->index_cap = cap < MIN_INDEX_RECORDS   ? MIN_INDEX_RECORDS
                   : cap > MAX_INDEX_RECORDS ? MAX_INDEX_RECORDS
                                             : cap;

    tsbpf_log_reset();
    p->ncpu = libbpf_num_possible_cpus();
    if (p->ncpu <= 0) {
        tsbpf_throw(env, "libbpf_num_possible_cpus", p->ncpu ? p->ncpu : EINVAL);
        goto fail;
    }
    p->lost = calloc((size_t)p->ncpu, sizeof(*p->lost));
    if (!p->lost) {
        tsbpf_throw(env, op, ENOMEM);
        goto fail;
    }
    p->map_fd = fcntl(map_fd, F_DUPFD_CLOEXEC, 3);
    if (p->map_fd < 0) {
        tsbpf_throw(env, "fcntl(F_DUPFD_CLOEXEC)", errno);
        goto fail;
    }
    if (!check_map(env, p->map_fd))
        goto fail;

    /* What perf_buffer__new sets up, with our wakeup_events. */
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_BPF_OUTPUT;
    attr.sample_type = PERF_SAMPLE_RAW;
    attr.sample_period = 1;
    attr.wakeup_events = o.wakeup_events;
    LIBBPF_OPTS(perf_buffer_raw_opts, raw_opts);
    errno = 0;
    p->pb = perf_buffer__new_raw(p->map_fd, o.page_cnt, &attr, on_event, p, &raw_opts);
    if (!p->pb) {
        tsbpf_throw(env, "perf_buffer__new_raw", errno ? errno : EINVAL);
        goto fail;
    }
    p->epoll_fd = perf_buffer__epoll_fd(p->pb);

    napi_value data, index, name;
    void *unused;
    if (napi_create_arraybuffer(env, p->batch_bytes, &unused, &data) != napi_ok) {
        tsbpf_throw_napi(env, "napi_create_arraybuffer");
        goto fail;
    }
    if (!new_index(p, &index) || !reset_ref(env, &p->data_ref, data) ||
        !reset_ref(env, &p->index_ref, index) || !reset_ref(env, &p->on_batch, o.on_batch) ||
        !reset_ref(env, &p->on_lost, o.on_lost))
        goto fail;
    if (napi_create_string_utf8(env, "tsbpf.PerfBuffer", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_async_init(env, NULL, name, &p->async) != napi_ok) {
        tsbpf_throw_napi(env, "napi_async_init");
        goto fail;
    }
    if (napi_wrap(env, self, p, finalize, NULL, NULL) != napi_ok) {
        tsbpf_throw_napi(env, "napi_wrap");
        goto fail;
    }
    /* From here on the finalizer owns p. */
    TSBPF_NAPI(env, napi_type_tag_object(env, self, &perfbuf_tag));
    TSBPF_NAPI(env, napi_create_reference(env, self, 0, &p->self_ref));
    TSBPF_NAPI(env, napi_add_env_cleanup_hook(env, cleanup_hook, p));
    p->hook = true;
    return self;

fail:
    release(p, true);
    free(p);
    return NULL;
}

napi_value tsbpf_perfbuf_class(napi_env env)
{
#define METHOD(name, fn)                                                                           \
    {                                                                                              \
        name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL                                \
    }
    const napi_property_descriptor props[] = {
        METHOD("consume", consume_method), METHOD("poll", poll_method),
        METHOD("start", start_method),     METHOD("stop", stop_method),
        METHOD("close", close_method),
    };
#undef METHOD
    napi_value ctor;
    TSBPF_NAPI(env, napi_define_class(env, "NativePerfBuffer", NAPI_AUTO_LENGTH, construct, NULL,
                                      sizeof(props) / sizeof(props[0]), props, &ctor));
    return ctor;
}
