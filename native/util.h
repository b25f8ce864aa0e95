/*
 * Helpers shared by every file of the addon: a growable text buffer, the
 * capture of libbpf's log, the errors thrown to JavaScript and the argument
 * parsing of N-API callbacks.
 */
#ifndef TSBPF_UTIL_H
#define TSBPF_UTIL_H

#include <node_api.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A NUL-terminated text buffer that grows on demand. */
struct tsbpf_buf {
    char *data;
    size_t len;
    size_t cap;
    /* Set once an allocation failed or the limit was hit; appends then stop. */
    bool truncated;
    /* 0 for no limit. */
    size_t limit;
};

void tsbpf_buf_append(struct tsbpf_buf *b, const char *s, size_t n);
void tsbpf_buf_vprintf(struct tsbpf_buf *b, const char *fmt, va_list ap);
void tsbpf_buf_free(struct tsbpf_buf *b);
/* The text so far ("" when empty). */
const char *tsbpf_buf_text(const struct tsbpf_buf *b);

/* Per-env data: the constructors the addon needs to create instances. */
struct tsbpf_state {
    napi_ref link_ctor;
};

struct tsbpf_state *tsbpf_state(napi_env env);

/*
 * libbpf log capture. tsbpf_log_install() sets the libbpf print callback once;
 * tsbpf_log_reset() starts a new call's log (call it at the start of every
 * callback that runs libbpf code that can fail).
 */
void tsbpf_log_install(void);
void tsbpf_log_reset(void);
const char *tsbpf_log_text(void);
/*
 * The program named by libbpf's "prog 'NAME': BPF program load failed"
 * warning during this call, or else by its first warning that names a
 * program; NULL when there was none.
 */
const char *tsbpf_log_failed_program(void);

/*
 * Signals held off the calling thread while the kernel verifies a program.
 * The verifier stops with EAGAIN when the loading thread has a signal
 * pending (kernel/bpf/verifier.c's do_check, checked at every instruction
 * since Linux 4.x), and libbpf retries a load only 5 times: a thread that
 * gets signals often (`node --cpu-prof`'s SIGPROF every few hundred
 * microseconds, a handled signal sent in a loop) saw its programs refused
 * as if the verifier had rejected them, and a feature probe answered "no".
 * Blocked, a signal stays pending and is delivered when the mask is
 * restored, so nothing is lost; a long verification only delays it (as
 * Ctrl-C waits for a C call to return in bcc's Python). The synchronous
 * fault signals stay unblocked (a fault in libbpf must still reach Node's
 * handler). tsbpf_hold_signals() saves the thread's mask in *old.
 */
#include <signal.h>
void tsbpf_hold_signals(sigset_t *old);
void tsbpf_release_signals(const sigset_t *old);

/* Symbolic name of a (positive) errno: "EPERM"; "" when unknown. */
const char *tsbpf_errno_name(int err);

/*
 * Throw a NativeError: message "op: strerror (CODE)", with errno, code, op
 * and libbpfLog. err may be given negative (as libbpf returns it). Returns
 * NULL so that callbacks can `return tsbpf_throw(...)`.
 */
napi_value tsbpf_throw(napi_env env, const char *op, int err);
/* Same, with the verifier log and the failing program of a load. */
napi_value tsbpf_throw_load(napi_env env, const char *op, int err, const char *verifier_log,
                            const char *program);
/* A NativeError with a custom code and message (errno may be 0). */
napi_value tsbpf_throw_custom(napi_env env, bool type_error, const char *op, int err,
                              const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Throw for a failed napi_* call, unless an exception is already pending. */
napi_value tsbpf_throw_napi(napi_env env, const char *what);

#define TSBPF_NAPI(env, call)                                                                      \
    do {                                                                                           \
        if ((call) != napi_ok)                                                                     \
            return tsbpf_throw_napi((env), #call);                                                 \
    } while (0)

/*
 * Fetch exactly `argc` arguments (missing ones are an error) plus `this`.
 * Returns false with an exception pending on failure.
 */
/* Like tsbpf_get_args for `min` required and up to `max` arguments; missing ones are undefined. */
bool tsbpf_get_args_opt(napi_env env, napi_callback_info info, const char *op, size_t min,
                        size_t max, napi_value *argv);
bool tsbpf_get_args(napi_env env, napi_callback_info info, const char *op, size_t argc,
                    napi_value *argv, napi_value *this_arg);

/* Argument conversions; false with an exception pending on failure. */
bool tsbpf_arg_string(napi_env env, napi_value v, const char *op, const char *what, char **out);
/* An array of strings; free it with tsbpf_free_strings(*out, *n). */
bool tsbpf_arg_strings(napi_env env, napi_value v, const char *op, const char *what, char ***out,
                       uint32_t *n);
void tsbpf_free_strings(char **list, uint32_t n);
bool tsbpf_arg_int32(napi_env env, napi_value v, const char *op, const char *what, int32_t *out);
bool tsbpf_arg_uint32(napi_env env, napi_value v, const char *op, const char *what, uint32_t *out);
bool tsbpf_arg_int64(napi_env env, napi_value v, const char *op, const char *what, int64_t *out);
/* A number (a safe integer, not negative) or a BigInt that fits in 64 unsigned bits. */
bool tsbpf_arg_uint64(napi_env env, napi_value v, const char *op, const char *what, uint64_t *out);
bool tsbpf_arg_bool(napi_env env, napi_value v, const char *op, const char *what, bool *out);
/* A TypedArray, DataView or ArrayBuffer; null/undefined give NULL/0 when allow_null. */
bool tsbpf_arg_bytes(napi_env env, napi_value v, const char *op, const char *what, bool allow_null,
                     void **data, size_t *len);
/* Property `name` of object `obj` (must exist and not be undefined). */
bool tsbpf_get_prop(napi_env env, napi_value obj, const char *op, const char *name,
                    napi_value *out);

/* Value constructors; NULL with an exception pending on failure. */
napi_value tsbpf_undefined(napi_env env);
napi_value tsbpf_null(napi_env env);
napi_value tsbpf_bool(napi_env env, bool v);
napi_value tsbpf_int32(napi_env env, int32_t v);
napi_value tsbpf_uint32(napi_env env, uint32_t v);
napi_value tsbpf_string(napi_env env, const char *s);
/* obj[name] = value; false with an exception pending on failure. */
bool tsbpf_set_prop(napi_env env, napi_value obj, const char *name, napi_value value);

#endif
