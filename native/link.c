#include "link.h"

#include "object.h"
#include "util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>

struct tsbpf_link {
    /* NULL once destroyed. */
    struct bpf_link *link;
    /*
     * A strong reference to the NativeObject the link needs alive until it is
     * destroyed (USDT links: detaching one returns its spec ids to the
     * object's USDT manager), or NULL.
     */
    napi_ref owner;
};

static const napi_type_tag link_tag = {0x7473627066206c69ULL, 0x6e6b0a5f00000001ULL};

static void destroy_link(struct tsbpf_link *l)
{
    if (l->link) {
        bpf_link__destroy(l->link);
        l->link = NULL;
    }
}

/* Lets the owner object go (after the link is destroyed). */
static void release_owner(napi_env env, struct tsbpf_link *l)
{
    if (l->owner) {
        napi_delete_reference(env, l->owner);
        l->owner = NULL;
    }
}

/*
 * The TS layer holds every live link, so a link is only collected after the
 * program let go of it: detach then. Its owner object cannot have been
 * collected before it: the link holds a reference to it until now.
 */
static void finalize(napi_env env, void *data, void *hint)
{
    (void)hint;
    struct tsbpf_link *l = data;
    destroy_link(l);
    release_owner(env, l);
    free(l);
}

/* The struct behind `this`; NULL (exception pending) on failure. */
static struct tsbpf_link *this_link(napi_env env, napi_callback_info info, const char *op)
{
    napi_value self;
    if (!tsbpf_get_args(env, info, op, 0, NULL, &self))
        return NULL;
    bool ok = false;
    napi_valuetype t;
    if (napi_typeof(env, self, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return NULL;
    }
    if (t == napi_object && napi_check_object_type_tag(env, self, &link_tag, &ok) != napi_ok) {
        tsbpf_throw_napi(env, "napi_check_object_type_tag");
        return NULL;
    }
    void *data = NULL;
    if (!ok || napi_unwrap(env, self, &data) != napi_ok || !data) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "not a NativeLink");
        return NULL;
    }
    return data;
}

static napi_value link_fd(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeLink.fd";
    struct tsbpf_link *l = this_link(env, info, op);
    if (!l)
        return NULL;
    if (!l->link)
        return tsbpf_throw_custom(env, false, op, 0, "ECLOSED", "link is destroyed");
    return tsbpf_int32(env, bpf_link__fd(l->link));
}

static napi_value link_destroy(napi_env env, napi_callback_info info)
{
    struct tsbpf_link *l = this_link(env, info, "NativeLink.destroy");
    if (!l)
        return NULL;
    if (l->link) {
        tsbpf_log_reset();
        /* libbpf frees the link even when detaching fails. */
        int err = bpf_link__destroy(l->link);
        l->link = NULL;
        release_owner(env, l);
        if (err)
            return tsbpf_throw(env, "bpf_link__destroy", err);
    }
    return tsbpf_undefined(env);
}

/* new NativeLink(external): only the attach functions construct links. */
static napi_value construct(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeLink";
    napi_value argv[1], self;
    if (!tsbpf_get_args(env, info, op, 1, argv, &self))
        return NULL;
    napi_valuetype t;
    TSBPF_NAPI(env, napi_typeof(env, argv[0], &t));
    if (t != napi_external)
        return tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                                  "links are created by the attach functions");
    void *data;
    TSBPF_NAPI(env, napi_get_value_external(env, argv[0], &data));
    TSBPF_NAPI(env, napi_type_tag_object(env, self, &link_tag));
    /* Last, so that a failure leaves the link to the caller. */
    TSBPF_NAPI(env, napi_wrap(env, self, data, finalize, NULL, NULL));
    return self;
}

bool tsbpf_link_init(napi_env env)
{
    const napi_property_descriptor props[] = {
        {"fd", NULL, link_fd, NULL, NULL, NULL, napi_default_method, NULL},
        {"destroy", NULL, link_destroy, NULL, NULL, NULL, napi_default_method, NULL},
    };
    napi_value ctor;
    struct tsbpf_state *state = tsbpf_state(env);
    if (!state)
        return false;
    return napi_define_class(env, "NativeLink", NAPI_AUTO_LENGTH, construct, NULL,
                             sizeof(props) / sizeof(props[0]), props, &ctor) == napi_ok &&
           napi_create_reference(env, ctor, 1, &state->link_ctor) == napi_ok;
}

/*
 * Wrap a new bpf_link, or throw for a failed attach (link NULL, errno set).
 * A non-NULL owner is kept alive until the link is destroyed.
 */
