/* Module init: registers every export of the tsbpf addon. */
#include "addon.h"
#include "link.h"
#include "object.h"
#include "perfbuf.h"
#include "ringbuf.h"
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static napi_value libbpf_version(napi_env env, napi_callback_info info)
{
    (void)info;
    char text[32];
    snprintf(text, sizeof(text), "%u.%u", libbpf_major_version(), libbpf_minor_version());
    return tsbpf_string(env, text);
}

/* An rlimit value for JavaScript: -1 for RLIM_INFINITY, else the number of bytes. */
static napi_value rlim_value(napi_env env, rlim_t v)
{
    napi_value out;
    if (v == RLIM_INFINITY)
        return tsbpf_int32(env, -1);
    TSBPF_NAPI(env, napi_create_double(env, (double)v, &out));
    return out;
}

/* memlockRlimit() → { cur, max }: this process's RLIMIT_MEMLOCK (-1: unlimited). */
static napi_value memlock_rlimit(napi_env env, napi_callback_info info)
{
    (void)info;
    struct rlimit rl;
    napi_value out;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
        return tsbpf_throw(env, "getrlimit", errno);
    TSBPF_NAPI(env, napi_create_object(env, &out));
    if (!tsbpf_set_prop(env, out, "cur", rlim_value(env, rl.rlim_cur)) ||
        !tsbpf_set_prop(env, out, "max", rlim_value(env, rl.rlim_max)))
        return NULL;
    return out;
}

/* An rlimit value from JavaScript: a number of bytes, -1 for RLIM_INFINITY. */
static bool rlim_arg(napi_env env, napi_value v, const char *op, const char *what, rlim_t *out)
{
    int64_t n;
    if (!tsbpf_arg_int64(env, v, op, what, &n))
        return false;
    *out = n < 0 ? RLIM_INFINITY : (rlim_t)n;
    return true;
}

/*
 * setMemlockRlimit(cur, max): this process's RLIMIT_MEMLOCK (-1: unlimited),
 * as bcc sets it when a map or program creation fails with EPERM and
 * allow_rlimit is set (raising the hard limit needs CAP_SYS_RESOURCE).
 */
static napi_value set_memlock_rlimit(napi_env env, napi_callback_info info)
{
    static const char op[] = "setMemlockRlimit";
    napi_value argv[2];
    struct rlimit rl;
    if (!tsbpf_get_args(env, info, op, 2, argv, NULL) ||
        !rlim_arg(env, argv[0], op, "cur", &rl.rlim_cur) ||
        !rlim_arg(env, argv[1], op, "max", &rl.rlim_max))
        return NULL;
    if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
        return tsbpf_throw(env, "setrlimit", errno);
    return tsbpf_undefined(env);
}

/*
 * libbpf_set_memlock_rlim is declared by libbpf 1.x's bpf.h but exported
 * only by later releases (Debian 12's 1.1 keeps it internal): weak, so the
 * addon loads with either.
 */
extern int libbpf_set_memlock_rlim(size_t memlock_bytes) __attribute__((weak));

/*
 * libbpfSetMemlockRlim(bytes) → false when this libbpf does not export it,
 * else true: the RLIMIT_MEMLOCK libbpf raises the process to at its first
 * load on a kernel without memcg accounting (before 5.11); -1 unlimited, 0
 * never. Process-wide; EBUSY once libbpf has made that choice.
 */
static napi_value libbpf_set_memlock(napi_env env, napi_callback_info info)
{
    static const char op[] = "libbpfSetMemlockRlim";
    napi_value argv[1];
    int64_t bytes;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_int64(env, argv[0], op, "bytes", &bytes))
        return NULL;
    if (!libbpf_set_memlock_rlim)
        return tsbpf_bool(env, false);
    int err = libbpf_set_memlock_rlim(bytes < 0 ? (size_t)RLIM_INFINITY : (size_t)bytes);
    if (err)
        return tsbpf_throw(env, "libbpf_set_memlock_rlim", err);
    return tsbpf_bool(env, true);
}

static void free_state(napi_env env, void *data, void *hint)
{
    (void)env;
    (void)hint;
    free(data);
}

