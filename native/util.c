#include "util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable text buffer ---------------------------------------------- */

static const char truncated_mark[] = "\n[... truncated]\n";

static bool buf_reserve(struct tsbpf_buf *b, size_t extra)
{
    if (b->truncated)
        return false;
    size_t need = b->len + extra + 1;
    if (b->limit && need > b->limit) {
        /* Keep what fits, mark the cut once and stop appending. */
        b->truncated = true;
        size_t room = b->limit + sizeof(truncated_mark);
        if (b->cap < room) {
            char *p = realloc(b->data, room);
            if (!p)
                return false;
            b->data = p;
            b->cap = room;
        }
        memcpy(b->data + b->len, truncated_mark, sizeof(truncated_mark));
        b->len += sizeof(truncated_mark) - 1;
        return false;
    }
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->truncated = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void tsbpf_buf_append(struct tsbpf_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tsbpf_buf_vprintf(struct tsbpf_buf *b, const char *fmt, va_list ap)
{
    va_list probe;
    va_copy(probe, ap);
    int n = vsnprintf(NULL, 0, fmt, probe);
    va_end(probe);
    if (n <= 0 || !buf_reserve(b, (size_t)n))
        return;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void tsbpf_buf_free(struct tsbpf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->truncated = false;
}

const char *tsbpf_buf_text(const struct tsbpf_buf *b)
{
    return b->data ? b->data : "";
}

/* ---- per-env state ------------------------------------------------------ */

struct tsbpf_state *tsbpf_state(napi_env env)
{
    void *data = NULL;
    if (napi_get_instance_data(env, &data) != napi_ok)
        return NULL;
    return data;
}

/* ---- libbpf log capture ------------------------------------------------- */

/*
 * libbpf prints from the thread that called it, so a thread-local buffer
 * keeps the logs of addon instances in worker threads apart.
 */
static __thread struct tsbpf_buf call_log = {.limit = 16u << 20};
static __thread char failed_prog[256];
static __thread bool failed_prog_exact;

static void note_program(const char *msg)
{
    const char *p = strstr(msg, "prog '");
    if (!p)
        return;
    p += strlen("prog '");
    const char *end = strchr(p, '\'');
    if (!end || end == p || (size_t)(end - p) >= sizeof(failed_prog))
        return;
    bool exact = strstr(end, "BPF program load failed") != NULL;
    if (failed_prog_exact || (failed_prog[0] && !exact))
        return;
    memcpy(failed_prog, p, (size_t)(end - p));
    failed_prog[end - p] = '\0';
    failed_prog_exact = exact;
}

static int print_cb(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_WARN) {
        char head[512];
        va_list copy;
        va_copy(copy, ap);
        vsnprintf(head, sizeof(head), fmt, copy);
        va_end(copy);
        note_program(head);
    }
    tsbpf_buf_vprintf(&call_log, fmt, ap);
    return 0;
}

void tsbpf_log_install(void)
{
    libbpf_set_print(print_cb);
}

void tsbpf_log_reset(void)
{
    if (call_log.cap > (1u << 20))
        tsbpf_buf_free(&call_log);
    call_log.len = 0;
    call_log.truncated = false;
    if (call_log.data)
        call_log.data[0] = '\0';
    failed_prog[0] = '\0';
    failed_prog_exact = false;
}

const char *tsbpf_log_text(void)
{
    return tsbpf_buf_text(&call_log);
}

const char *tsbpf_log_failed_program(void)
{
    return failed_prog[0] ? failed_prog : NULL;
}

/* ---- errors -------------------------------------------------------------- */

const char *tsbpf_errno_name(int err)
{
    switch (err) {
#define E(x)                                                                                       \
    case x:                                                                                        \
        return #x;
        E(EPERM)
        E(ENOENT)
        E(ESRCH)
        E(EINTR)
        E(EIO)
        E(ENXIO)
        E(E2BIG)
        E(ENOEXEC)
        E(EBADF)
        E(ECHILD)
        E(EAGAIN)
        E(ENOMEM)
        E(EACCES)
        E(EFAULT)
        E(EBUSY)
        E(EEXIST)
        E(EXDEV)
        E(ENODEV)
        E(ENOTDIR)
        E(EISDIR)
        E(EINVAL)
        E(ENFILE)
        E(EMFILE)
        E(ENOTTY)
        E(ETXTBSY)
        E(EFBIG)
        E(ENOSPC)
        E(ESPIPE)
        E(EROFS)
        E(EMLINK)
        E(EPIPE)
        E(EDOM)
        E(ERANGE)
        E(EDEADLK)
        E(ENAMETOOLONG)
        E(ENOLCK)
        E(ENOSYS)
        E(ENOTEMPTY)
        E(ELOOP)
        E(ENOMSG)
        E(EIDRM)
        E(ENOSTR)
        E(ENODATA)
        E(ETIME)
        E(ENOSR)
        E(ENOLINK)
        E(EPROTO)
        E(EBADMSG)
        E(EOVERFLOW)
        E(EBADFD)
        E(EILSEQ)
        E(EUSERS)
        E(ENOTSOCK)
        E(EMSGSIZE)
        E(EPROTOTYPE)
        E(ENOPROTOOPT)
        E(EPROTONOSUPPORT)
        E(EOPNOTSUPP)
        E(EAFNOSUPPORT)
        E(EADDRINUSE)
        E(EADDRNOTAVAIL)
        E(ENETDOWN)
        E(ENETUNREACH)
        E(ECONNABORTED)
        E(ECONNRESET)
        E(ENOBUFS)
        E(EISCONN)
        E(ENOTCONN)
        E(ETIMEDOUT)
        E(ECONNREFUSED)
        E(EHOSTUNREACH)
        E(EALREADY)
        E(EINPROGRESS)
        E(ESTALE)
        E(EDQUOT)
        E(ECANCELED)
        E(EOWNERDEAD)
        E(ENOTRECOVERABLE)
        E(ERFKILL)
        E(EHWPOISON)
#undef E
    /* Kernel-internal codes that the bpf syscall lets through. */
    case 524:
        return "ENOTSUPP";
    case 525:
        return "ETOOSMALL";
    /* libbpf's own codes (enum libbpf_errno). */
    case LIBBPF_ERRNO__LIBELF:
        return "LIBBPF_ERRNO__LIBELF";
    case LIBBPF_ERRNO__FORMAT:
        return "LIBBPF_ERRNO__FORMAT";
    case LIBBPF_ERRNO__KVERSION:
        return "LIBBPF_ERRNO__KVERSION";
    case LIBBPF_ERRNO__ENDIAN:
        return "LIBBPF_ERRNO__ENDIAN";
    case LIBBPF_ERRNO__INTERNAL:
        return "LIBBPF_ERRNO__INTERNAL";
    case LIBBPF_ERRNO__RELOC:
        return "LIBBPF_ERRNO__RELOC";
    case LIBBPF_ERRNO__LOAD:
        return "LIBBPF_ERRNO__LOAD";
    case LIBBPF_ERRNO__VERIFY:
        return "LIBBPF_ERRNO__VERIFY";
    case LIBBPF_ERRNO__PROG2BIG:
        return "LIBBPF_ERRNO__PROG2BIG";
    case LIBBPF_ERRNO__KVER:
        return "LIBBPF_ERRNO__KVER";
    case LIBBPF_ERRNO__PROGTYPE:
        return "LIBBPF_ERRNO__PROGTYPE";
    case LIBBPF_ERRNO__WRNGPID:
        return "LIBBPF_ERRNO__WRNGPID";
    case LIBBPF_ERRNO__INVSEQ:
        return "LIBBPF_ERRNO__INVSEQ";
    case LIBBPF_ERRNO__NLPARSE:
        return "LIBBPF_ERRNO__NLPARSE";
    default:
        return "";
    }
}

static napi_value throw_full(napi_env env, bool type_error, const char *op, int err,
                             const char *code, const char *message, const char *verifier_log,
                             const char *program)
{
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
        return NULL;

    napi_value code_v, msg_v, error;
    if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) != napi_ok ||
        napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg_v) != napi_ok)
        goto fallback;
    if ((type_error ? napi_create_type_error : napi_create_error)(env, code_v, msg_v, &error) !=
        napi_ok)
        goto fallback;

    napi_value v;
    if (napi_create_int32(env, err, &v) != napi_ok ||
        napi_set_named_property(env, error, "errno", v) != napi_ok)
        goto fallback;
    if (napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &v) != napi_ok ||
        napi_set_named_property(env, error, "op", v) != napi_ok)
        goto fallback;
    if (napi_create_string_utf8(env, tsbpf_log_text(), NAPI_AUTO_LENGTH, &v) != napi_ok ||
        napi_set_named_property(env, error, "libbpfLog", v) != napi_ok)
        goto fallback;
    if (verifier_log &&
        (napi_create_string_utf8(env, verifier_log, NAPI_AUTO_LENGTH, &v) != napi_ok ||
         napi_set_named_property(env, error, "verifierLog", v) != napi_ok))
        goto fallback;
    if (program && (napi_create_string_utf8(env, program, NAPI_AUTO_LENGTH, &v) != napi_ok ||
                    napi_set_named_property(env, error, "program", v) != napi_ok))
        goto fallback;
    napi_throw(env, error);
    return NULL;

