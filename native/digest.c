/*
 * A 64-bit digest of a byte array, for cache keys of whole files (the
 * minimized CO-RE BTF's key covers the object's bytes). Not cryptographic:
 * the cache it keys is the user's own. In C because the same loop in
 * JavaScript was the one function of a tool's start hot enough for V8's
 * optimizing compiler, whose code then stayed in the process's memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addon.h"
#include "util.h"

/* Two lanes over 64-bit words (FNV-1a's prime and a xorshift-multiply mix), then the tail bytes. */
static void digest(const uint8_t *p, size_t n, uint64_t out[2])
{
    uint64_t a = 0xcbf29ce484222325ULL ^ n;
    uint64_t b = 0x9e3779b97f4a7c15ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        a = (a ^ w) * 0x100000001b3ULL;
        b = (b ^ w) * 0xff51afd7ed558ccdULL;
        b ^= b >> 33;
    }
    for (; i < n; i++) {
        a = (a ^ p[i]) * 0x100000001b3ULL;
        b = (b ^ p[i]) * 0xff51afd7ed558ccdULL;
    }
    out[0] = a;
    out[1] = b;
}

/* digest(bytes): 32 hex digits. */
napi_value tsbpf_digest(napi_env env, napi_callback_info info)
{
    static const char op[] = "digest";
    napi_value argv[1];
    void *data;
    size_t len;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_bytes(env, argv[0], op, "bytes", false, &data, &len))
        return NULL;
    static const uint8_t none[1];
    uint64_t d[2];
    digest(data ? data : none, len, d);
    char hex[33];
    snprintf(hex, sizeof(hex), "%016llx%016llx", (unsigned long long)d[0],
             (unsigned long long)d[1]);
    return tsbpf_string(env, hex);
}
