/* NativeObject: a bpf_object opened from an in-memory ELF. */
#ifndef TSBPF_OBJECT_H
#define TSBPF_OBJECT_H

#include <bpf/libbpf.h>
#include <node_api.h>

/* Defines the NativeObject class; returns its constructor (NULL on failure). */
napi_value tsbpf_object_class(napi_env env);

/*
 * The program `name` of the NativeObject `value` (for the attach functions).
 * NULL with an exception pending when value is not an open NativeObject or
 * has no such program.
 */
/* The program named by JS string `name` in NativeObject `obj` (both arguments of an attach call).
 */
struct bpf_program *tsbpf_object_program_arg(napi_env env, napi_value obj, napi_value name,
                                             const char *op);
struct bpf_program *tsbpf_object_program(napi_env env, napi_value value, const char *op,
                                         const char *name);

#endif
