/* NativeLink (a bpf_link) and the attach functions that create one. */
#ifndef TSBPF_LINK_H
#define TSBPF_LINK_H

#include <node_api.h>

/* Defines the (unexported) NativeLink class and stores it in the env state. */
bool tsbpf_link_init(napi_env env);

struct bpf_link;
/*
 * A NativeLink owning `link`, or a NativeError for a failed attach (link NULL,
 * err the errno; op names the libbpf call). For the attach functions of
 * other files.
 */
napi_value tsbpf_link_wrap(napi_env env, struct bpf_link *link, int err, const char *op);

napi_value tsbpf_attach_tracepoint(napi_env env, napi_callback_info info);
napi_value tsbpf_attach_raw_tracepoint(napi_env env, napi_callback_info info);
napi_value tsbpf_attach_kprobe(napi_env env, napi_callback_info info);
napi_value tsbpf_attach_uprobe(napi_env env, napi_callback_info info);
napi_value tsbpf_attach_usdt(napi_env env, napi_callback_info info);

#endif
