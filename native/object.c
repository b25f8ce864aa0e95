#include "object.h"

#include "util.h"

#include <bpf/btf.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The verifier log of one program, kept after a successful load. */
struct saved_log {
    char *program;
    char *text;
    struct saved_log *next;
};

struct tsbpf_object {
    /* NULL once closed. */
    struct bpf_object *obj;
    struct saved_log *logs;
    bool load_attempted;
};

/* Marks JS objects that wrap a struct tsbpf_object. */
static const napi_type_tag object_tag = {0x7473627066206f62ULL, 0x6a6563740a5f0001ULL};

/* The kernel rejects larger verifier log buffers (UINT_MAX >> 2). */
#define MAX_LOG_SIZE (UINT_MAX >> 2)
#define MIN_LOG_SIZE 128

static void free_logs(struct tsbpf_object *o)
{
    while (o->logs) {
        struct saved_log *next = o->logs->next;
        free(o->logs->program);
        free(o->logs->text);
        free(o->logs);
        o->logs = next;
    }
}

static void close_object(struct tsbpf_object *o)
{
    free_logs(o);
    if (o->obj) {
        bpf_object__close(o->obj);
        o->obj = NULL;
    }
}

static void finalize(napi_env env, void *data, void *hint)
{
    (void)env;
    (void)hint;
    struct tsbpf_object *o = data;
    close_object(o);
    free(o);
}

/* The struct behind `value`; NULL (exception pending) if not a NativeObject or closed. */
static struct tsbpf_object *unwrap(napi_env env, napi_value value, const char *op,
                                   bool allow_closed)
{
    bool ok = false;
    napi_valuetype t;
    if (napi_typeof(env, value, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return NULL;
    }
    if (t == napi_object && napi_check_object_type_tag(env, value, &object_tag, &ok) != napi_ok) {
        tsbpf_throw_napi(env, "napi_check_object_type_tag");
        return NULL;
    }
    void *data = NULL;
    if (!ok || napi_unwrap(env, value, &data) != napi_ok || !data) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "not a NativeObject");
        return NULL;
    }
    struct tsbpf_object *o = data;
    if (!o->obj && !allow_closed) {
        tsbpf_throw_custom(env, false, op, 0, "ECLOSED", "object is closed");
        return NULL;
    }
    return o;
}

/* Method prologue: `this` as an open object plus `argc` arguments. */
static struct tsbpf_object *method(napi_env env, napi_callback_info info, const char *op,
                                   size_t argc, napi_value *argv)
{
    napi_value self;
    if (!tsbpf_get_args(env, info, op, argc, argv, &self))
        return NULL;
    return unwrap(env, self, op, false);
}

static struct bpf_program *find_program(napi_env env, struct tsbpf_object *o, const char *op,
                                        const char *name)
{
    struct bpf_program *prog = bpf_object__find_program_by_name(o->obj, name);
    if (!prog)
        tsbpf_throw_custom(env, false, op, ENOENT, "ENOENT", "no program named '%s'", name);
    return prog;
}

static struct bpf_map *find_map(napi_env env, struct tsbpf_object *o, const char *op,
                                const char *name)
{
    struct bpf_map *map = bpf_object__find_map_by_name(o->obj, name);
    if (!map)
        tsbpf_throw_custom(env, false, op, ENOENT, "ENOENT", "no map named '%s'", name);
    return map;
}

/* Program named by string argument `v`; NULL with an exception pending. */
static struct bpf_program *program_arg(napi_env env, struct tsbpf_object *o, const char *op,
                                       napi_value v)
{
    char *name;
    if (!tsbpf_arg_string(env, v, op, "program", &name))
        return NULL;
    struct bpf_program *prog = find_program(env, o, op, name);
    free(name);
    return prog;
}

static struct bpf_map *map_arg(napi_env env, struct tsbpf_object *o, const char *op, napi_value v)
{
    char *name;
    if (!tsbpf_arg_string(env, v, op, "map", &name))
        return NULL;
    struct bpf_map *map = find_map(env, o, op, name);
    free(name);
    return map;
}

