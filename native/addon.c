/* Module init: registers every export of the tsbpf addon. */
#include "addon.h"
#include "link.h"
#include "object.h"
#include "perfbuf.h"
#include "ringbuf.h"
#include "util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static napi_value libbpf_version(napi_env env, napi_callback_info info)
{
    (void)info;
    char text[32];
    snprintf(text, sizeof(text), "%u.%u", libbpf_major_version(), libbpf_minor_version());
    return tsbpf_string(env, text);
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
        FN("openRawSocket", tsbpf_open_raw_socket),
        FN("attachSocketFilter", tsbpf_attach_socket_filter),
        FN("demangle", tsbpf_demangle),
    };
#undef FN
    TSBPF_NAPI(env, napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
    return exports;
}
