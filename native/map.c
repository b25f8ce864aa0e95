/* Map element syscalls on raw map fds, with the buffers checked against the map. */
#include "addon.h"
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <unistd.h>

/* How many bytes the kernel reads or writes for a key and a value of the map. */
struct map_sizes {
    uint32_t key;
    size_t value;
};

static bool is_percpu(uint32_t type)
{
    return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
           type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

/*
 * The sizes of the map: from `known`, the caller's copy of the map's info
 * (a Uint32Array [key_size, value_size, type], which tsbpf's tables read once
 * when they open), or else asked of the kernel (one more syscall per call).
 */
static bool get_sizes(napi_env env, const char *op, int fd, napi_value known, struct map_sizes *s)
{
    uint32_t key_size, value_size, type;
    napi_valuetype t = napi_undefined;
    if (known && napi_typeof(env, known, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return false;
    }
    if (t != napi_undefined) {
        void *data;
        size_t len;
        if (!tsbpf_arg_bytes(env, known, op, "sizes", false, &data, &len))
            return false;
        if (len < 3 * sizeof(uint32_t)) {
            tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                               "sizes is %zu bytes, [key_size, value_size, type] needs 12", len);
            return false;
        }
        const uint32_t *v = data;
        key_size = v[0];
        value_size = v[1];
        type = v[2];
    } else {
        struct bpf_map_info info = {0};
        __u32 len = sizeof(info);
        int err = bpf_obj_get_info_by_fd(fd, &info, &len);
        if (err) {
            tsbpf_throw(env, "bpf_obj_get_info_by_fd", err);
            return false;
        }
        key_size = info.key_size;
        value_size = info.value_size;
        type = info.type;
    }
    s->key = key_size;
    s->value = value_size;
    if (is_percpu(type)) {
        int cpus = libbpf_num_possible_cpus();
        if (cpus < 0) {
            tsbpf_throw(env, "libbpf_num_possible_cpus", cpus);
            return false;
        }
        s->value = ((s->value + 7) / 8 * 8) * (size_t)cpus;
    }
    return true;
}

static bool check_size(napi_env env, const char *op, const char *what, size_t have, size_t need)
{
    if (have >= need && (have > 0 || need == 0))
        return true;
    tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s is %zu bytes, the map needs %zu", what,
                       have, need);
    return false;
}

/*
 * Arguments (fd, key[, value]) checked against the map. Maps without keys
 * (queue, stack, bloom filter) take a NULL key whatever is passed.
 */
static bool map_args(napi_env env, const char *op, napi_value *argv, bool key_nullable,
                     bool with_value, napi_value known, int32_t *fd, void **key, void **value,
                     struct map_sizes *out_sizes)
{
    size_t key_len = 0, value_len = 0;
    struct map_sizes sizes;
    if (!tsbpf_arg_int32(env, argv[0], op, "fd", fd) ||
        !tsbpf_arg_bytes(env, argv[1], op, "key", key_nullable, key, &key_len) ||
        (with_value && !tsbpf_arg_bytes(env, argv[2], op, "value", false, value, &value_len)))
        return false;
    if (!get_sizes(env, op, *fd, known, &sizes))
        return false;
    if (sizes.key == 0)
        *key = NULL;
    else if (*key && !check_size(env, op, "key", key_len, sizes.key))
        return false;
    if (with_value && !check_size(env, op, "value", value_len, sizes.value))
        return false;
    if (out_sizes)
        *out_sizes = sizes;
    return true;
}

/* mapLookup(fd, key, value[, sizes]): false when there is no such key. */
napi_value tsbpf_map_lookup(napi_env env, napi_callback_info info)
{
    static const char op[] = "mapLookup";
    napi_value argv[4];
    int32_t fd;
    void *key, *value;
    if (!tsbpf_get_args_opt(env, info, op, 3, 4, argv) ||
        !map_args(env, op, argv, false, true, argv[3], &fd, &key, &value, NULL))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_map_lookup_elem(fd, key, value);
    if (err == -ENOENT)
        return tsbpf_bool(env, false);
    if (err)
        return tsbpf_throw(env, "bpf_map_lookup_elem", err);
    return tsbpf_bool(env, true);
}

/* mapUpdate(fd, key, value, flags[, sizes]) */
napi_value tsbpf_map_update(napi_env env, napi_callback_info info)
{
    static const char op[] = "mapUpdate";
    napi_value argv[5];
    int32_t fd;
    int64_t flags;
    void *key, *value;
    if (!tsbpf_get_args_opt(env, info, op, 4, 5, argv) ||
        !map_args(env, op, argv, false, true, argv[4], &fd, &key, &value, NULL) ||
        !tsbpf_arg_int64(env, argv[3], op, "flags", &flags))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_map_update_elem(fd, key, value, (__u64)flags);
    if (err)
        return tsbpf_throw(env, "bpf_map_update_elem", err);
    return tsbpf_undefined(env);
}