/* Method prologue for methods on one map: `this` as an open object, argv[0] the map's name. */
static struct bpf_map *map_method(napi_env env, napi_callback_info info, const char *op,
                                  size_t argc, napi_value *argv)
{
    struct tsbpf_object *o = method(env, info, op, argc, argv);
    return o ? map_arg(env, o, op, argv[0]) : NULL;
}

/* undefined, or the error of the libbpf call `fn` when err is not 0. */
static napi_value done(napi_env env, int err, const char *fn)
{
    return err ? tsbpf_throw(env, fn, err) : tsbpf_undefined(env);
}

struct bpf_program *tsbpf_object_program(napi_env env, napi_value value, const char *op,
                                         const char *name)
{
    struct tsbpf_object *o = unwrap(env, value, op, false);
    return o ? find_program(env, o, op, name) : NULL;
}

struct bpf_program *tsbpf_object_program_arg(napi_env env, napi_value obj, napi_value name,
                                             const char *op)
{
    char *s = NULL;
    if (!tsbpf_arg_string(env, name, op, "program", &s))
        return NULL;
    struct bpf_program *prog = tsbpf_object_program(env, obj, op, s);
    free(s);
    return prog;
}

/*
 * The optional third argument of the constructor, { btfCustomPath }: a BTF
 * file libbpf resolves the CO-RE relocations against instead of the kernel's
 * (libbpf 0.5+). *path stays NULL when absent.
 */
static bool open_options(napi_env env, napi_value v, const char *op, char **path)
{
    *path = NULL;
    napi_valuetype t;
    if (napi_typeof(env, v, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return false;
    }
    if (t == napi_undefined || t == napi_null)
        return true;
    if (t != napi_object) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "options must be an object");
        return false;
    }
    napi_value p;
    if (napi_get_named_property(env, v, "btfCustomPath", &p) != napi_ok ||
        napi_typeof(env, p, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_named_property");
        return false;
    }
    if (t == napi_undefined || t == napi_null)
        return true;
    return tsbpf_arg_string(env, p, op, "btfCustomPath", path);
}

/* new NativeObject(elf, name, { btfCustomPath }?) */
static napi_value construct(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject";
    napi_value target;
    TSBPF_NAPI(env, napi_get_new_target(env, info, &target));
    if (!target)
        return tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                                  "class constructor cannot be invoked without 'new'");

    napi_value argv[3], self;
    size_t argc = 3;
    TSBPF_NAPI(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
    /* (N-API fills the arguments not given with undefined.) */
    if (argc < 2)
        return tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                                  "expected 2 argument(s), got %zu", argc);
    void *elf;
    size_t size;
    if (!tsbpf_arg_bytes(env, argv[0], op, "elf", false, &elf, &size))
        return NULL;
    if (size == 0)
        return tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "elf is empty");
    char *name, *btf_path;
    if (!tsbpf_arg_string(env, argv[1], op, "name", &name))
        return NULL;
    if (!open_options(env, argv[2], op, &btf_path)) {
        free(name);
        return NULL;
    }

    struct tsbpf_object *o = calloc(1, sizeof(*o));
    if (!o) {
        free(name);
        free(btf_path);
        return tsbpf_throw(env, op, ENOMEM);
    }

    /* libbpf copies all it needs out of the ELF (and the path) before open returns. */
    tsbpf_log_reset();
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name, .btf_custom_path = btf_path);
    o->obj = bpf_object__open_mem(elf, size, &opts);
    int err = errno;
    free(name);
    free(btf_path);
    if (!o->obj) {
        free(o);
        return tsbpf_throw(env, "bpf_object__open_mem", err ? err : EINVAL);
    }

    if (napi_wrap(env, self, o, finalize, NULL, NULL) != napi_ok) {
        close_object(o);
        free(o);
        return tsbpf_throw_napi(env, "napi_wrap");
    }
    TSBPF_NAPI(env, napi_type_tag_object(env, self, &object_tag));
    return self;
}

