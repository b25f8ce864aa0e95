/*
 * What the batching consumers (NativeRingBuffer, NativePerfBuffer) share: an
 * object wrapping a pollable fd that the Node event loop watches while
 * started, that hands records to JavaScript in batches through
 * onBatch(data, index, count), and that may be closed from inside onBatch.
 *
 * A consumer embeds a struct evpoll as its first member (napi_wrap and
 * free() work on the consumer, N-API callbacks on the struct evpoll) and
 * describes itself with a static struct evpoll_class. start(), stop() and
 * close() are implemented here for every consumer (evpoll_define_class).
 *
 * Exceptions thrown by onBatch propagate out of consume()/poll(); from the
 * event loop they are raised with napi_fatal_exception, as for a throwing
 * I/O callback.
 */
#ifndef TSBPF_EVPOLL_H
#define TSBPF_EVPOLL_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Largest batch buffer, and the bounds of index_cap (records per batch). */
#define EVPOLL_MAX_BATCH_BYTES (1u << 30)
#define EVPOLL_MIN_INDEX_CAP 16u
#define EVPOLL_MAX_INDEX_CAP (1u << 16)

struct bpf_map_info;
struct evpoll;

struct evpoll_class {
    /* "NativeRingBuffer": the class name and the op of its constructor's errors. */
    const char *name;
    /* The ops of the methods defined here: "NativeRingBuffer.start". */
    const char *start_op;
    const char *stop_op;
    const char *close_op;
    /* "ring buffer", in "ring buffer is closed". */
    const char *noun;
    /* The EBUSY message of consume()/poll() from inside a callback. */
    const char *busy_message;
    napi_type_tag tag;
    /*
     * Consumes what the event loop found readable, `self` being the
     * JavaScript object; < 0 with an exception pending.
     */
    int64_t (*consume)(struct evpoll *ev, napi_value self);
    /*
     * Stops polling and frees everything (evpoll_release, then the
     * consumer's own resources); with js, also what needs JavaScript.
     */
    void (*release)(struct evpoll *ev, bool js);
};

struct evpoll {
    napi_env env;
    const struct evpoll_class *cls;
    /* The fd the event loop polls for readability. */
    int poll_fd;

    /* Weak; strong while polling so that a started consumer is not collected. */
    napi_ref self_ref;
    uv_poll_t *poll;
    bool polling;
    /* The environment cleanup hook is installed. */
    bool hook;
    /* JavaScript callbacks in progress (reentrancy guard). */
    int depth;
    /* close() was called from inside a callback: release once it returns. */
    bool close_pending;
    bool closed;

    napi_async_context async;
    napi_ref on_batch;
    /* The batch ArrayBuffer: a reusable copy buffer, or a view (below). */
    napi_ref data_ref;
    /* A Uint32Array of index_cap * index_stride elements. */
    napi_ref index_ref;
    /* The expected byte length of the data buffer. */
    size_t data_len;
    /* Records per batch at most, and index elements per record. */
    uint32_t index_cap;
    uint32_t index_stride;
    /*
     * View mode: makes the data buffer, an external ArrayBuffer over memory
     * the consumer owns, detached on release. NULL: a copy buffer of data_len
     * bytes.
     */
    bool (*new_view)(struct evpoll *ev, napi_value *out);
};

/* What a batch is written into, valid from evpoll_prepare() to the next JS call. */
struct evpoll_batch {
    /* `this` of onBatch: the consumer object. */
    napi_value recv;
    napi_value fn;
    napi_value data;
    napi_value index;
    /* The copy buffer's memory (unused in view mode). */
    uint8_t *copy;
    /* The index's elements: index_stride of them per record. */
    uint32_t *entries;
};

/* The state of a consumer just allocated (zeroed): not polling, no fd, open. */
void evpoll_init(struct evpoll *ev, napi_env env, const struct evpoll_class *cls);

/*
 * Stops polling, closes the uv handle and marks the consumer closed; with js,
 * also detaches a view buffer (so that JavaScript can never read memory the
 * consumer is about to free), lets go of onBatch, the buffers and the async
 * context, and removes the cleanup hook.
 */