fallback:
    if (napi_is_exception_pending(env, &pending) == napi_ok && !pending)
        napi_throw_error(env, code, message);
    return NULL;
}

static void errno_message(char *msg, size_t size, const char *op, int err)
{
    char text[128] = "";
    if (libbpf_strerror(err, text, sizeof(text)) < 0 && text[0] == '\0')
        snprintf(text, sizeof(text), "error %d", err);
    const char *code = tsbpf_errno_name(err);
    if (code[0])
        snprintf(msg, size, "%s: %s (%s)", op, text, code);
    else
        snprintf(msg, size, "%s: %s", op, text);
}

napi_value tsbpf_throw_load(napi_env env, const char *op, int err, const char *verifier_log,
                            const char *program)
{
    if (err < 0)
        err = -err;
    char msg[512];
    errno_message(msg, sizeof(msg), op, err);
    if (program) {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof(msg) - n, " [program '%s']", program);
    }
    return throw_full(env, false, op, err, tsbpf_errno_name(err), msg, verifier_log, program);
}

napi_value tsbpf_throw(napi_env env, const char *op, int err)
{
    if (err < 0)
        err = -err;
    char msg[512];
    errno_message(msg, sizeof(msg), op, err);
    return throw_full(env, false, op, err, tsbpf_errno_name(err), msg, NULL, NULL);
}

