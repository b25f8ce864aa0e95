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

#include "evpoll.h"
#include "util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* perf_buffer__new fails beyond this anyway (the kernel's perf_event_mlock_kb is far lower). */
#define MAX_PAGE_CNT (1u << 20)

/* Valid during one consume: what the libbpf callback needs to deliver. */
struct batch {
    /* The buffers; their entries are [cpu, offset, length] triples. */
    struct evpoll_batch buf;
    /* buf.copy and buf.entries are valid (no JS ran since they were fetched). */
    bool ready;
    uint32_t n;
    uint32_t used;
    int64_t delivered;
    /* onBatch threw or a napi call failed: an exception is pending. */
    bool failed;
};

struct perfbuf {
    /* First: polling, lifetime, onBatch and the batch buffers. */
    struct evpoll ev;
    /* NULL once closed. */
    struct perf_buffer *pb;
    /* Our dup of the map fd: libbpf clears the map slots through it on free. */
    int map_fd;
    int ncpu;
    /* Lost samples per CPU not reported yet. */
    uint64_t *lost;

    /* A multiple of 8. */
    uint32_t batch_bytes;
    napi_ref on_lost;

    /* The record libbpf had handed us when a delivery failed. */
    uint8_t *stash;
    uint32_t stash_len;
    uint32_t stash_cap;
    int stash_cpu;
    bool stashed;

    /* The consume in progress, NULL otherwise. */
    struct batch *cur;
};

_Static_assert(offsetof(struct perfbuf, ev) == 0, "struct evpoll must come first");

static inline uint32_t round8(uint32_t n)
{
    return (n + 7) & ~7u;
}

