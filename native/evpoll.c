/*
 * The event-loop polling, lifetime and batch delivery shared by the ring
 * buffer and perf buffer consumers (see evpoll.h).
 */
#include "evpoll.h"

#include "util.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>

static void free_handle(uv_handle_t *h)
{
    free(h);
}

void evpoll_init(struct evpoll *ev, napi_env env, const struct evpoll_class *cls)
{
    ev->env = env;
    ev->cls = cls;
    ev->poll_fd = -1;
}

void evpoll_stop(struct evpoll *ev, bool js)
{
    if (ev->polling) {
        uv_poll_stop(ev->poll);
        ev->polling = false;
        if (js && ev->self_ref)
            napi_reference_unref(ev->env, ev->self_ref, NULL);
    }
}

static void cleanup_hook(void *arg);

void evpoll_release(struct evpoll *ev, bool js)
{
    evpoll_stop(ev, js);
    if (ev->poll) {
        ev->poll->data = NULL;
        uv_close((uv_handle_t *)ev->poll, free_handle);
        ev->poll = NULL;
    }
    if (js) {
        napi_value ab;
        if (ev->new_view && ev->data_ref &&
            napi_get_reference_value(ev->env, ev->data_ref, &ab) == napi_ok && ab) {
            bool detached = true;
            if (napi_is_detached_arraybuffer(ev->env, ab, &detached) == napi_ok && !detached)
                napi_detach_arraybuffer(ev->env, ab);
        }
        napi_ref *refs[] = {&ev->on_batch, &ev->data_ref, &ev->index_ref};
        for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
            if (*refs[i]) {
                napi_delete_reference(ev->env, *refs[i]);
                *refs[i] = NULL;
            }
        }
        if (ev->async) {
            napi_async_destroy(ev->env, ev->async);
            ev->async = NULL;
        }
        if (ev->hook) {
            napi_remove_env_cleanup_hook(ev->env, cleanup_hook, ev);
            ev->hook = false;
        }
    }
    ev->closed = true;
}

/* Environment teardown (e.g. a worker exiting): the uv handle must go. */
static void cleanup_hook(void *arg)
{
    struct evpoll *ev = arg;
    ev->hook = false;
    ev->cls->release(ev, false);
}

static void finalize(napi_env env, void *data, void *hint)
{
    (void)hint;
    struct evpoll *ev = data;
    ev->cls->release(ev, true);
    if (ev->self_ref)
        napi_delete_reference(env, ev->self_ref);
    free(ev);
}

napi_value evpoll_destroy(struct evpoll *ev)
{
    ev->cls->release(ev, true);
    free(ev);
    return NULL;
}

/* ---- construction ---------------------------------------------------------- */

napi_value evpoll_construct_args(napi_env env, napi_callback_info info, const char *op,
                                 napi_value argv[2], int32_t *map_fd)
{
    napi_value target, self;
    TSBPF_NAPI(env, napi_get_new_target(env, info, &target));
    if (!target)
        return tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                                  "class constructor cannot be invoked without 'new'");
    if (!tsbpf_get_args(env, info, op, 2, argv, &self) ||
        !tsbpf_arg_int32(env, argv[0], op, "mapFd", map_fd))
        return NULL;
    return self;
}

bool evpoll_open_map(napi_env env, const char *op, int map_fd, uint32_t type, const char *what,
                     int *fd, struct bpf_map_info *info)
{
    *fd = fcntl(map_fd, F_DUPFD_CLOEXEC, 3);
    if (*fd < 0) {
        tsbpf_throw(env, "fcntl(F_DUPFD_CLOEXEC)", errno);
        return false;
    }
    uint32_t len = sizeof(*info);
    memset(info, 0, sizeof(*info));
    int err = bpf_obj_get_info_by_fd(*fd, info, &len);
    if (err) {
        tsbpf_throw(env, "bpf_obj_get_info_by_fd", errno ? errno : -err);
        return false;
    }
    if (info->type != type) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "map '%s' is not %s (map type %u)",
                           info->name, what, info->type);
        return false;
    }
    return true;
}