napi_value tsbpf_throw_custom(napi_env env, bool type_error, const char *op, int err,
                              const char *code, const char *fmt, ...)
{
    char text[512], msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof(msg), "%s: %s", op, text);
    return throw_full(env, type_error, op, err < 0 ? -err : err, code, msg, NULL, NULL);
}

napi_value tsbpf_throw_napi(napi_env env, const char *what)
{
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
        return NULL;
    const napi_extended_error_info *info = NULL;
    const char *detail = "unknown N-API error";
    if (napi_get_last_error_info(env, &info) == napi_ok && info && info->error_message)
        detail = info->error_message;
    char msg[512];
    snprintf(msg, sizeof(msg), "%s failed: %s", what, detail);
    napi_throw_error(env, "ENAPI", msg);
    return NULL;
}

/* ---- arguments ----------------------------------------------------------- */

bool tsbpf_get_args(napi_env env, napi_callback_info info, const char *op, size_t argc,
                    napi_value *argv, napi_value *this_arg)
{
    size_t got = argc;
    if (napi_get_cb_info(env, info, &got, argv, this_arg, NULL) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_cb_info");
        return false;
    }
    if (got < argc) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "expected %zu argument(s), got %zu",
                           argc, got);
        return false;
    }
    return true;
}

bool tsbpf_get_args_opt(napi_env env, napi_callback_info info, const char *op, size_t min,
                        size_t max, napi_value *argv)
{
    size_t got = max;
    if (napi_get_cb_info(env, info, &got, argv, NULL, NULL) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_cb_info");
        return false;
    }
    if (got < min) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "expected %zu argument(s), got %zu",
                           min, got);
        return false;
    }
    return true;
}

static bool check_type(napi_env env, napi_value v, napi_valuetype want, const char *op,
                       const char *what, const char *want_name)
{
    napi_valuetype t;
    if (napi_typeof(env, v, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return false;
    }
    if (t != want) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s must be a %s", what, want_name);
        return false;
    }
    return true;
}