static napi_value programs(napi_env env, napi_callback_info info)
{
    struct tsbpf_object *o = method(env, info, "NativeObject.programs", 0, NULL);
    if (!o)
        return NULL;
    napi_value list;
    TSBPF_NAPI(env, napi_create_array(env, &list));
    uint32_t i = 0;
    struct bpf_program *prog;
    bpf_object__for_each_program (prog, o->obj) {
        napi_value item;
        TSBPF_NAPI(env, napi_create_object(env, &item));
        if (!tsbpf_set_prop(env, item, "name", tsbpf_string(env, bpf_program__name(prog))) ||
            !tsbpf_set_prop(env, item, "section",
                            tsbpf_string(env, bpf_program__section_name(prog))) ||
            !tsbpf_set_prop(env, item, "type", tsbpf_uint32(env, bpf_program__type(prog))) ||
            !tsbpf_set_prop(env, item, "insnCount",
                            tsbpf_uint32(env, (uint32_t)bpf_program__insn_cnt(prog))))
            return NULL;
        TSBPF_NAPI(env, napi_set_element(env, list, i++, item));
    }
    return list;
}

static napi_value maps(napi_env env, napi_callback_info info)
{
    struct tsbpf_object *o = method(env, info, "NativeObject.maps", 0, NULL);
    if (!o)
        return NULL;
    napi_value list;
    TSBPF_NAPI(env, napi_create_array(env, &list));
    uint32_t i = 0;
    struct bpf_map *map;
    bpf_object__for_each_map (map, o->obj) {
        int fd = bpf_map__fd(map);
        napi_value item;
        TSBPF_NAPI(env, napi_create_object(env, &item));
        if (!tsbpf_set_prop(env, item, "name", tsbpf_string(env, bpf_map__name(map))) ||
            !tsbpf_set_prop(env, item, "type", tsbpf_uint32(env, bpf_map__type(map))) ||
            !tsbpf_set_prop(env, item, "keySize", tsbpf_uint32(env, bpf_map__key_size(map))) ||
            !tsbpf_set_prop(env, item, "valueSize", tsbpf_uint32(env, bpf_map__value_size(map))) ||
            !tsbpf_set_prop(env, item, "maxEntries",
                            tsbpf_uint32(env, bpf_map__max_entries(map))) ||
            !tsbpf_set_prop(env, item, "flags", tsbpf_uint32(env, bpf_map__map_flags(map))) ||
            !tsbpf_set_prop(env, item, "fd", tsbpf_int32(env, fd < 0 ? -1 : fd)) ||
            !tsbpf_set_prop(env, item, "btfKeyTypeId",
                            tsbpf_uint32(env, bpf_map__btf_key_type_id(map))) ||
            !tsbpf_set_prop(env, item, "btfValueTypeId",
                            tsbpf_uint32(env, bpf_map__btf_value_type_id(map))))
            return NULL;
        /* Set by bpf_map__set_pin_path, or at open for a BTF map definition
         * with __uint(pinning, LIBBPF_PIN_BY_NAME). */
        const char *pin = bpf_map__pin_path(map);
        if (!tsbpf_set_prop(env, item, "pinPath", pin ? tsbpf_string(env, pin) : tsbpf_null(env)))
            return NULL;
        TSBPF_NAPI(env, napi_set_element(env, list, i++, item));
    }
    return list;
}

static napi_value set_autoload(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.setAutoload";
    napi_value argv[2];
    struct tsbpf_object *o = method(env, info, op, 2, argv);
    if (!o)
        return NULL;
    struct bpf_program *prog = program_arg(env, o, op, argv[0]);
    bool autoload;
    if (!prog || !tsbpf_arg_bool(env, argv[1], op, "autoload", &autoload))
        return NULL;
    tsbpf_log_reset();
    return done(env, bpf_program__set_autoload(prog, autoload), "bpf_program__set_autoload");
}