static napi_value wrap_link_owned(napi_env env, struct bpf_link *link, int err, const char *op,
                                  napi_value owner)
{
    if (!link)
        return tsbpf_throw(env, op, err ? err : EINVAL);

    struct tsbpf_link *l = malloc(sizeof(*l));
    if (!l) {
        bpf_link__destroy(link);
        return tsbpf_throw(env, op, ENOMEM);
    }
    l->link = link;
    l->owner = NULL;
    if (owner && napi_create_reference(env, owner, 1, &l->owner) != napi_ok) {
        destroy_link(l);
        free(l);
        return tsbpf_throw_napi(env, "napi_create_reference");
    }

    struct tsbpf_state *state = tsbpf_state(env);
    napi_value ctor, ext, obj;
    if (!state || napi_get_reference_value(env, state->link_ctor, &ctor) != napi_ok ||
        napi_create_external(env, l, NULL, NULL, &ext) != napi_ok ||
        napi_new_instance(env, ctor, 1, &ext, &obj) != napi_ok) {
        /* The constructor wraps l last, so l is not owned by any object here. */
        destroy_link(l);
        release_owner(env, l);
        free(l);
        return tsbpf_throw_napi(env, "napi_new_instance");
    }
    return obj;
}

static napi_value wrap_link(napi_env env, struct bpf_link *link, int err, const char *op)
{
    return wrap_link_owned(env, link, err, op, NULL);
}

napi_value tsbpf_link_wrap(napi_env env, struct bpf_link *link, int err, const char *op)
{
    return wrap_link(env, link, err, op);
}

/*
 * attachTracepoint(obj, program, category, event[, cookie]): the cookie is
 * what bpf_get_attach_cookie() returns in the program (Linux 5.15+).
 */
napi_value tsbpf_attach_tracepoint(napi_env env, napi_callback_info info)
{
    static const char op[] = "attachTracepoint";
    napi_value argv[5];
    char *name = NULL, *category = NULL, *event = NULL;
    uint64_t cookie = 0;
    napi_valuetype t = napi_undefined;
    napi_value result = NULL;
    if (!tsbpf_get_args_opt(env, info, op, 4, 5, argv) ||
        !tsbpf_arg_string(env, argv[1], op, "program", &name) ||
        !tsbpf_arg_string(env, argv[2], op, "category", &category) ||
        !tsbpf_arg_string(env, argv[3], op, "event", &event))
        goto out;
    if (argv[4] && napi_typeof(env, argv[4], &t) == napi_ok && t != napi_undefined &&
        !tsbpf_arg_uint64(env, argv[4], op, "cookie", &cookie))
        goto out;
    struct bpf_program *prog = tsbpf_object_program(env, argv[0], op, name);
    if (!prog)
        goto out;
    tsbpf_log_reset();
    errno = 0;
    LIBBPF_OPTS(bpf_tracepoint_opts, opts, .bpf_cookie = (__u64)cookie);
    struct bpf_link *link = bpf_program__attach_tracepoint_opts(prog, category, event, &opts);
    result = wrap_link(env, link, errno, "bpf_program__attach_tracepoint");
out:
    free(name);
    free(category);
    free(event);
    return result;
}

/* attachRawTracepoint(obj, program, event) */
napi_value tsbpf_attach_raw_tracepoint(napi_env env, napi_callback_info info)
{
    static const char op[] = "attachRawTracepoint";
    napi_value argv[3];
    char *name = NULL, *event = NULL;
    napi_value result = NULL;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_string(env, argv[1], op, "program", &name) ||
        !tsbpf_arg_string(env, argv[2], op, "event", &event))
        goto out;
    struct bpf_program *prog = tsbpf_object_program(env, argv[0], op, name);
    if (!prog)
        goto out;
    tsbpf_log_reset();
    errno = 0;
    struct bpf_link *link = bpf_program__attach_raw_tracepoint(prog, event);
    result = wrap_link(env, link, errno, "bpf_program__attach_raw_tracepoint");
out:
    free(name);
    free(event);
    return result;
}

/* attachKprobe(obj, program, { func, offset, retprobe, cookie }) */
napi_value tsbpf_attach_kprobe(napi_env env, napi_callback_info info)
{
    static const char op[] = "attachKprobe";
    napi_value argv[3], v;
    char *name = NULL, *func = NULL;
    int64_t offset;
    uint64_t cookie;
    bool retprobe;
    napi_value result = NULL;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_string(env, argv[1], op, "program", &name) ||
        !tsbpf_get_prop(env, argv[2], op, "cookie", &v) ||
        !tsbpf_arg_uint64(env, v, op, "cookie", &cookie) ||
        !tsbpf_get_prop(env, argv[2], op, "func", &v) ||
        !tsbpf_arg_string(env, v, op, "func", &func) ||
        !tsbpf_get_prop(env, argv[2], op, "offset", &v) ||
        !tsbpf_arg_int64(env, v, op, "offset", &offset) ||
        !tsbpf_get_prop(env, argv[2], op, "retprobe", &v) ||
        !tsbpf_arg_bool(env, v, op, "retprobe", &retprobe))
        goto out;
    if (offset < 0) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "offset must not be negative");
        goto out;
    }
    struct bpf_program *prog = tsbpf_object_program(env, argv[0], op, name);
    if (!prog)
        goto out;
    tsbpf_log_reset();
    LIBBPF_OPTS(bpf_kprobe_opts, opts, .offset = (size_t)offset, .retprobe = retprobe,
                .bpf_cookie = (__u64)cookie);
    errno = 0;
    struct bpf_link *link = bpf_program__attach_kprobe_opts(prog, func, &opts);
    result = wrap_link(env, link, errno, "bpf_program__attach_kprobe_opts");