bool tsbpf_arg_strings(napi_env env, napi_value v, const char *op, const char *what, char ***out,
                       uint32_t *n)
{
    *out = NULL;
    *n = 0;
    bool is_array = false;
    if (napi_is_array(env, v, &is_array) != napi_ok) {
        tsbpf_throw_napi(env, "napi_is_array");
        return false;
    }
    if (!is_array) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s must be an array", what);
        return false;
    }
    uint32_t len = 0;
    if (napi_get_array_length(env, v, &len) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_array_length");
        return false;
    }
    char **list = calloc(len ? len : 1, sizeof(*list));
    if (!list) {
        tsbpf_throw(env, op, ENOMEM);
        return false;
    }
    /* Every element first: their getters could run JavaScript that calls back in. */
    for (uint32_t i = 0; i < len; i++) {
        char name[64];
        napi_value e;
        snprintf(name, sizeof(name), "%s[%u]", what, i);
        if (napi_get_element(env, v, i, &e) != napi_ok) {
            tsbpf_throw_napi(env, "napi_get_element");
            tsbpf_free_strings(list, i);
            return false;
        }
        if (!tsbpf_arg_string(env, e, op, name, &list[i])) {
            tsbpf_free_strings(list, i);
            return false;
        }
    }
    *out = list;
    *n = len;
    return true;
}

void tsbpf_free_strings(char **list, uint32_t n)
{
    for (uint32_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

bool tsbpf_arg_string(napi_env env, napi_value v, const char *op, const char *what, char **out)
{
    *out = NULL;
    if (!check_type(env, v, napi_string, op, what, "string"))
        return false;
    size_t len = 0;
    if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_value_string_utf8");
        return false;
    }
    char *s = malloc(len + 1);
    if (!s) {
        tsbpf_throw(env, op, ENOMEM);
        return false;
    }
    if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
        free(s);
        tsbpf_throw_napi(env, "napi_get_value_string_utf8");
        return false;
    }
    if (strlen(s) != len) {
        free(s);
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s must not contain NUL characters",
                           what);
        return false;
    }
    *out = s;
    return true;
}

static bool get_number(napi_env env, napi_value v, const char *op, const char *what, double *out)
{
    if (!check_type(env, v, napi_number, op, what, "number"))
        return false;
    if (napi_get_value_double(env, v, out) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_value_double");
        return false;
    }
    return true;
}

static bool integral_in(napi_env env, double d, double lo, double hi, const char *op,
                        const char *what)
{
    if (d != d || d < lo || d > hi || (double)(int64_t)d != d) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s must be an integer in [%.0f, %.0f]",
                           what, lo, hi);
        return false;
    }
    return true;
}

bool tsbpf_arg_int32(napi_env env, napi_value v, const char *op, const char *what, int32_t *out)
{
    double d;
    if (!get_number(env, v, op, what, &d) || !integral_in(env, d, INT32_MIN, INT32_MAX, op, what))
        return false;
    *out = (int32_t)d;
    return true;
}

bool tsbpf_arg_uint32(napi_env env, napi_value v, const char *op, const char *what, uint32_t *out)
{
    double d;
    if (!get_number(env, v, op, what, &d) || !integral_in(env, d, 0, UINT32_MAX, op, what))
        return false;
    *out = (uint32_t)d;
    return true;
}

bool tsbpf_arg_int64(napi_env env, napi_value v, const char *op, const char *what, int64_t *out)
{
    double d;
    /* Only the integers a double holds exactly. */
    if (!get_number(env, v, op, what, &d) ||
        !integral_in(env, d, -9007199254740991.0, 9007199254740991.0, op, what))
        return false;
    *out = (int64_t)d;
    return true;
}

bool tsbpf_arg_uint64(napi_env env, napi_value v, const char *op, const char *what, uint64_t *out)
{
    napi_valuetype t;
    if (napi_typeof(env, v, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return false;
    }
    if (t == napi_bigint) {
        bool lossless = false;
        if (napi_get_value_bigint_uint64(env, v, out, &lossless) != napi_ok) {
            tsbpf_throw_napi(env, "napi_get_value_bigint_uint64");
            return false;
        }
        if (!lossless) {
            tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s must fit in 64 unsigned bits",
                               what);
            return false;
        }
        return true;
    }
    int64_t n;
    if (!tsbpf_arg_int64(env, v, op, what, &n))
        return false;
    if (n < 0) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s must not be negative", what);
        return false;
    }
    *out = (uint64_t)n;
    return true;
}