NAPI_MODULE_INIT()
{
    tsbpf_log_install();

    struct tsbpf_state *state = calloc(1, sizeof(*state));
    if (!state)
        return tsbpf_throw_custom(env, false, "init", ENOMEM, "ENOMEM", "out of memory");
    if (napi_set_instance_data(env, state, free_state, NULL) != napi_ok) {
        free(state);
        return tsbpf_throw_napi(env, "napi_set_instance_data");
    }
    if (!tsbpf_link_init(env))
        return tsbpf_throw_napi(env, "NativeLink class");
    napi_value object_ctor = tsbpf_object_class(env);
    if (!object_ctor)
        return NULL;
    napi_value ringbuf_ctor = tsbpf_ringbuf_class(env);
    if (!ringbuf_ctor)
        return NULL;
    napi_value perfbuf_ctor = tsbpf_perfbuf_class(env);
    if (!perfbuf_ctor)
        return NULL;

#define FN(name, fn)                                                                               \
    {                                                                                              \
        name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL                                    \
    }
    const napi_property_descriptor props[] = {
        FN("libbpfVersion", libbpf_version),
        FN("btfDumpHeader", tsbpf_btf_dump_header),
        FN("btfDumpSubset", tsbpf_btf_dump_subset),
        FN("btfBitfield", tsbpf_btf_bitfield),
        FN("btfCacheRelease", tsbpf_btf_cache_release),
        {"NativeObject", NULL, NULL, NULL, NULL, object_ctor, napi_enumerable, NULL},
        {"NativeRingBuffer", NULL, NULL, NULL, NULL, ringbuf_ctor, napi_enumerable, NULL},
        {"NativePerfBuffer", NULL, NULL, NULL, NULL, perfbuf_ctor, napi_enumerable, NULL},
        FN("attachTracepoint", tsbpf_attach_tracepoint),
        FN("attachRawTracepoint", tsbpf_attach_raw_tracepoint),
        FN("attachKprobe", tsbpf_attach_kprobe),
        FN("attachUprobe", tsbpf_attach_uprobe),
        FN("attachUsdt", tsbpf_attach_usdt),
        FN("probeProgType", tsbpf_probe_prog_type),
        FN("probeMapType", tsbpf_probe_map_type),
        FN("probeHelper", tsbpf_probe_helper),
        FN("probeTracing", tsbpf_probe_tracing),
        FN("progIds", tsbpf_prog_ids),
        FN("progInfo", tsbpf_prog_info),
        FN("enableStats", tsbpf_enable_stats),
        FN("mallocTrim", tsbpf_malloc_trim),
        FN("pipe", tsbpf_pipe),
        FN("setV8Flags", tsbpf_set_v8_flags),
        FN("spawnChild", tsbpf_spawn_child),
        FN("waitChild", tsbpf_wait_child),
        FN("childAnyCpu", tsbpf_child_any_cpu),
        FN("mapText", tsbpf_map_text),
        FN("mapIds", tsbpf_map_ids),
        FN("linkIds", tsbpf_link_ids),
        FN("mapLookup", tsbpf_map_lookup),
        FN("mapUpdate", tsbpf_map_update),
        FN("mapDelete", tsbpf_map_delete),
        FN("mapLookupAndDelete", tsbpf_map_lookup_and_delete),
        FN("mapLookupBatch", tsbpf_map_lookup_batch),
        FN("mapLookupAndDeleteBatch", tsbpf_map_lookup_and_delete_batch),
        FN("mapUpdateBatch", tsbpf_map_update_batch),
        FN("mapDeleteBatch", tsbpf_map_delete_batch),
        FN("mapNextKey", tsbpf_map_next_key),
        FN("closeFd", tsbpf_close_fd),
        FN("libbpfLog", tsbpf_libbpf_log),
        FN("perfEventOpen", tsbpf_perf_event_open),
        FN("memlockRlimit", memlock_rlimit),
        FN("setMemlockRlimit", set_memlock_rlimit),
        FN("libbpfSetMemlockRlim", libbpf_set_memlock),
        FN("attachPerfEvent", tsbpf_attach_perf_event),
        FN("attachTrace", tsbpf_attach_trace),
        FN("attachCgroup", tsbpf_attach_cgroup),
        FN("progAttach", tsbpf_prog_attach),
        FN("progDetach", tsbpf_prog_detach),
        FN("attachIter", tsbpf_attach_iter),
        FN("iterCreate", tsbpf_iter_create),
        FN("attachLsm", tsbpf_attach_lsm),
        FN("probeBtfAttach", tsbpf_probe_btf_attach),
        FN("ifNameToIndex", tsbpf_if_name_to_index),
        FN("xdpAttach", tsbpf_xdp_attach),
        FN("xdpDetach", tsbpf_xdp_detach),
        FN("xdpQuery", tsbpf_xdp_query),
        FN("xdpLinkCreate", tsbpf_xdp_link_create),
        FN("xdpLinkDetach", tsbpf_xdp_link_detach),
        FN("xdpLinkIds", tsbpf_xdp_link_ids),
        FN("linkUpdate", tsbpf_link_update),
        FN("openRawSocket", tsbpf_open_raw_socket),
        FN("attachSocketFilter", tsbpf_attach_socket_filter),
        FN("demangle", tsbpf_demangle),
        FN("digest", tsbpf_digest),
        FN("treeStamps", tsbpf_tree_stamps),
        FN("btfTypeOffsets", tsbpf_btf_type_offsets),
        FN("btfTypesNamed", tsbpf_btf_types_named),
        FN("scanDefines", tsbpf_scan_defines),
        FN("scanDefinesIn", tsbpf_scan_defines_in),
        FN("mapFile", tsbpf_map_file_js),
    };
#undef FN
    TSBPF_NAPI(env, napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
    return exports;
}
