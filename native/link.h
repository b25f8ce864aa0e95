/* NativeLink (a bpf_link) and the attach functions that create one. */
#ifndef TSBPF_LINK_H
#define TSBPF_LINK_H

#include <node_api.h>

/* Defines the (unexported) NativeLink class and stores it in the env state. */
bool tsbpf_link_init(napi_env env);

napi_value tsbpf_attach_tracepoint(napi_env env, napi_callback_info info);
napi_value tsbpf_attach_raw_tracepoint(napi_env env, napi_callback_info info);
napi_value tsbpf_attach_kprobe(napi_env env, napi_callback_info info);

#endif