bool tsbpf_arg_bool(napi_env env, napi_value v, const char *op, const char *what, bool *out)
{
    if (!check_type(env, v, napi_boolean, op, what, "boolean"))
        return false;
    if (napi_get_value_bool(env, v, out) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_value_bool");
        return false;
    }
    return true;
}

static size_t typedarray_elem_size(napi_typedarray_type t)
{
    switch (t) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
        return 1;
    case napi_int16_array:
    case napi_uint16_array:
        return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
        return 4;
    default:
        return 8;
    }
}

bool tsbpf_arg_bytes(napi_env env, napi_value v, const char *op, const char *what, bool allow_null,
                     void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    napi_valuetype t;
    if (napi_typeof(env, v, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return false;
    }
    if (allow_null && (t == napi_null || t == napi_undefined))
        return true;

    bool is;
    if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
        napi_typedarray_type type;
        size_t length;
        if (napi_get_typedarray_info(env, v, &type, &length, data, NULL, NULL) != napi_ok) {
            tsbpf_throw_napi(env, "napi_get_typedarray_info");
            return false;
        }
        *len = length * typedarray_elem_size(type);
        return true;
    }
    if (napi_is_dataview(env, v, &is) == napi_ok && is) {
        if (napi_get_dataview_info(env, v, len, data, NULL, NULL) != napi_ok) {
            tsbpf_throw_napi(env, "napi_get_dataview_info");
            return false;
        }
        return true;
    }
    if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
        if (napi_get_arraybuffer_info(env, v, data, len) != napi_ok) {
            tsbpf_throw_napi(env, "napi_get_arraybuffer_info");
            return false;
        }
        return true;
    }
    tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s must be a Uint8Array%s", what,
                       allow_null ? " or null" : "");
    return false;
}

bool tsbpf_get_prop(napi_env env, napi_value obj, const char *op, const char *name, napi_value *out)
{
    napi_valuetype t;
    if (napi_typeof(env, obj, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return false;
    }
    if (t != napi_object) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "options must be an object");
        return false;
    }
    if (napi_get_named_property(env, obj, name, out) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_named_property");
        return false;
    }
    if (napi_typeof(env, *out, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_typeof");
        return false;
    }
    if (t == napi_undefined) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "option %s is required", name);
        return false;
    }
    return true;
}

/* ---- values -------------------------------------------------------------- */

napi_value tsbpf_undefined(napi_env env)
{
    napi_value v;
    TSBPF_NAPI(env, napi_get_undefined(env, &v));
    return v;
}

napi_value tsbpf_null(napi_env env)
{
    napi_value v;
    TSBPF_NAPI(env, napi_get_null(env, &v));
    return v;
}

napi_value tsbpf_bool(napi_env env, bool b)
{
    napi_value v;
    TSBPF_NAPI(env, napi_get_boolean(env, b, &v));
    return v;
}

napi_value tsbpf_int32(napi_env env, int32_t i)
{
    napi_value v;
    TSBPF_NAPI(env, napi_create_int32(env, i, &v));
    return v;
}

napi_value tsbpf_uint32(napi_env env, uint32_t i)
{
    napi_value v;
    TSBPF_NAPI(env, napi_create_uint32(env, i, &v));
    return v;
}

napi_value tsbpf_string(napi_env env, const char *s)
{
    napi_value v;
    TSBPF_NAPI(env, napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &v));
    return v;
}

bool tsbpf_set_prop(napi_env env, napi_value obj, const char *name, napi_value value)
{
    if (!value)
        return false;
    if (napi_set_named_property(env, obj, name, value) != napi_ok) {
        tsbpf_throw_napi(env, "napi_set_named_property");
        return false;
    }
    return true;
}

/* libbpfLog(): what libbpf printed (every level) during the last addon call that reset the log. */
napi_value tsbpf_libbpf_log(napi_env env, napi_callback_info info)
{
    if (!tsbpf_get_args(env, info, "libbpfLog", 0, NULL, NULL))
        return NULL;
    return tsbpf_string(env, tsbpf_log_text());
}

void tsbpf_hold_signals(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGTRAP);
    sigdelset(&all, SIGSYS);
    /* (the calling thread's mask on Linux, as pthread_sigmask, which needs glibc 2.32 where it is
     * not in libpthread: native/spawn.c) */
    sigprocmask(SIG_BLOCK, &all, old);
}

void tsbpf_release_signals(const sigset_t *old)
{
    sigprocmask(SIG_SETMASK, old, NULL);
}