static napi_value set_program_type(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.setProgramType";
    napi_value argv[3];
    struct tsbpf_object *o = method(env, info, op, 3, argv);
    if (!o)
        return NULL;
    struct bpf_program *prog = program_arg(env, o, op, argv[0]);
    uint32_t type, attach_type;
    if (!prog || !tsbpf_arg_uint32(env, argv[1], op, "progType", &type) ||
        !tsbpf_arg_uint32(env, argv[2], op, "expectedAttachType", &attach_type))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_program__set_type(prog, (enum bpf_prog_type)type);
    if (err)
        return tsbpf_throw(env, "bpf_program__set_type", err);
    err = bpf_program__set_expected_attach_type(prog, (enum bpf_attach_type)attach_type);
    if (err)
        return tsbpf_throw(env, "bpf_program__set_expected_attach_type", err);
    return tsbpf_undefined(env);
}

static napi_value set_attach_target(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.setAttachTarget";
    napi_value argv[2];
    struct tsbpf_object *o = method(env, info, op, 2, argv);
    if (!o)
        return NULL;
    struct bpf_program *prog = program_arg(env, o, op, argv[0]);
    char *fn;
    if (!prog || !tsbpf_arg_string(env, argv[1], op, "targetFn", &fn))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_program__set_attach_target(prog, 0, fn);
    free(fn);
    return done(env, err, "bpf_program__set_attach_target");
}

static napi_value reuse_map_fd(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.reuseMapFd";
    napi_value argv[2];
    struct bpf_map *map = map_method(env, info, op, 2, argv);
    int32_t fd;
    if (!map || !tsbpf_arg_int32(env, argv[1], op, "fd", &fd))
        return NULL;
    tsbpf_log_reset();
    return done(env, bpf_map__reuse_fd(map, fd), "bpf_map__reuse_fd");
}

/*
 * setMapPinPath(map, path): at load, reuse the map pinned at path if there
 * is one (it must match), else create it and pin it there (bcc's
 * BPF_TABLE_PINNED).
 */
static napi_value set_map_pin_path(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.setMapPinPath";
    napi_value argv[2];
    struct bpf_map *map = map_method(env, info, op, 2, argv);
    char *path;
    if (!map || !tsbpf_arg_string(env, argv[1], op, "path", &path))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_map__set_pin_path(map, path);
    free(path);
    return done(env, err, "bpf_map__set_pin_path");
}

/*
 * mapInitialValue(map): a copy of the data a global-data map (.rodata,
 * .data, .bss, .kconfig) starts with, or null for a map that has none.
 */
static napi_value map_initial_value(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.mapInitialValue";
    napi_value argv[1];
    struct bpf_map *map = map_method(env, info, op, 1, argv);
    if (!map)
        return NULL;
    size_t size = 0;
    const void *value = bpf_map__initial_value(map, &size);
    if (!value)
        return tsbpf_null(env);
    void *data;
    napi_value ab, array;
    TSBPF_NAPI(env, napi_create_arraybuffer(env, size, &data, &ab));
    memcpy(data, value, size);
    TSBPF_NAPI(env, napi_create_typedarray(env, napi_uint8_array, size, ab, 0, &array));
    return array;
}

/*
 * setMapInitialValue(map, bytes): what a global-data map holds when it is
 * created (before load; bytes must be the map's value size). The kernel
 * freezes .rodata after load, and the verifier then treats its values as
 * constants.
 */
static napi_value set_map_initial_value(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.setMapInitialValue";
    napi_value argv[2];
    struct bpf_map *map = map_method(env, info, op, 2, argv);
    void *data;
    size_t len;
    if (!map || !tsbpf_arg_bytes(env, argv[1], op, "value", false, &data, &len))
        return NULL;
    tsbpf_log_reset();
    return done(env, bpf_map__set_initial_value(map, data, len), "bpf_map__set_initial_value");
}

/* setMapMaxEntries(map, n): the map's size, before load. */
static napi_value set_map_max_entries(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.setMapMaxEntries";
    napi_value argv[2];
    struct bpf_map *map = map_method(env, info, op, 2, argv);
    uint32_t n;
    if (!map || !tsbpf_arg_uint32(env, argv[1], op, "maxEntries", &n))
        return NULL;
    tsbpf_log_reset();
    return done(env, bpf_map__set_max_entries(map, n), "bpf_map__set_max_entries");
}