bool evpoll_reset_ref(napi_env env, napi_ref *ref, napi_value v)
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

bool evpoll_batch_bytes(napi_env env, const char *op, uint32_t *bytes)
{
    if (*bytes < 8 || *bytes > EVPOLL_MAX_BATCH_BYTES) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                           "batchBytes must be between 8 and %u, got %u", EVPOLL_MAX_BATCH_BYTES,
                           *bytes);
        return false;
    }
    *bytes = (*bytes + 7) & ~7u;
    return true;
}

uint32_t evpoll_index_cap(uint32_t batch_bytes)
{
    uint32_t cap = batch_bytes / 8;
    return cap < EVPOLL_MIN_INDEX_CAP   ? EVPOLL_MIN_INDEX_CAP
           : cap > EVPOLL_MAX_INDEX_CAP ? EVPOLL_MAX_INDEX_CAP
                                        : cap;
}

bool evpoll_function_prop(napi_env env, napi_value opts, const char *op, const char *name,
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

static bool new_index(struct evpoll *ev, napi_value *out)
{
    size_t len = (size_t)ev->index_cap * ev->index_stride;
    napi_value ab;
    void *p;
    if (napi_create_arraybuffer(ev->env, len * 4, &p, &ab) != napi_ok ||
        napi_create_typedarray(ev->env, napi_uint32_array, len, ab, 0, out) != napi_ok) {
        tsbpf_throw_napi(ev->env, "napi_create_typedarray");
        return false;
    }
    return true;
}

/* A new data buffer: the view, or a copy buffer whose memory goes to *p. */
static bool new_data(struct evpoll *ev, napi_value *out, void **p)
{
    if (ev->new_view ? !ev->new_view(ev, out)
                     : napi_create_arraybuffer(ev->env, ev->data_len, p, out) != napi_ok) {
        tsbpf_throw_napi(ev->env, "napi_create_arraybuffer");
        return false;
    }
    return true;
}

bool evpoll_buffers(struct evpoll *ev, napi_value on_batch)
{
    napi_value data, index;
    void *p;
    return new_data(ev, &data, &p) && new_index(ev, &index) &&
           evpoll_reset_ref(ev->env, &ev->data_ref, data) &&
           evpoll_reset_ref(ev->env, &ev->index_ref, index) &&
           evpoll_reset_ref(ev->env, &ev->on_batch, on_batch);
}

napi_value evpoll_wrap(struct evpoll *ev, napi_value self, const char *resource_name)
{
    napi_env env = ev->env;
    napi_value name;
    if (napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_async_init(env, NULL, name, &ev->async) != napi_ok) {
        tsbpf_throw_napi(env, "napi_async_init");
        return evpoll_destroy(ev);
    }
    if (napi_wrap(env, self, ev, finalize, NULL, NULL) != napi_ok) {
        tsbpf_throw_napi(env, "napi_wrap");
        return evpoll_destroy(ev);
    }
    /* From here on the finalizer owns the consumer. */
    TSBPF_NAPI(env, napi_type_tag_object(env, self, &ev->cls->tag));
    TSBPF_NAPI(env, napi_create_reference(env, self, 0, &ev->self_ref));
    TSBPF_NAPI(env, napi_add_env_cleanup_hook(env, cleanup_hook, ev));
    ev->hook = true;
    return self;
}

/* ---- batches ------------------------------------------------------------- */

bool evpoll_prepare(struct evpoll *ev, struct evpoll_batch *b)
{
    napi_env env = ev->env;
    if (napi_get_reference_value(env, ev->on_batch, &b->fn) != napi_ok ||
        napi_get_reference_value(env, ev->data_ref, &b->data) != napi_ok ||
        napi_get_reference_value(env, ev->index_ref, &b->index) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_reference_value");
        return false;
    }

    void *p = NULL;
    size_t len = 0;
    if (napi_get_arraybuffer_info(env, b->data, &p, &len) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_arraybuffer_info");
        return false;
    }
    if (len != ev->data_len) {
        if (!new_data(ev, &b->data, &p) || !evpoll_reset_ref(env, &ev->data_ref, b->data))
            return false;
    }
    b->copy = p;

    size_t n = 0;
    if (napi_get_typedarray_info(env, b->index, NULL, &n, &p, NULL, NULL) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_typedarray_info");
        return false;
    }
    if (n != (size_t)ev->index_cap * ev->index_stride) {
        if (!new_index(ev, &b->index) || !evpoll_reset_ref(env, &ev->index_ref, b->index))
            return false;
        if (napi_get_typedarray_info(env, b->index, NULL, &n, &p, NULL, NULL) != napi_ok) {
            tsbpf_throw_napi(env, "napi_get_typedarray_info");
            return false;
        }
    }
    b->entries = p;
    return true;
}

bool evpoll_call(struct evpoll *ev, napi_value recv, napi_value fn, size_t argc, napi_value *argv)
{
    napi_value result;
    ev->depth++;
    napi_status st = napi_make_callback(ev->env, ev->async, recv, fn, argc, argv, &result);
    ev->depth--;
    if (st != napi_ok) {
        tsbpf_throw_napi(ev->env, "napi_make_callback");
        return false;
    }
    return true;
}

bool evpoll_deliver(struct evpoll *ev, struct evpoll_batch *b, napi_value data, uint32_t count)
{
    napi_value argv[3] = {data, b->index, NULL};
    if (napi_create_uint32(ev->env, count, &argv[2]) != napi_ok) {
        tsbpf_throw_napi(ev->env, "napi_create_uint32");
        return false;
    }
    return evpoll_call(ev, b->recv, b->fn, 3, argv);
}

void evpoll_finish(struct evpoll *ev)
{
    if (ev->close_pending && ev->depth == 0)
        ev->cls->release(ev, true);
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
    struct evpoll *ev = h->data;
    if (!ev || !ev->polling)
        return;
    napi_env env = ev->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok)
        return;
    napi_value self = NULL;
    if (napi_get_reference_value(env, ev->self_ref, &self) == napi_ok && self) {
        if (status < 0) {
            evpoll_stop(ev, true);
            tsbpf_throw_custom(env, false, ev->cls->start_op, -status, "EIO",
                               "polling the %s failed: %s", ev->cls->noun, uv_strerror(status));
            raise_uncaught(env);
        } else if (ev->cls->consume(ev, self) < 0) {
            raise_uncaught(env);
        }
    }
    napi_close_handle_scope(env, scope);
}