out:
    free(name);
    free(func);
    return result;
}

/* attachUprobe(obj, program, { path, offset, pid, retprobe, refCtrOffset, cookie }) */
napi_value tsbpf_attach_uprobe(napi_env env, napi_callback_info info)
{
    static const char op[] = "attachUprobe";
    napi_value argv[3], v;
    char *name = NULL, *path = NULL;
    int64_t offset, ref_ctr_offset;
    uint64_t cookie;
    int32_t pid;
    bool retprobe;
    napi_value result = NULL;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_string(env, argv[1], op, "program", &name) ||
        !tsbpf_get_prop(env, argv[2], op, "cookie", &v) ||
        !tsbpf_arg_uint64(env, v, op, "cookie", &cookie) ||
        !tsbpf_get_prop(env, argv[2], op, "path", &v) ||
        !tsbpf_arg_string(env, v, op, "path", &path) ||
        !tsbpf_get_prop(env, argv[2], op, "offset", &v) ||
        !tsbpf_arg_int64(env, v, op, "offset", &offset) ||
        !tsbpf_get_prop(env, argv[2], op, "pid", &v) || !tsbpf_arg_int32(env, v, op, "pid", &pid) ||
        !tsbpf_get_prop(env, argv[2], op, "retprobe", &v) ||
        !tsbpf_arg_bool(env, v, op, "retprobe", &retprobe) ||
        !tsbpf_get_prop(env, argv[2], op, "refCtrOffset", &v) ||
        !tsbpf_arg_int64(env, v, op, "refCtrOffset", &ref_ctr_offset))
        goto out;
    if (offset < 0 || ref_ctr_offset < 0) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "offsets must not be negative");
        goto out;
    }
    /* libbpf reads 0 as "this process": tsbpf spells "every process" -1. */
    if (pid < -1 || pid == 0) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                           "pid must be -1 (every process) or a pid");
        goto out;
    }
    struct bpf_program *prog = tsbpf_object_program(env, argv[0], op, name);
    if (!prog)
        goto out;
    tsbpf_log_reset();
    /* func_name stays NULL: the offset is a file offset resolved by the caller. */
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .ref_ctr_offset = (size_t)ref_ctr_offset,
                .retprobe = retprobe, .bpf_cookie = (__u64)cookie);
    errno = 0;
    struct bpf_link *link =
        bpf_program__attach_uprobe_opts(prog, (pid_t)pid, path, (size_t)offset, &opts);
    result = wrap_link(env, link, errno, "bpf_program__attach_uprobe_opts");
out:
    free(name);
    free(path);
    return result;
}

/* attachUsdt(obj, program, { pid, path, provider, name, cookie }) */
napi_value tsbpf_attach_usdt(napi_env env, napi_callback_info info)
{
    static const char op[] = "attachUsdt";
    napi_value argv[3], v;
    char *prog_name = NULL, *path = NULL, *provider = NULL, *probe = NULL;
    uint64_t cookie;
    int32_t pid;
    napi_value result = NULL;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_string(env, argv[1], op, "program", &prog_name) ||
        !tsbpf_get_prop(env, argv[2], op, "pid", &v) || !tsbpf_arg_int32(env, v, op, "pid", &pid) ||
        !tsbpf_get_prop(env, argv[2], op, "path", &v) ||
        !tsbpf_arg_string(env, v, op, "path", &path) ||
        !tsbpf_get_prop(env, argv[2], op, "provider", &v) ||
        !tsbpf_arg_string(env, v, op, "provider", &provider) ||
        !tsbpf_get_prop(env, argv[2], op, "name", &v) ||
        !tsbpf_arg_string(env, v, op, "name", &probe) ||
        !tsbpf_get_prop(env, argv[2], op, "cookie", &v) ||
        !tsbpf_arg_uint64(env, v, op, "cookie", &cookie))
        goto out;
    if (pid < -1 || pid == 0) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                           "pid must be -1 (every process) or a pid");
        goto out;
    }
    struct bpf_program *prog = tsbpf_object_program(env, argv[0], op, prog_name);
    if (!prog)
        goto out;
    tsbpf_log_reset();
    LIBBPF_OPTS(bpf_usdt_opts, opts, .usdt_cookie = (__u64)cookie);
    errno = 0;
    struct bpf_link *link =
        bpf_program__attach_usdt(prog, (pid_t)pid, path, provider, probe, &opts);
    /* The link uses the object's USDT manager when it is destroyed. */
    result = wrap_link_owned(env, link, errno, "bpf_program__attach_usdt", argv[0]);
out:
    free(prog_name);
    free(path);
    free(provider);
    free(probe);
    return result;
}
