/* NativePerfBuffer: a batching consumer of a BPF perf event array (libbpf's perf_buffer). */
#ifndef TSBPF_PERFBUF_H
#define TSBPF_PERFBUF_H

#include <node_api.h>

/* Defines the NativePerfBuffer class; returns its constructor (NULL on failure). */
napi_value tsbpf_perfbuf_class(napi_env env);

#endif