/*
 * setProgramIfindex(program, ifindex): load the program for offload to that
 * network device (bcc's load_func device); 0 for none. The kernel takes XDP
 * and SCHED_CLS programs only, and only on a NIC whose driver offloads.
 */
static napi_value set_program_ifindex(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.setProgramIfindex";
    napi_value argv[2];
    struct tsbpf_object *o = method(env, info, op, 2, argv);
    if (!o)
        return NULL;
    struct bpf_program *prog = program_arg(env, o, op, argv[0]);
    uint32_t ifindex;
    if (!prog || !tsbpf_arg_uint32(env, argv[1], op, "ifindex", &ifindex))
        return NULL;
    tsbpf_log_reset();
    bpf_program__set_ifindex(prog, ifindex);
    return tsbpf_undefined(env);
}

/* setMapIfindex(map, ifindex): create the map on that network device (offload; bcc's device). */
static napi_value set_map_ifindex(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.setMapIfindex";
    napi_value argv[2];
    struct bpf_map *map = map_method(env, info, op, 2, argv);
    uint32_t ifindex;
    if (!map || !tsbpf_arg_uint32(env, argv[1], op, "ifindex", &ifindex))
        return NULL;
    tsbpf_log_reset();
    return done(env, bpf_map__set_ifindex(map, ifindex), "bpf_map__set_ifindex");
}

/* setKversion(version): the kernel version kprobe programs are loaded with (kernels before 5.0
 * check it). */
static napi_value set_kversion(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.setKversion";
    napi_value argv[1];
    struct tsbpf_object *o = method(env, info, op, 1, argv);
    uint32_t version;
    if (!o || !tsbpf_arg_uint32(env, argv[0], op, "version", &version))
        return NULL;
    tsbpf_log_reset();
    return done(env, bpf_object__set_kversion(o->obj, version), "bpf_object__set_kversion");
}

/* Per-program verifier log buffers of one load. */
struct load_buf {
    struct bpf_program *prog;
    char *buf;
};

/*
 * With no buffer of our own, libbpf prints a failed program's log between
 * these markers; copy it out of libbpf's log.
 */
static char *log_from_libbpf_text(void)
{
    static const char begin[] = "-- BEGIN PROG LOAD LOG --\n";
    static const char end[] = "-- END PROG LOAD LOG --";
    const char *text = tsbpf_log_text();
    const char *b = strstr(text, begin);
    if (!b)
        return NULL;
    b += strlen(begin);
    const char *e = strstr(b, end);
    size_t n = e ? (size_t)(e - b) : strlen(b);
    return strndup(b, n);
}

static napi_value load_failed(napi_env env, int err, struct load_buf *bufs, size_t n,
                              uint32_t log_level)
{
    const char *program = tsbpf_log_failed_program();
    const struct load_buf *failed = NULL;
    if (program) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(bpf_program__name(bufs[i].prog), program) == 0)
                failed = &bufs[i];
    } else if (log_level == 0) {
        /* Only the program that failed was retried with a log. */
        for (size_t i = 0; i < n && !failed; i++)
            if (bufs[i].buf && bufs[i].buf[0])
                failed = &bufs[i];
        if (failed)
            program = bpf_program__name(failed->prog);
    }
    char *from_text = NULL;
    const char *vlog = "";
    if (failed && failed->buf)
        vlog = failed->buf;
    else if ((from_text = log_from_libbpf_text()))
        vlog = from_text;
    napi_value r = tsbpf_throw_load(env, "bpf_object__load", err, vlog, program);
    free(from_text);
    return r;
}

static bool save_log(struct tsbpf_object *o, const char *program, const char *text)
{
    struct saved_log *s = calloc(1, sizeof(*s));
    if (!s)
        return false;
    s->program = strdup(program);
    s->text = strdup(text);
    if (!s->program || !s->text) {
        free(s->program);
        free(s->text);
        free(s);
        return false;
    }
    s->next = o->logs;
    o->logs = s;
    return true;
}

