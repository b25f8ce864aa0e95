/* NativeRingBuffer: a batching consumer of a BPF ring buffer map. */
#ifndef TSBPF_RINGBUF_H
#define TSBPF_RINGBUF_H

#include <node_api.h>

/* Defines the NativeRingBuffer class; returns its constructor (NULL on failure). */
napi_value tsbpf_ringbuf_class(napi_env env);

#endif