/* ---- methods ------------------------------------------------------------- */

struct evpoll *evpoll_unwrap(napi_env env, napi_callback_info info, const struct evpoll_class *cls,
                             const char *op, size_t argc, napi_value *argv, napi_value *self,
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
    if (t == napi_object && napi_check_object_type_tag(env, *self, &cls->tag, &ok) != napi_ok) {
        tsbpf_throw_napi(env, "napi_check_object_type_tag");
        return NULL;
    }
    void *data = NULL;
    if (!ok || napi_unwrap(env, *self, &data) != napi_ok || !data) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "not a %s", cls->name);
        return NULL;
    }
    struct evpoll *ev = data;
    if (!allow_closed && (ev->closed || ev->close_pending)) {
        tsbpf_throw_custom(env, false, op, 0, "ECLOSED", "%s is closed", cls->noun);
        return NULL;
    }
    return ev;
}

bool evpoll_busy(struct evpoll *ev, const char *op)
{
    if (!ev->depth)
        return false;
    tsbpf_throw_custom(ev->env, false, op, EBUSY, "EBUSY", "%s", ev->cls->busy_message);
    return true;
}

napi_value evpoll_count(napi_env env, int64_t n)
{
    if (n < 0)
        return NULL;
    napi_value v;
    TSBPF_NAPI(env, napi_create_int64(env, n, &v));
    return v;
}