/* Stops polling and frees the perf buffer; with js, also the JS references. */
static void release(struct evpoll *ev, bool js)
{
    struct perfbuf *p = (struct perfbuf *)ev;
    evpoll_release(ev, js);
    if (js && p->on_lost) {
        napi_delete_reference(ev->env, p->on_lost);
        p->on_lost = NULL;
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

/* ---- batches ------------------------------------------------------------- */

/* onBatch(data, index, count); false, with the consume failed, when it threw. */
static bool deliver(struct perfbuf *p, struct batch *b, napi_value data, uint32_t count)
{
    /* JavaScript runs: the buffers may be detached after. */
    b->ready = false;
    if (!evpoll_deliver(&p->ev, &b->buf, data, count)) {
        b->failed = true;
        return false;
    }
    b->delivered += count;
    return true;
}

static bool flush(struct perfbuf *p, struct batch *b)
{
    uint32_t n = b->n;
    b->n = b->used = 0;
    return n == 0 || deliver(p, b, b->buf.data, n);
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
    napi_env env = p->ev.env;
    bool big = size > p->batch_bytes;
    if (b->n && (big || b->n == p->ev.index_cap || b->used + size > p->batch_bytes)) {
        if (!flush(p, b) || p->ev.close_pending) {
            stash(p, cpu, data, size);
            return false;
        }
    }
    if (!b->ready) {
        if (!evpoll_prepare(&p->ev, &b->buf)) {
            b->failed = true;
            stash(p, cpu, data, size);
            return false;
        }
        b->ready = true;
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
        b->buf.entries[0] = (uint32_t)cpu;
        b->buf.entries[1] = 0;
        b->buf.entries[2] = size;
        return deliver(p, b, ab, 1) && !p->ev.close_pending;
    }
    memcpy(b->buf.copy + b->used, data, size);
    uint32_t *t = b->buf.entries + 3 * b->n;
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
    struct batch b = {.buf.recv = recv};
    int err = 0;
    p->cur = &b;
    if (p->stashed) {
        p->stashed = false;
        add_record(p, &b, p->stash_cpu, p->stash, p->stash_len);
    }
    if (!b.failed && !p->ev.close_pending) {
        tsbpf_log_reset();
        err = how == CONSUME ? perf_buffer__consume(p->pb) : perf_buffer__poll(p->pb, timeout);
    }
    if (!b.failed && !p->ev.close_pending)
        flush(p, &b);
    /* Lost counts follow the records they were lost among. */
    for (int cpu = 0; cpu < p->ncpu && !b.failed && !p->ev.close_pending; cpu++) {
        if (!p->lost[cpu])
            continue;
        napi_value fn, argv[2];
        double lost = (double)p->lost[cpu];
        p->lost[cpu] = 0;
        if (napi_get_reference_value(p->ev.env, p->on_lost, &fn) != napi_ok ||
            napi_create_int32(p->ev.env, cpu, &argv[0]) != napi_ok ||
            napi_create_double(p->ev.env, lost, &argv[1]) != napi_ok) {
            tsbpf_throw_napi(p->ev.env, "onLost arguments");
            b.failed = true;
            break;
        }
        if (!evpoll_call(&p->ev, recv, fn, 2, argv))
            b.failed = true;
    }
    p->cur = NULL;
    evpoll_finish(&p->ev);
    if (b.failed)
        return -1;
    if (err < 0 && err != -EINTR && !p->ev.close_pending) {
        tsbpf_throw(p->ev.env, how == CONSUME ? "perf_buffer__consume" : "perf_buffer__poll", err);
        return -1;
    }
    return b.delivered;
}

/* What the event loop found readable: every ring. */
static int64_t consume_ready(struct evpoll *ev, napi_value self)
{
    return consume((struct perfbuf *)ev, self, CONSUME, 0);
}

/* ---- methods ------------------------------------------------------------- */

static const struct evpoll_class perfbuf_class = {
    .name = "NativePerfBuffer",
    .start_op = "NativePerfBuffer.start",
    .stop_op = "NativePerfBuffer.stop",
    .close_op = "NativePerfBuffer.close",
    .noun = "perf buffer",
    .busy_message = "cannot consume from inside a callback of the same perf buffer",
    .tag = {0x7473627066207065ULL, 0x7266627566000001ULL},
    .consume = consume_ready,
    .release = release,
};

static napi_value consume_method(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativePerfBuffer.consume";
    napi_value self;
    struct evpoll *ev = evpoll_unwrap(env, info, &perfbuf_class, op, 0, NULL, &self, false);
    if (!ev || evpoll_busy(ev, op))
        return NULL;
    return evpoll_count(env, consume((struct perfbuf *)ev, self, CONSUME, 0));
}

static napi_value poll_method(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativePerfBuffer.poll";
    napi_value argv[1], self;
    struct evpoll *ev = evpoll_unwrap(env, info, &perfbuf_class, op, 1, argv, &self, false);
    int32_t timeout;
    if (!ev || !tsbpf_arg_int32(env, argv[0], op, "timeoutMs", &timeout) || evpoll_busy(ev, op))
        return NULL;
    return evpoll_count(env, consume((struct perfbuf *)ev, self, POLL, timeout < 0 ? -1 : timeout));
}

/* ---- construction ---------------------------------------------------------- */

struct options {
    uint32_t page_cnt;
    uint32_t wakeup_events;
    uint32_t batch_bytes;
    napi_value on_batch;
    napi_value on_lost;
};

static bool parse_options(napi_env env, napi_value opts, const char *op, struct options *o)
{
    napi_value v;
    if (!tsbpf_get_prop(env, opts, op, "pageCnt", &v) ||
        !tsbpf_arg_uint32(env, v, op, "pageCnt", &o->page_cnt) ||
        !tsbpf_get_prop(env, opts, op, "wakeupEvents", &v) ||
        !tsbpf_arg_uint32(env, v, op, "wakeupEvents", &o->wakeup_events) ||
        !tsbpf_get_prop(env, opts, op, "batchBytes", &v) ||
        !tsbpf_arg_uint32(env, v, op, "batchBytes", &o->batch_bytes) ||
        !evpoll_function_prop(env, opts, op, "onBatch", &o->on_batch) ||
        !evpoll_function_prop(env, opts, op, "onLost", &o->on_lost))
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
    return evpoll_batch_bytes(env, op, &o->batch_bytes);
}

/* new NativePerfBuffer(mapFd, { pageCnt, wakeupEvents, batchBytes, onBatch, onLost }) */
static napi_value construct(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativePerfBuffer";
    napi_value argv[2];
    int32_t map_fd;
    struct options o;
    napi_value self = evpoll_construct_args(env, info, op, argv, &map_fd);
    if (!self || !parse_options(env, argv[1], op, &o))
        return NULL;
    if (map_fd < 0)
        return tsbpf_throw_custom(env, true, op, EBADF, "EBADF", "mapFd must not be negative");

    struct perfbuf *p = calloc(1, sizeof(*p));
    if (!p)
        return tsbpf_throw(env, op, ENOMEM);
    evpoll_init(&p->ev, env, &perfbuf_class);
    p->map_fd = -1;
    p->batch_bytes = o.batch_bytes;
    p->ev.data_len = o.batch_bytes;
    p->ev.index_cap = evpoll_index_cap(o.batch_bytes);
    /* [cpu, offset, length] triples. */
    p->ev.index_stride = 3;

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
    struct bpf_map_info map_info;
    if (!evpoll_open_map(env, op, map_fd, BPF_MAP_TYPE_PERF_EVENT_ARRAY, "a perf event array",
                         &p->map_fd, &map_info))
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
    p->ev.poll_fd = perf_buffer__epoll_fd(p->pb);

    if (!evpoll_buffers(&p->ev, o.on_batch) || !evpoll_reset_ref(env, &p->on_lost, o.on_lost))
        goto fail;
    return evpoll_wrap(&p->ev, self, "tsbpf.PerfBuffer");

fail:
    return evpoll_destroy(&p->ev);
}

napi_value tsbpf_perfbuf_class(napi_env env)
{
    const napi_property_descriptor methods[] = {
        EVPOLL_METHOD("consume", consume_method),
        EVPOLL_METHOD("poll", poll_method),
    };
    return evpoll_define_class(env, &perfbuf_class, construct, sizeof(methods) / sizeof(methods[0]),
                               methods);
}
