/*
 * Passes over a BTF type section that JavaScript (src/btf/btf.ts) makes once
 * per process over every type of the kernel's BTF (~126,000 on Linux 6.18):
 * where each type starts, and which types carry given names. In C because,
 * as plain loops in JavaScript, they were the hottest functions of a tool's
 * first start on a kernel: V8's optimizing compiler ran for them, and its
 * code pages and its threads' memory then stayed in the process (~4.5 MB of
 * execsnoop's peak RSS on Node 20).
 *
 * The section is given as 32-bit words in the host's byte order (btf.ts's
 * hostWords). A type is a 3-word header (name offset, info, size/type) and
 * then kind-dependent data (the kernel's documented BTF format,
 * Documentation/bpf/btf.rst); kinds 1-19 are known.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"
#include "btf_raw.h"
#include "util.h"

/* Words after a type's header, by kind and vlen; -1 for an unknown kind. */
int64_t tsbpf_btf_extra_words(uint32_t kind, uint32_t vlen)
{
    switch (kind) {
    case 1:  /* INT */
    case 14: /* VAR */
    case 17: /* DECL_TAG */
        return 1;
    case 3: /* ARRAY */
        return 3;
    case 4:  /* STRUCT */
    case 5:  /* UNION */
    case 15: /* DATASEC */
    case 19: /* ENUM64 */
        return 3 * (int64_t)vlen;
    case 6:  /* ENUM */
    case 13: /* FUNC_PROTO */
        return 2 * (int64_t)vlen;
    case 2:  /* PTR */
    case 7:  /* FWD */
    case 8:  /* TYPEDEF */
    case 9:  /* VOLATILE */
    case 10: /* CONST */
    case 11: /* RESTRICT */
    case 12: /* FUNC */
    case 16: /* FLOAT */
    case 18: /* TYPE_TAG */
        return 0;
    default:
        return -1;
    }
}

enum walk_stop { WALK_DONE, WALK_BAD_KIND, WALK_PAST_END };

struct walk {
    const uint32_t *w;
    size_t n;    /* words */
    size_t q;    /* the current type's first word */
    uint32_t id; /* the current type's id */
    enum walk_stop stop;
};

/* The next type's header at w->q (true), or why there is none (w->stop). */
static bool walk_next(struct walk *w, size_t *next)
{
    if (w->q + 3 > w->n) {
        w->stop = WALK_DONE;
        return false;
    }
    uint32_t info = w->w[w->q + 1];
    int64_t extra = tsbpf_btf_extra_words((info >> 24) & 0x1f, info & 0xffff);
    if (extra < 0) {
        w->stop = WALK_BAD_KIND;
        return false;
    }
    *next = w->q + 3 + (size_t)extra;
    if (*next > w->n) {
        w->stop = WALK_PAST_END;
        return false;
    }
    return true;
}

static const char *stop_name(enum walk_stop s)
{
    return s == WALK_BAD_KIND ? "kind" : s == WALK_PAST_END ? "end" : NULL;
}

static bool arg_words(napi_env env, napi_value v, const char *op, const char *what,
                      const uint32_t **out, size_t *n)
{
    napi_typedarray_type type;
    size_t len;
    void *data;
    if (napi_get_typedarray_info(env, v, &type, &len, &data, NULL, NULL) != napi_ok ||
        type != napi_uint32_array) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s must be a Uint32Array", what);
        return false;
    }
    *out = data;
    *n = len;
    return true;
}

static napi_value new_u32_array(napi_env env, size_t len, uint32_t **data)
{
    napi_value ab, arr;
    void *p;
    if (napi_create_arraybuffer(env, len * 4, &p, &ab) != napi_ok ||
        napi_create_typedarray(env, napi_uint32_array, len, ab, 0, &arr) != napi_ok) {
        tsbpf_throw_napi(env, "napi_create_typedarray");
        return NULL;
    }
    *data = p;
    return arr;
}

/*
 * btfTypeOffsets(words): { offsets, count, entries, end, enums, stop?, stopId?, stopAt? }.
 * offsets[id] is where type id starts (in words; offsets[0] unused), count
 * the type count with void, entries the names an index of type and
 * enumerator names would hold, end the words the types use, enums the ids
 * of ENUM and ENUM64 types. A malformed section stops the walk at type
 * stopId (at word stopAt): stop is "kind" (unknown kind) or "end" (the
 * type runs past the section).
 */
