/*
 * A BTF file read in place, and the small BTF of a subset of its types
 * (btf_raw.h). The format is the kernel's documented one
 * (Documentation/bpf/btf.rst): a header, a section of types (each a 3-word
 * header and kind-dependent data) and a section of NUL-terminated strings.
 */
#include "btf_raw.h"
#include "addon.h"

#include <bpf/btf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

static const struct btf_type void_type;

const struct btf_type *btf_raw_type(const struct btf_raw *r, uint32_t id)
{
    return id && id < r->count ? (const struct btf_type *)(r->types + r->offs[id]) : &void_type;
}

void btf_raw_free(struct btf_raw *r)
{
    if (r->mapped)
        munmap(r->mem, r->mem_len);
    else
        free(r->mem);
    free(r->offs);
    memset(r, 0, sizeof(*r));
}

/* The whole file in one malloc'd buffer (sysfs before Linux 6.15 cannot be mapped). */
static int read_file(const char *path, void **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    int err = buf ? 0 : -ENOMEM;
    while (!err) {
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                err = -ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            err = -errno;
        else if (got == 0)
            break;
        else
            n += (size_t)got;
    }
    close(fd);
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* The .BTF of an ELF file, through libbpf, copied out as raw BTF. */
static int read_elf_btf(const char *path, void **out, size_t *len)
{
    struct btf *btf = btf__parse_elf(path, NULL);
    if (!btf)
        return errno ? -errno : -EINVAL;
    __u32 size = 0;
    const void *raw = btf__raw_data(btf, &size);
    void *copy = raw ? malloc(size) : NULL;
    if (copy)
        memcpy(copy, raw, size);
    btf__free(btf);
    if (!copy)
        return -ENOMEM;
    *out = copy;
    *len = size;
    return 0;
}

static bool id_ok(const struct btf_raw *r, uint32_t id)
{
    return id < r->count;
}

static bool str_ok(const struct btf_raw *r, uint32_t off)
{
    return off < r->strs_len;
}

/*
 * Where a type holds type ids and string offsets, for a visitor to check or
 * rewrite: its name, then as the format lays them out (members, values,
 * parameters). vlen may be less than the type's own (a copy cut short).
 * Stops at the first field a callback refuses.
 */
struct field_visitor {
    bool (*id)(void *ctx, uint32_t *id);
    bool (*str)(void *ctx, uint32_t *off);
    void *ctx;
};

static bool visit_fields(struct btf_type *t, uint16_t vlen, const struct field_visitor *v)
{
    bool ok = v->str(v->ctx, &t->name_off);
    switch (btf_kind(t)) {
    case BTF_KIND_PTR:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_FUNC:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
    case BTF_KIND_TYPE_TAG:
        return ok && v->id(v->ctx, &t->type);
    case BTF_KIND_ARRAY:
        return ok && v->id(v->ctx, &btf_array(t)->type) && v->id(v->ctx, &btf_array(t)->index_type);
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
        for (uint16_t i = 0; ok && i < vlen; i++)
            ok = v->id(v->ctx, &btf_members(t)[i].type) &&
                 v->str(v->ctx, &btf_members(t)[i].name_off);
        return ok;
    case BTF_KIND_ENUM:
        for (uint16_t i = 0; ok && i < vlen; i++)
            ok = v->str(v->ctx, &btf_enum(t)[i].name_off);
        return ok;
    case BTF_KIND_ENUM64:
        for (uint16_t i = 0; ok && i < vlen; i++)
            ok = v->str(v->ctx, &btf_enum64(t)[i].name_off);
        return ok;
    case BTF_KIND_FUNC_PROTO:
        ok = ok && v->id(v->ctx, &t->type);
        for (uint16_t i = 0; ok && i < vlen; i++)
            ok =
                v->id(v->ctx, &btf_params(t)[i].type) && v->str(v->ctx, &btf_params(t)[i].name_off);
        return ok;
    case BTF_KIND_DATASEC:
        for (uint16_t i = 0; ok && i < vlen; i++)
            ok = v->id(v->ctx, &btf_var_secinfos(t)[i].type);
        return ok;
    default:
        return ok;
    }
}

static bool check_id(void *ctx, uint32_t *id)
{
    return id_ok(ctx, *id);
}

static bool check_str(void *ctx, uint32_t *off)
{
    return str_ok(ctx, *off);
}

/* The type's references and names are within the BTF (the visitor only reads through the pointers).
 */
static bool type_ok(const struct btf_raw *r, const struct btf_type *t)
{
    const struct field_visitor check = {check_id, check_str, (void *)r};
    return visit_fields((struct btf_type *)t, btf_vlen(t), &check);
}

/* Count the types (offs NULL) or record where each starts. -EINVAL when one runs past the end. */
static int walk_types(struct btf_raw *r, uint32_t types_len, uint32_t *count)
{
    uint32_t n = 1;
    size_t q = 0;
    while (q < types_len) {
        if (q + sizeof(struct btf_type) > types_len)
            return -EINVAL;
        const struct btf_type *t = (const struct btf_type *)(r->types + q);
        int64_t extra = tsbpf_btf_extra_words(btf_kind(t), btf_vlen(t));
        if (extra < 0 || n == UINT32_MAX)
            return -EINVAL;
        if (r->offs)
            r->offs[n] = (uint32_t)q;
        n++;
        q += sizeof(struct btf_type) + 4 * (size_t)extra;
    }
    if (q != types_len)
        return -EINVAL;
    *count = n;
    return 0;
}

/* The header and sections of the bytes in r->mem, every type checked. */
static int check(struct btf_raw *r)
{
    const struct btf_header *h = r->mem;
    if (r->mem_len < sizeof(*h) || h->magic != BTF_MAGIC || h->version != BTF_VERSION ||
        h->hdr_len < sizeof(*h) || h->hdr_len > r->mem_len)
        return -EINVAL;
    uint64_t base = h->hdr_len;
    if (base + h->type_off + h->type_len > r->mem_len ||
        base + h->str_off + h->str_len > r->mem_len || (base + h->type_off) % 4 != 0 ||
        h->str_len == 0)
        return -EINVAL;
    r->types = (const char *)r->mem + base + h->type_off;
    r->strs = (const char *)r->mem + base + h->str_off;
    r->strs_len = h->str_len;
    if (r->strs[0] != 0 || r->strs[r->strs_len - 1] != 0)
        return -EINVAL;

    uint32_t count = 0;
    int err = walk_types(r, h->type_len, &count);
    if (err)
        return err;
    r->offs = malloc((size_t)count * sizeof(*r->offs));
    if (!r->offs)
        return -ENOMEM;
    r->offs[0] = 0;
    walk_types(r, h->type_len, &count);
    r->count = count;
    for (uint32_t id = 1; id < count; id++)
        if (!type_ok(r, btf_raw_type(r, id)))
            return -EINVAL;
    return 0;
}

/*
 * Whether the file is sysfs's (the kernel's BTF, which never changes while
 * the kernel runs). Only such a file is read through a mapping: the types are
 * checked once and then read for as long as the cache keeps them, and a
 * regular file rewritten in place under a private mapping may show the new
 * bytes (or, truncated, fault).
 */
static bool on_sysfs(const char *path)
{
    struct statfs fs;
    return statfs(path, &fs) == 0 && fs.f_type == SYSFS_MAGIC;
}

int btf_raw_open(struct btf_raw *r, const char *path)
{
    memset(r, 0, sizeof(*r));
    r->mem = on_sysfs(path) ? tsbpf_map_file(path, &r->mem_len) : NULL;
    r->mapped = r->mem != NULL;
    int err = 0;
    if (!r->mapped)
        err = read_file(path, &r->mem, &r->mem_len);
    if (!err && r->mem_len >= 4 && memcmp(r->mem, "\177ELF", 4) == 0) {
        void *elf = r->mem;
        size_t elf_len = r->mem_len;
        bool mapped = r->mapped;
        err = read_elf_btf(path, &r->mem, &r->mem_len);
        r->mapped = false;
        if (mapped)
            munmap(elf, elf_len);
        else
            free(elf);
    }
    if (!err)
        err = check(r);
    if (err)
        btf_raw_free(r);
    return err;
}

/* ---- the subset's BTF ----------------------------------------------------- */

enum { VIA_PTR = 1, BY_VALUE = 2 };

struct closure {
    const struct btf_raw *r;
    unsigned char *seen; /* VIA_PTR | BY_VALUE per id */
    uint32_t *stack;     /* id << 1 | through a pointer */
    size_t depth;
};

static void reach(struct closure *c, uint32_t id, bool via_ptr)
{
    unsigned char bit = via_ptr ? VIA_PTR : BY_VALUE;
    if (!id || (c->seen[id] & bit))
        return;
    c->seen[id] |= bit;
    c->stack[c->depth++] = id << 1 | (via_ptr ? 1 : 0);
}

/*
 * What libbpf's btf_dump looks at when it orders and prints a type reached
 * this way: through a pointer a named struct or union is only forward
 * declared; a typedef, a modifier or a prototype passes the pointer on; an
 * array's element and a struct's members are by value.
 */
static void reach_from(struct closure *c, uint32_t id, bool via_ptr)
{
    const struct btf_type *t = btf_raw_type(c->r, id);
    uint16_t vlen = btf_vlen(t);
    switch (btf_kind(t)) {
    case BTF_KIND_PTR:
        reach(c, t->type, true);
        break;
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_TYPE_TAG:
    case BTF_KIND_FUNC:
        reach(c, t->type, via_ptr);
        break;
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
        reach(c, t->type, false);
        break;
    case BTF_KIND_ARRAY:
        reach(c, btf_array(t)->type, false);
        reach(c, btf_array(t)->index_type, false);
        break;
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
        if (via_ptr && t->name_off)
            break;
        for (uint16_t i = 0; i < vlen; i++)
            reach(c, btf_members(t)[i].type, false);
        break;
    case BTF_KIND_FUNC_PROTO:
        reach(c, t->type, via_ptr);
        for (uint16_t i = 0; i < vlen; i++)
            reach(c, btf_params(t)[i].type, via_ptr);
        break;
    case BTF_KIND_DATASEC:
        for (uint16_t i = 0; i < vlen; i++)
            reach(c, btf_var_secinfos(t)[i].type, false);
        break;
    default:
        break;
    }
}

/* A named struct or union reached only through pointers: kept without its members. */
static bool name_only(const struct btf_raw *r, const unsigned char *seen, uint32_t id)
{
    const struct btf_type *t = btf_raw_type(r, id);
    return seen[id] == VIA_PTR && t->name_off && (btf_is_struct(t) || btf_is_union(t));
}

/* Old string offsets to new ones: open addressing keyed by the old offset (+1; 0 is empty). */
struct str_map {
    uint32_t *keys;
    uint32_t *vals;
    size_t mask;
};

struct writer {
    const struct btf_raw *r;
    const uint32_t *new_id;
    struct str_map strs;
    char *types;
    size_t types_len;
    char *names;
    size_t names_len;
};

static uint32_t new_str(struct writer *w, uint32_t off)
{
    if (!off)
        return 0;
    size_t i = (off * 2654435761u) & w->strs.mask;
    while (w->strs.keys[i] && w->strs.keys[i] != off + 1)
        i = (i + 1) & w->strs.mask;
    if (w->strs.keys[i])
        return w->strs.vals[i];
    const char *s = btf_raw_name(w->r, off);
    size_t len = strlen(s) + 1;
    w->strs.keys[i] = off + 1;
    w->strs.vals[i] = (uint32_t)w->names_len;
    memcpy(w->names + w->names_len, s, len);
    w->names_len += len;
    return w->strs.vals[i];
}

static bool renumber_id(void *ctx, uint32_t *id)
{
    *id = ((struct writer *)ctx)->new_id[*id];
    return true;
}

static bool renumber_str(void *ctx, uint32_t *off)
{
    *off = new_str(ctx, *off);
    return true;
}

/* Append type `id` with its ids and names renumbered; without members when members is false. */
static void write_type(struct writer *w, uint32_t id, bool members)
{
    const struct btf_type *t = btf_raw_type(w->r, id);
    uint16_t vlen = members ? btf_vlen(t) : 0;
    size_t len = sizeof(*t) + 4 * (size_t)tsbpf_btf_extra_words(btf_kind(t), vlen);
    struct btf_type *out = (struct btf_type *)(w->types + w->types_len);
    memcpy(out, t, len);
    w->types_len += len;
    if (!members)
        out->info = (t->info & ~0xffffu);
    const struct field_visitor renumber = {renumber_id, renumber_str, w};
    visit_fields(out, vlen, &renumber);
}

/* The bytes of the names a type holds (each with its NUL): vlen 0 counts only its own. */
static size_t names_size(const struct btf_raw *r, const struct btf_type *t, uint16_t vlen)
{
    size_t n = strlen(btf_raw_name(r, t->name_off)) + 1;
    for (uint16_t i = 0; i < vlen; i++) {
        switch (btf_kind(t)) {
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION:
            n += strlen(btf_raw_name(r, btf_members(t)[i].name_off)) + 1;
            break;
        case BTF_KIND_ENUM:
            n += strlen(btf_raw_name(r, btf_enum(t)[i].name_off)) + 1;
            break;
        case BTF_KIND_ENUM64:
            n += strlen(btf_raw_name(r, btf_enum64(t)[i].name_off)) + 1;
            break;
        case BTF_KIND_FUNC_PROTO:
            n += strlen(btf_raw_name(r, btf_params(t)[i].name_off)) + 1;
            break;
        default:
            break;
        }
    }
    return n;
}

/* The closure's types as raw BTF (header, types, strings) in one malloc'd block. */
static void *write_btf(const struct btf_raw *r, const unsigned char *seen, const uint32_t *new_id,
                       size_t *size)
{
    /* Sizes first: the types exactly, the strings at most (before duplicates go). */
    size_t types_len = 0, names = 0, names_cap = 1;
    for (uint32_t id = 1; id < r->count; id++) {
        if (!seen[id])
            continue;
        const struct btf_type *t = btf_raw_type(r, id);
        uint16_t vlen = name_only(r, seen, id) ? 0 : btf_vlen(t);
        types_len += sizeof(*t) + 4 * (size_t)tsbpf_btf_extra_words(btf_kind(t), vlen);
        names += 1 + (size_t)vlen;
        names_cap += names_size(r, t, vlen);
    }
    struct writer w = {.r = r, .new_id = new_id};
    size_t cap = 16;
    while (cap < 2 * names)
        cap *= 2;
    w.strs.keys = calloc(cap, sizeof(uint32_t));
    w.strs.vals = malloc(cap * sizeof(uint32_t));
    w.strs.mask = cap - 1;
    w.types = malloc(types_len ? types_len : 1);
    w.names = malloc(names_cap);
    char *blob = NULL;
    if (!w.strs.keys || !w.strs.vals || !w.types || !w.names)
        goto done;
    w.names[0] = 0;
    w.names_len = 1;
    for (uint32_t id = 1; id < r->count; id++)
        if (seen[id])
            write_type(&w, id, !name_only(r, seen, id));

    struct btf_header h = {
        .magic = BTF_MAGIC,
        .version = BTF_VERSION,
        .hdr_len = sizeof(h),
        .type_off = 0,
        .type_len = (uint32_t)w.types_len,
        .str_off = (uint32_t)w.types_len,
        .str_len = (uint32_t)w.names_len,
    };
    *size = sizeof(h) + w.types_len + w.names_len;
    blob = malloc(*size);
    if (blob) {
        memcpy(blob, &h, sizeof(h));
        memcpy(blob + sizeof(h), w.types, w.types_len);
        memcpy(blob + sizeof(h) + w.types_len, w.names, w.names_len);
    }

done:
    free(w.strs.keys);
    free(w.strs.vals);
    free(w.types);
    free(w.names);
    return blob;
}

struct btf *btf_raw_subset(const struct btf_raw *r, const unsigned char *roots,
                           unsigned char **mini_roots)
{
    struct closure c = {.r = r, .seen = calloc(r->count, 1)};
    uint32_t *new_id = calloc(r->count, sizeof(*new_id));
    /* Each id is pushed at most twice (through a pointer, by value). */
    c.stack = malloc(2 * (size_t)r->count * sizeof(*c.stack));
    struct btf *btf = NULL;
    unsigned char *mini = NULL;
    void *blob = NULL;
    int err = -ENOMEM;
    if (!c.seen || !new_id || !c.stack || r->count >= (1u << 31))
        goto done;

    for (uint32_t id = 1; id < r->count; id++)
        if (roots[id])
            reach(&c, id, false);
    while (c.depth) {
        uint32_t e = c.stack[--c.depth];
        reach_from(&c, e >> 1, e & 1);
    }

    uint32_t n = 1;
    for (uint32_t id = 1; id < r->count; id++)
        if (c.seen[id])
            new_id[id] = n++;
    mini = calloc(n, 1);
    size_t size = 0;
    blob = mini ? write_btf(r, c.seen, new_id, &size) : NULL;
    if (!blob)
        goto done;
    for (uint32_t id = 1; id < r->count; id++)
        if (roots[id])
            mini[new_id[id]] = 1;
    btf = btf__new(blob, (uint32_t)size);
    err = btf ? 0 : (errno ? -errno : -EINVAL);

done:
    free(c.seen);
    free(c.stack);
    free(new_id);
    free(blob);
    if (err) {
        free(mini);
        errno = -err;
        return NULL;
    }
    *mini_roots = mini;
    return btf;
}
