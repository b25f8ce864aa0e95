/*
 * setV8Flags(flags): sets V8 flags as node:v8's setFlagsFromString does, for
 * src/compile_pause.ts, which sets and unsets two flags around a command's
 * start. Loading node:v8 for that took 3-6 ms of every CLI start (it loads
 * the heap-snapshot and serializer modules beside it; Node 20).
 *
 * V8's v8::V8::SetFlagsFromString(const char *, size_t) is what node:v8
 * calls. Node exports V8's API to its addons, so the function is taken from
 * the process by its (Itanium C++ ABI) name: a static member function is
 * called as a C function is. The reference is weak: in a host without it the
 * addon still loads, and this returns false, for the caller to use node:v8.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"
#include "util.h"

extern void tsbpf_v8_set_flags_from_string(const char *str, size_t length) __asm__(
    "_ZN2v82V818SetFlagsFromStringEPKcm") __attribute__((weak, visibility("default")));

/* setV8Flags(flags: string) → whether V8 was given them. */
napi_value tsbpf_set_v8_flags(napi_env env, napi_callback_info info)
{
    static const char op[] = "setV8Flags";
    napi_value argv[1];
    char *flags = NULL;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_string(env, argv[0], op, "flags", &flags))
        return NULL;
    bool given = tsbpf_v8_set_flags_from_string != NULL;
    if (given)
        tsbpf_v8_set_flags_from_string(flags, strlen(flags));
    free(flags);
    return tsbpf_bool(env, given);
}