/*
 * mapLookupAndDelete(fd, key, value[, sizes]): false when there is nothing. With a
 * NULL key on a queue or stack this is a pop (Linux 4.20+).
 */
napi_value tsbpf_map_lookup_and_delete(napi_env env, napi_callback_info info)
{
    static const char op[] = "mapLookupAndDelete";
    napi_value argv[4];
    int32_t fd;
    void *key, *value;
    if (!tsbpf_get_args_opt(env, info, op, 3, 4, argv) ||
        !map_args(env, op, argv, true, true, argv[3], &fd, &key, &value, NULL))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_map_lookup_and_delete_elem(fd, key, value);
    if (err == -ENOENT)
        return tsbpf_bool(env, false);
    if (err)
        return tsbpf_throw(env, "bpf_map_lookup_and_delete_elem", err);
    return tsbpf_bool(env, true);
}

/*
 * mapLookupBatch(fd, inBatch, outBatch, keys, values, count[, sizes]) → { count, done }:
 * up to count entries starting after inBatch (null: from the start), keys and
 * values packed back to back (Linux 5.6+). The batch tokens are opaque and
 * must be at least key_size (and 8) bytes. mapLookupAndDeleteBatch does the
 * same and deletes what it returns, each bucket under its lock (hash maps).
 */
static napi_value lookup_batch(napi_env env, napi_callback_info info, const char *op,
                               bool and_delete)
{
    napi_value argv[7];
    int32_t fd;
    uint32_t count;
    void *in_batch = NULL, *out_batch, *keys, *values;
    size_t in_len = 0, out_len, keys_len, values_len;
    struct map_sizes sizes;
    if (!tsbpf_get_args_opt(env, info, op, 6, 7, argv) ||
        !tsbpf_arg_int32(env, argv[0], op, "fd", &fd) ||
        !tsbpf_arg_bytes(env, argv[1], op, "inBatch", true, &in_batch, &in_len) ||
        !tsbpf_arg_bytes(env, argv[2], op, "outBatch", false, &out_batch, &out_len) ||
        !tsbpf_arg_bytes(env, argv[3], op, "keys", false, &keys, &keys_len) ||
        !tsbpf_arg_bytes(env, argv[4], op, "values", false, &values, &values_len) ||
        !tsbpf_arg_uint32(env, argv[5], op, "count", &count))
        return NULL;
    if (!get_sizes(env, op, fd, argv[6], &sizes))
        return NULL;
    size_t token = sizes.key > 8 ? sizes.key : 8;
    if (!check_size(env, op, "outBatch", out_len, token) ||
        (in_batch && !check_size(env, op, "inBatch", in_len, token)) ||
        !check_size(env, op, "keys", keys_len, (size_t)sizes.key * count) ||
        !check_size(env, op, "values", values_len, sizes.value * count))
        return NULL;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    tsbpf_log_reset();
    __u32 n = count;
    int err = and_delete ? bpf_map_lookup_and_delete_batch(fd, in_batch, out_batch, keys, values,
                                                           &n, &opts)
                         : bpf_map_lookup_batch(fd, in_batch, out_batch, keys, values, &n, &opts);
    bool done = false;
    if (err == -ENOENT)
        done = true; /* the last batch: n entries were still returned */
    else if (err)
        return tsbpf_throw(
            env, and_delete ? "bpf_map_lookup_and_delete_batch" : "bpf_map_lookup_batch", err);
    napi_value result, v;
    if (napi_create_object(env, &result) != napi_ok || napi_create_uint32(env, n, &v) != napi_ok ||
        napi_set_named_property(env, result, "count", v) != napi_ok ||
        napi_get_boolean(env, done, &v) != napi_ok ||
        napi_set_named_property(env, result, "done", v) != napi_ok)
        return tsbpf_throw_napi(env, op);
    return result;
}

napi_value tsbpf_map_lookup_batch(napi_env env, napi_callback_info info)
{
    return lookup_batch(env, info, "mapLookupBatch", false);
}

napi_value tsbpf_map_lookup_and_delete_batch(napi_env env, napi_callback_info info)
{
    return lookup_batch(env, info, "mapLookupAndDeleteBatch", true);
}

/*
 * mapUpdateBatch(fd, keys, values, count, flags[, sizes]) and
 * mapDeleteBatch(fd, keys, count[, sizes]) → how many entries were written or
 * deleted (Linux 5.6+). On an error the entries before the failing one are
 * done: the error carries that count as `done`.
 */