/* load({ logLevel, logSize }) */
static napi_value load(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.load";
    napi_value argv[1], v;
    struct tsbpf_object *o = method(env, info, op, 1, argv);
    if (!o)
        return NULL;
    uint32_t log_level, log_size;
    if (!tsbpf_get_prop(env, argv[0], op, "logLevel", &v) ||
        !tsbpf_arg_uint32(env, v, op, "logLevel", &log_level) ||
        !tsbpf_get_prop(env, argv[0], op, "logSize", &v) ||
        !tsbpf_arg_uint32(env, v, op, "logSize", &log_size))
        return NULL;
    if (log_size > MAX_LOG_SIZE)
        log_size = MAX_LOG_SIZE;
    else if (log_size && log_size < MIN_LOG_SIZE)
        log_size = MIN_LOG_SIZE;

    tsbpf_log_reset();
    size_t n = 0;
    struct bpf_program *prog;
    bpf_object__for_each_program (prog, o->obj)
        n++;
    struct load_buf *bufs = calloc(n ? n : 1, sizeof(*bufs));
    if (!bufs)
        return tsbpf_throw(env, op, ENOMEM);

    napi_value result = NULL;
    int err = 0;
    size_t count = 0;
    /* libbpf refuses to set logs once a load was attempted; let it report the reload. */
    if (!o->load_attempted) {
        bpf_object__for_each_program (prog, o->obj) {
            if (!bpf_program__autoload(prog))
                continue;
            struct load_buf *b = &bufs[count++];
            b->prog = prog;
            if (log_size) {
                b->buf = malloc(log_size);
                if (!b->buf) {
                    result = tsbpf_throw(env, op, ENOMEM);
                    goto out;
                }
                b->buf[0] = '\0';
                err = bpf_program__set_log_buf(prog, b->buf, log_size);
                if (err) {
                    result = tsbpf_throw(env, "bpf_program__set_log_buf", err);
                    goto out;
                }
            }
            err = bpf_program__set_log_level(prog, log_level);
            if (err) {
                result = tsbpf_throw(env, "bpf_program__set_log_level", err);
                goto out;
            }
        }
    }

    o->load_attempted = true;
    sigset_t held;
    tsbpf_hold_signals(&held);
    err = bpf_object__load(o->obj);
    tsbpf_release_signals(&held);
    if (err) {
        result = load_failed(env, err, bufs, count, log_level);
        goto out;
    }
    if (log_level > 0) {
        for (size_t i = 0; i < count; i++) {
            if (bufs[i].buf && !save_log(o, bpf_program__name(bufs[i].prog), bufs[i].buf)) {
                result = tsbpf_throw(env, op, ENOMEM);
                goto out;
            }
        }
    }
    result = tsbpf_undefined(env);

out:
    /*
     * libbpf keeps the buffer pointers but only reads them while loading,
     * and an object is never loaded twice.
     */
    for (size_t i = 0; i < count; i++)
        free(bufs[i].buf);
    free(bufs);
    return result;
}

static napi_value verifier_log(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.verifierLog";
    napi_value argv[1];
    struct tsbpf_object *o = method(env, info, op, 1, argv);
    if (!o)
        return NULL;
    struct bpf_program *prog = program_arg(env, o, op, argv[0]);
    if (!prog)
        return NULL;
    const char *name = bpf_program__name(prog);
    for (struct saved_log *s = o->logs; s; s = s->next)
        if (strcmp(s->program, name) == 0)
            return tsbpf_string(env, s->text);
    return tsbpf_string(env, "");
}

static napi_value program_fd(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.programFd";
    napi_value argv[1];
    struct tsbpf_object *o = method(env, info, op, 1, argv);
    if (!o)
        return NULL;
    struct bpf_program *prog = program_arg(env, o, op, argv[0]);
    if (!prog)
        return NULL;
    int fd = bpf_program__fd(prog);
    return tsbpf_int32(env, fd < 0 ? -1 : fd);
}

