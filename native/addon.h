/* The exported functions of each file, for addon.c to register. */
#ifndef TSBPF_ADDON_H
#define TSBPF_ADDON_H

#include <node_api.h>

/* btf.c */
napi_value tsbpf_btf_dump_header(napi_env env, napi_callback_info info);
napi_value tsbpf_btf_dump_subset(napi_env env, napi_callback_info info);
napi_value tsbpf_btf_bitfield(napi_env env, napi_callback_info info);
napi_value tsbpf_btf_cache_release(napi_env env, napi_callback_info info);

/* map.c */
napi_value tsbpf_map_lookup(napi_env env, napi_callback_info info);
napi_value tsbpf_map_update(napi_env env, napi_callback_info info);
napi_value tsbpf_map_delete(napi_env env, napi_callback_info info);
napi_value tsbpf_map_lookup_and_delete(napi_env env, napi_callback_info info);
napi_value tsbpf_map_lookup_batch(napi_env env, napi_callback_info info);
napi_value tsbpf_map_lookup_and_delete_batch(napi_env env, napi_callback_info info);
napi_value tsbpf_map_update_batch(napi_env env, napi_callback_info info);
napi_value tsbpf_map_delete_batch(napi_env env, napi_callback_info info);
napi_value tsbpf_map_next_key(napi_env env, napi_callback_info info);
napi_value tsbpf_close_fd(napi_env env, napi_callback_info info);
napi_value tsbpf_libbpf_log(napi_env env, napi_callback_info info);

/* probe.c */
napi_value tsbpf_probe_prog_type(napi_env env, napi_callback_info info);
napi_value tsbpf_probe_map_type(napi_env env, napi_callback_info info);
napi_value tsbpf_probe_helper(napi_env env, napi_callback_info info);
napi_value tsbpf_probe_tracing(napi_env env, napi_callback_info info);
napi_value tsbpf_prog_ids(napi_env env, napi_callback_info info);
napi_value tsbpf_prog_info(napi_env env, napi_callback_info info);
napi_value tsbpf_enable_stats(napi_env env, napi_callback_info info);
napi_value tsbpf_malloc_trim(napi_env env, napi_callback_info info);
napi_value tsbpf_pipe(napi_env env, napi_callback_info info);
napi_value tsbpf_map_text(napi_env env, napi_callback_info info);
napi_value tsbpf_map_ids(napi_env env, napi_callback_info info);
napi_value tsbpf_link_ids(napi_env env, napi_callback_info info);
napi_value tsbpf_probe_btf_attach(napi_env env, napi_callback_info info);

/* perf_event.c */
napi_value tsbpf_perf_event_open(napi_env env, napi_callback_info info);
napi_value tsbpf_attach_perf_event(napi_env env, napi_callback_info info);

/* cgroup.c */
napi_value tsbpf_attach_cgroup(napi_env env, napi_callback_info info);
napi_value tsbpf_prog_attach(napi_env env, napi_callback_info info);
napi_value tsbpf_prog_detach(napi_env env, napi_callback_info info);

/* iter.c */
napi_value tsbpf_attach_iter(napi_env env, napi_callback_info info);
napi_value tsbpf_iter_create(napi_env env, napi_callback_info info);

/* trampoline.c */
napi_value tsbpf_attach_trace(napi_env env, napi_callback_info info);
napi_value tsbpf_attach_lsm(napi_env env, napi_callback_info info);

/* xdp.c */
napi_value tsbpf_if_name_to_index(napi_env env, napi_callback_info info);
napi_value tsbpf_demangle(napi_env env, napi_callback_info info);
napi_value tsbpf_digest(napi_env env, napi_callback_info info);
napi_value tsbpf_tree_stamps(napi_env env, napi_callback_info info);
napi_value tsbpf_btf_type_offsets(napi_env env, napi_callback_info info);
napi_value tsbpf_btf_types_named(napi_env env, napi_callback_info info);
napi_value tsbpf_scan_defines(napi_env env, napi_callback_info info);
napi_value tsbpf_scan_defines_in(napi_env env, napi_callback_info info);

/* mapfile.c */
/* A read-only private mapping of the whole file (munmap it with *len); NULL and errno on failure.
 */
void *tsbpf_map_file(const char *path, size_t *len);
napi_value tsbpf_map_file_js(napi_env env, napi_callback_info info);
napi_value tsbpf_xdp_attach(napi_env env, napi_callback_info info);
napi_value tsbpf_xdp_detach(napi_env env, napi_callback_info info);
napi_value tsbpf_xdp_query(napi_env env, napi_callback_info info);
napi_value tsbpf_xdp_link_create(napi_env env, napi_callback_info info);
napi_value tsbpf_xdp_link_detach(napi_env env, napi_callback_info info);
napi_value tsbpf_xdp_link_ids(napi_env env, napi_callback_info info);
napi_value tsbpf_link_update(napi_env env, napi_callback_info info);
napi_value tsbpf_open_raw_socket(napi_env env, napi_callback_info info);
napi_value tsbpf_attach_socket_filter(napi_env env, napi_callback_info info);

/* spawn.c */
napi_value tsbpf_spawn_child(napi_env env, napi_callback_info info);
napi_value tsbpf_wait_child(napi_env env, napi_callback_info info);
napi_value tsbpf_child_any_cpu(napi_env env, napi_callback_info info);

/* v8flags.c */
napi_value tsbpf_set_v8_flags(napi_env env, napi_callback_info info);

#endif