static napi_value write_batch(napi_env env, napi_callback_info info, const char *op, bool update)
{
    napi_value argv[6];
    size_t base = update ? 5 : 3;
    int32_t fd;
    uint32_t count, flags = 0;
    void *keys, *values = NULL;
    size_t keys_len, values_len = 0;
    struct map_sizes sizes;
    if (!tsbpf_get_args_opt(env, info, op, base, base + 1, argv) ||
        !tsbpf_arg_int32(env, argv[0], op, "fd", &fd) ||
        !tsbpf_arg_bytes(env, argv[1], op, "keys", false, &keys, &keys_len))
        return NULL;
    if (update) {
        if (!tsbpf_arg_bytes(env, argv[2], op, "values", false, &values, &values_len) ||
            !tsbpf_arg_uint32(env, argv[3], op, "count", &count) ||
            !tsbpf_arg_uint32(env, argv[4], op, "flags", &flags))
            return NULL;
    } else if (!tsbpf_arg_uint32(env, argv[2], op, "count", &count)) {
        return NULL;
    }
    if (!get_sizes(env, op, fd, argv[base], &sizes))
        return NULL;
    if (!check_size(env, op, "keys", keys_len, (size_t)sizes.key * count) ||
        (update && !check_size(env, op, "values", values_len, sizes.value * count)))
        return NULL;
    LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = flags);
    tsbpf_log_reset();
    __u32 n = count;
    int err = update ? bpf_map_update_batch(fd, keys, values, &n, &opts)
                     : bpf_map_delete_batch(fd, keys, &n, &opts);
    if (err) {
        tsbpf_throw(env, update ? "bpf_map_update_batch" : "bpf_map_delete_batch", err);
        napi_value exc, v;
        if (napi_get_and_clear_last_exception(env, &exc) == napi_ok &&
            napi_create_uint32(env, n, &v) == napi_ok)
            napi_set_named_property(env, exc, "done", v);
        napi_throw(env, exc);
        return NULL;
    }
    napi_value v;
    TSBPF_NAPI(env, napi_create_uint32(env, n, &v));
    return v;
}

napi_value tsbpf_map_update_batch(napi_env env, napi_callback_info info)
{
    return write_batch(env, info, "mapUpdateBatch", true);
}

napi_value tsbpf_map_delete_batch(napi_env env, napi_callback_info info)
{
    return write_batch(env, info, "mapDeleteBatch", false);
}

/* mapDelete(fd, key[, sizes]): false when there is no such key. */
napi_value tsbpf_map_delete(napi_env env, napi_callback_info info)
{
    static const char op[] = "mapDelete";
    napi_value argv[3];
    int32_t fd;
    void *key;
    if (!tsbpf_get_args_opt(env, info, op, 2, 3, argv) ||
        !map_args(env, op, argv, false, false, argv[2], &fd, &key, NULL, NULL))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_map_delete_elem(fd, key);
    if (err == -ENOENT)
        return tsbpf_bool(env, false);
    if (err)
        return tsbpf_throw(env, "bpf_map_delete_elem", err);
    return tsbpf_bool(env, true);
}

/* mapNextKey(fd, key | null, next[, sizes]): false after the last key. */
napi_value tsbpf_map_next_key(napi_env env, napi_callback_info info)
{
    static const char op[] = "mapNextKey";
    napi_value argv[4];
    int32_t fd;
    void *key, *next;
    size_t next_len;
    struct map_sizes sizes;
    if (!tsbpf_get_args_opt(env, info, op, 3, 4, argv) ||
        !map_args(env, op, argv, true, false, argv[3], &fd, &key, NULL, &sizes) ||
        !tsbpf_arg_bytes(env, argv[2], op, "next", false, &next, &next_len) ||
        !check_size(env, op, "next", next_len, sizes.key))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_map_get_next_key(fd, key, next);
    if (err == -ENOENT)
        return tsbpf_bool(env, false);
    if (err)
        return tsbpf_throw(env, "bpf_map_get_next_key", err);
    return tsbpf_bool(env, true);
}

/* closeFd(fd) */
napi_value tsbpf_close_fd(napi_env env, napi_callback_info info)
{
    static const char op[] = "closeFd";
    napi_value argv[1];
    int32_t fd;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "fd", &fd))
        return NULL;
    tsbpf_log_reset();
    /* On Linux the fd is gone even when close reports EINTR. */
    if (close(fd) != 0 && errno != EINTR)
        return tsbpf_throw(env, "close", errno);
    return tsbpf_undefined(env);
}