static napi_value map_fd(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.mapFd";
    napi_value argv[1];
    struct tsbpf_object *o = method(env, info, op, 1, argv);
    if (!o)
        return NULL;
    struct bpf_map *map = map_arg(env, o, op, argv[0]);
    if (!map)
        return NULL;
    int fd = bpf_map__fd(map);
    return tsbpf_int32(env, fd < 0 ? -1 : fd);
}

/*
 * programInsns(program): a copy of the program's instructions as libbpf holds
 * them (struct bpf_insn, 8 bytes each). After a load attempt these are the
 * final ones, CO-RE and map relocations applied, as given to the kernel
 * (subprograms appended); before it, the ELF's.
 */
static napi_value program_insns(napi_env env, napi_callback_info info)
{
    static const char op[] = "NativeObject.programInsns";
    napi_value argv[1];
    struct tsbpf_object *o = method(env, info, op, 1, argv);
    if (!o)
        return NULL;
    struct bpf_program *prog = program_arg(env, o, op, argv[0]);
    if (!prog)
        return NULL;
    const struct bpf_insn *insns = bpf_program__insns(prog);
    size_t size = insns ? bpf_program__insn_cnt(prog) * sizeof(*insns) : 0;
    void *data;
    napi_value ab, array;
    TSBPF_NAPI(env, napi_create_arraybuffer(env, size, &data, &ab));
    if (size)
        memcpy(data, insns, size);
    TSBPF_NAPI(env, napi_create_typedarray(env, napi_uint8_array, size, ab, 0, &array));
    return array;
}

static napi_value btf_raw(napi_env env, napi_callback_info info)
{
    struct tsbpf_object *o = method(env, info, "NativeObject.btfRaw", 0, NULL);
    if (!o)
        return NULL;
    struct btf *btf = bpf_object__btf(o->obj);
    if (!btf)
        return tsbpf_null(env);
    tsbpf_log_reset();
    uint32_t size = 0;
    const void *raw = btf__raw_data(btf, &size);
    if (!raw)
        return tsbpf_throw(env, "btf__raw_data", errno ? errno : ENOMEM);
    void *data;
    napi_value ab, array;
    TSBPF_NAPI(env, napi_create_arraybuffer(env, size, &data, &ab));
    memcpy(data, raw, size);
    TSBPF_NAPI(env, napi_create_typedarray(env, napi_uint8_array, size, ab, 0, &array));
    return array;
}

static napi_value close_method(napi_env env, napi_callback_info info)
{
    napi_value self;
    if (!tsbpf_get_args(env, info, "NativeObject.close", 0, NULL, &self))
        return NULL;
    struct tsbpf_object *o = unwrap(env, self, "NativeObject.close", true);
    if (!o)
        return NULL;
    close_object(o);
    return tsbpf_undefined(env);
}

napi_value tsbpf_object_class(napi_env env)
{
#define METHOD(name, fn)                                                                           \
    {                                                                                              \
        name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL                                \
    }
    const napi_property_descriptor props[] = {
        METHOD("programs", programs),
        METHOD("maps", maps),
        METHOD("setAutoload", set_autoload),
        METHOD("setProgramType", set_program_type),
        METHOD("setAttachTarget", set_attach_target),
        METHOD("reuseMapFd", reuse_map_fd),
        METHOD("setMapPinPath", set_map_pin_path),
        METHOD("mapInitialValue", map_initial_value),
        METHOD("setMapInitialValue", set_map_initial_value),
        METHOD("setMapMaxEntries", set_map_max_entries),
        METHOD("setKversion", set_kversion),
        METHOD("setProgramIfindex", set_program_ifindex),
        METHOD("setMapIfindex", set_map_ifindex),
        METHOD("load", load),
        METHOD("verifierLog", verifier_log),
        METHOD("programFd", program_fd),
        METHOD("mapFd", map_fd),
        METHOD("programInsns", program_insns),
        METHOD("btfRaw", btf_raw),
        METHOD("close", close_method),
    };
#undef METHOD
    napi_value ctor;
    TSBPF_NAPI(env, napi_define_class(env, "NativeObject", NAPI_AUTO_LENGTH, construct, NULL,
                                      sizeof(props) / sizeof(props[0]), props, &ctor));
    return ctor;
}