napi_value tsbpf_btf_type_offsets(napi_env env, napi_callback_info info)
{
    static const char op[] = "btfTypeOffsets";
    napi_value argv[1];
    struct walk w = {0};
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !arg_words(env, argv[0], op, "words", &w.w, &w.n))
        return NULL;
    /* First pass: how many types and enums; second: where. */
    uint32_t count = 1, nenums = 0, entries = 0;
    size_t next;
    for (w.q = 0, w.id = 1; walk_next(&w, &next); w.q = next, w.id++) {
        uint32_t info = w.w[w.q + 1], kind = (info >> 24) & 0x1f;
        if (kind == 6 || kind == 19) {
            nenums++;
            entries += info & 0xffff;
        }
        if (w.w[w.q] != 0)
            entries++;
        count++;
    }
    uint32_t *offsets, *enums;
    napi_value offsets_v = new_u32_array(env, count, &offsets);
    napi_value enums_v = offsets_v ? new_u32_array(env, nenums, &enums) : NULL;
    napi_value out;
    if (!enums_v)
        return NULL;
    uint32_t e = 0;
    offsets[0] = 0;
    for (w.q = 0, w.id = 1; walk_next(&w, &next); w.q = next, w.id++) {
        uint32_t kind = (w.w[w.q + 1] >> 24) & 0x1f;
        offsets[w.id] = (uint32_t)w.q;
        if (kind == 6 || kind == 19)
            enums[e++] = w.id;
    }
    if (napi_create_object(env, &out) != napi_ok) {
        tsbpf_throw_napi(env, "napi_create_object");
        return NULL;
    }
    if (!tsbpf_set_prop(env, out, "offsets", offsets_v) ||
        !tsbpf_set_prop(env, out, "count", tsbpf_uint32(env, count)) ||
        !tsbpf_set_prop(env, out, "entries", tsbpf_uint32(env, entries)) ||
        !tsbpf_set_prop(env, out, "end", tsbpf_uint32(env, (uint32_t)w.q)) ||
        !tsbpf_set_prop(env, out, "enums", enums_v))
        return NULL;
    if (stop_name(w.stop) &&
        (!tsbpf_set_prop(env, out, "stop", tsbpf_string(env, stop_name(w.stop))) ||
         !tsbpf_set_prop(env, out, "stopId", tsbpf_uint32(env, w.id)) ||
         !tsbpf_set_prop(env, out, "stopAt", tsbpf_uint32(env, (uint32_t)w.q))))
        return NULL;
    return out;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * btfTypesNamed(words, nameOffs): the types whose name is at one of the
 * string offsets nameOffs, as pairs [id, index in nameOffs], ids ascending;
 * null when the section is malformed (btfTypeOffsets says where).
 */
napi_value tsbpf_btf_types_named(napi_env env, napi_callback_info info)
{
    static const char op[] = "btfTypesNamed";
    napi_value argv[2];
    struct walk w = {0};
    const uint32_t *offs;
    size_t noffs;
    if (!tsbpf_get_args(env, info, op, 2, argv, NULL) ||
        !arg_words(env, argv[0], op, "words", &w.w, &w.n) ||
        !arg_words(env, argv[1], op, "nameOffs", &offs, &noffs))
        return NULL;
    /* (offset << 32 | index), sorted: a binary search per type */
    uint64_t *keys = malloc((noffs ? noffs : 1) * sizeof(*keys));
    size_t cap = 64, found = 0;
    uint32_t *pairs = malloc(cap * 2 * sizeof(*pairs));
    napi_value result = NULL;
    if (!keys || !pairs) {
        tsbpf_throw(env, op, ENOMEM);
        goto done;
    }
    for (size_t i = 0; i < noffs; i++)
        keys[i] = (uint64_t)offs[i] << 32 | i;
    qsort(keys, noffs, sizeof(*keys), cmp_u64);
    size_t next;
    for (w.q = 0, w.id = 1; walk_next(&w, &next); w.q = next, w.id++) {
        uint64_t name = w.w[w.q];
        if (name == 0 || noffs == 0)
            continue;
        /* the first key with this offset */
        size_t lo = 0, hi = noffs;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (keys[mid] >> 32 < name)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < noffs && keys[lo] >> 32 == name; lo++) {
            if (found == cap) {
                uint32_t *grown = realloc(pairs, cap * 4 * sizeof(*pairs));
                if (!grown) {
                    tsbpf_throw(env, op, ENOMEM);
                    goto done;
                }
                pairs = grown;
                cap *= 2;
            }
            pairs[found * 2] = w.id;
            pairs[found * 2 + 1] = (uint32_t)(keys[lo] & 0xffffffff);
            found++;
        }
    }
    if (stop_name(w.stop)) {
        result = tsbpf_null(env);
        goto done;
    }
    uint32_t *data;
    result = new_u32_array(env, found * 2, &data);
    if (result && found)
        memcpy(data, pairs, found * 2 * sizeof(*pairs));
done:
    free(keys);
    free(pairs);
    return result;
}