enum method { START, STOP, CLOSE };

/* `this` of start(), stop() or close(), whose data is the class; NULL with an exception pending. */
static struct evpoll *method_this(napi_env env, napi_callback_info info, enum method m)
{
    size_t argc = 0;
    void *data = NULL;
    if (napi_get_cb_info(env, info, &argc, NULL, NULL, &data) != napi_ok || !data) {
        tsbpf_throw_napi(env, "napi_get_cb_info");
        return NULL;
    }
    const struct evpoll_class *cls = data;
    const char *op = m == START ? cls->start_op : m == STOP ? cls->stop_op : cls->close_op;
    napi_value self;
    /* close() is idempotent. */
    return evpoll_unwrap(env, info, cls, op, 0, NULL, &self, m == CLOSE);
}

static napi_value start_method(napi_env env, napi_callback_info info)
{
    struct evpoll *ev = method_this(env, info, START);
    if (!ev)
        return NULL;
    if (ev->polling)
        return tsbpf_undefined(env);
    if (!ev->poll) {
        uv_loop_t *loop;
        TSBPF_NAPI(env, napi_get_uv_event_loop(env, &loop));
        ev->poll = calloc(1, sizeof(*ev->poll));
        if (!ev->poll)
            return tsbpf_throw(env, ev->cls->start_op, ENOMEM);
        int err = uv_poll_init(loop, ev->poll, ev->poll_fd);
        if (err) {
            free(ev->poll);
            ev->poll = NULL;
            return tsbpf_throw_custom(env, false, "uv_poll_init", -err, tsbpf_errno_name(-err),
                                      "%s", uv_strerror(err));
        }
        ev->poll->data = ev;
    }
    int err = uv_poll_start(ev->poll, UV_READABLE, on_readable);
    if (err)
        return tsbpf_throw_custom(env, false, "uv_poll_start", -err, tsbpf_errno_name(-err), "%s",
                                  uv_strerror(err));
    ev->polling = true;
    TSBPF_NAPI(env, napi_reference_ref(env, ev->self_ref, NULL));
    return tsbpf_undefined(env);
}

static napi_value stop_method(napi_env env, napi_callback_info info)
{
    struct evpoll *ev = method_this(env, info, STOP);
    if (!ev)
        return NULL;
    evpoll_stop(ev, true);
    return tsbpf_undefined(env);
}

static napi_value close_method(napi_env env, napi_callback_info info)
{
    struct evpoll *ev = method_this(env, info, CLOSE);
    if (!ev)
        return NULL;
    if (ev->depth) {
        /*
         * Inside a callback: what is being delivered (mapped ring records,
         * the rings libbpf is reading) stays until it returns.
         */
        evpoll_stop(ev, true);
        ev->close_pending = true;
    } else {
        ev->cls->release(ev, true);
    }
    return tsbpf_undefined(env);
}

napi_value evpoll_define_class(napi_env env, const struct evpoll_class *cls,
                               napi_callback construct, size_t n,
                               const napi_property_descriptor *methods)
{
    napi_property_descriptor props[8];
    const napi_property_descriptor common[] = {
        EVPOLL_METHOD("start", start_method),
        EVPOLL_METHOD("stop", stop_method),
        EVPOLL_METHOD("close", close_method),
    };
    const size_t ncommon = sizeof(common) / sizeof(common[0]);
    if (n > sizeof(props) / sizeof(props[0]) - ncommon)
        return tsbpf_throw(env, cls->name, E2BIG);
    for (size_t i = 0; i < n; i++)
        props[i] = methods[i];
    for (size_t i = 0; i < ncommon; i++) {
        props[n + i] = common[i];
        props[n + i].data = (void *)cls;
    }
    napi_value ctor;
    TSBPF_NAPI(env, napi_define_class(env, cls->name, NAPI_AUTO_LENGTH, construct, NULL,
                                      n + ncommon, props, &ctor));
    return ctor;
}
