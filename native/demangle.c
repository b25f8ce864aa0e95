/*
 * C++ symbol names, demangled by libstdc++'s Itanium C++ ABI demangler (the
 * one c++filt and bcc use), for stack traces and symbol lookups.
 */
#include <stdlib.h>

#include "addon.h"
#include "util.h"

/* libstdc++'s abi::__cxa_demangle, by its C linkage name (cxxabi.h is C++ only). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *length, int *status);

/* demangle(name): the demangled name, or null when it is not a mangled C++ name. */
napi_value tsbpf_demangle(napi_env env, napi_callback_info info)
{
    static const char op[] = "demangle";
    napi_value argv[1];
    char *name = NULL;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_string(env, argv[0], op, "name", &name))
        return NULL;
    int status = 0;
    char *out = __cxa_demangle(name, NULL, NULL, &status);
    free(name);
    if (status != 0 || !out)
        return tsbpf_null(env);
    napi_value v = tsbpf_string(env, out);
    free(out);
    return v;
}