void evpoll_release(struct evpoll *ev, bool js);

/* Stops polling; with js, lets the object be collected again. */
void evpoll_stop(struct evpoll *ev, bool js);

/* Releases (with js) and frees a consumer that was never wrapped; returns NULL. */
napi_value evpoll_destroy(struct evpoll *ev);

/*
 * The arguments of new Class(mapFd, options): `this`, or NULL with an
 * exception pending (also when called without new).
 */
napi_value evpoll_construct_args(napi_env env, napi_callback_info info, const char *op,
                                 napi_value argv[2], int32_t *map_fd);
/*
 * Our own dup of map_fd into *fd (the caller may close theirs while we use
 * ours; the consumer closes it), checked to be a map of `type` (`what`: "a
 * ring buffer"), its info in *info. False with an exception pending.
 */
bool evpoll_open_map(napi_env env, const char *op, int map_fd, uint32_t type, const char *what,
                     int *fd, struct bpf_map_info *info);

/* Replace *ref with a strong reference to v; false with an exception pending. */
bool evpoll_reset_ref(napi_env env, napi_ref *ref, napi_value v);

/*
 * batchBytes checked (8 to EVPOLL_MAX_BATCH_BYTES) and rounded up to a
 * multiple of 8; false with an exception pending.
 */
bool evpoll_batch_bytes(napi_env env, const char *op, uint32_t *bytes);
/* Every record takes at least 8 bytes of a batch: index_cap for batch_bytes. */
uint32_t evpoll_index_cap(uint32_t batch_bytes);
/* Property `name` of opts, which must be a function; false with an exception pending. */
bool evpoll_function_prop(napi_env env, napi_value opts, const char *op, const char *name,
                          napi_value *out);

/*
 * Once data_len, index_cap, index_stride and new_view are set: creates the
 * batch buffers and keeps onBatch. False with an exception pending.
 */
bool evpoll_buffers(struct evpoll *ev, napi_value on_batch);
/*
 * The end of construction: creates the async context (resource_name:
 * "tsbpf.RingBuffer"), wraps self with the consumer and installs the cleanup
 * hook. Returns self, or NULL with an exception pending; the consumer has
 * been destroyed when that happens before the wrap, and belongs to the
 * finalizer after.
 */
napi_value evpoll_wrap(struct evpoll *ev, napi_value self, const char *resource_name);

/*
 * Fetches onBatch and the buffers for a new batch. JavaScript may have
 * detached a buffer (transferred it) during the previous call: then a new one
 * replaces it. False with an exception pending.
 */
bool evpoll_prepare(struct evpoll *ev, struct evpoll_batch *b);

/* fn(...argv) through napi_make_callback; false with the exception pending. */
bool evpoll_call(struct evpoll *ev, napi_value recv, napi_value fn, size_t argc, napi_value *argv);
/* onBatch(data, index, count); false with the exception pending when it threw. */
bool evpoll_deliver(struct evpoll *ev, struct evpoll_batch *b, napi_value data, uint32_t count);

/* After a consume: a close() requested from inside a callback takes effect. */
void evpoll_finish(struct evpoll *ev);

/*
 * `this` of a method, checked to be one of cls's objects and, unless
 * allow_closed, not closed; argc arguments into argv. NULL with an exception
 * pending.
 */
struct evpoll *evpoll_unwrap(napi_env env, napi_callback_info info, const struct evpoll_class *cls,
                             const char *op, size_t argc, napi_value *argv, napi_value *self,
                             bool allow_closed);
/* Throws EBUSY when called from inside a callback of ev (and returns true). */
bool evpoll_busy(struct evpoll *ev, const char *op);
/* The result of consume()/poll(): n, or NULL (exception pending) when n < 0. */
napi_value evpoll_count(napi_env env, int64_t n);

/*
 * Defines cls's class: the n methods given, then start(), stop() and
 * close().
 */
napi_value evpoll_define_class(napi_env env, const struct evpoll_class *cls,
                               napi_callback construct, size_t n,
                               const napi_property_descriptor *methods);

#define EVPOLL_METHOD(name, fn)                                                                    \
    {                                                                                              \
        name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL                                \
    }

#endif
