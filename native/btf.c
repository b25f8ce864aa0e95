/*
 * btfDumpHeader: the C header of a BTF file, the way bpftool's "format c"
 * prints it. btfDumpSubset: the same header cut down to the types a program
 * names, with what they need to compile.
 */
#include "addon.h"
#include "btf_raw.h"
#include "util.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static void dump_printf(void *ctx, const char *fmt, va_list ap)
{
    tsbpf_buf_vprintf(ctx, fmt, ap);
}

static void put(struct tsbpf_buf *b, const char *s)
{
    tsbpf_buf_append(b, s, strlen(s));
}

static const char guard_open[] = "#ifndef __VMLINUX_H__\n"
                                 "#define __VMLINUX_H__\n"
                                 "\n"
                                 "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
                                 "#pragma clang attribute push "
                                 "(__attribute__((preserve_access_index)), apply_to = record)\n"
                                 "#endif\n"
                                 "\n";

static const char guard_close[] = "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
                                  "#pragma clang attribute pop\n"
                                  "#endif\n"
                                  "\n"
                                  "#endif /* __VMLINUX_H__ */\n";

/*
 * libbpf 1.1 prints a prototype without parameters as "()"; bpftool and
 * newer libbpf print "(void)", which is the same in C23 and a prototype
 * before it. Nothing else in btf_dump's output contains "()".
 */
static bool void_params(struct tsbpf_buf *in, struct tsbpf_buf *out)
{
    const char *p = tsbpf_buf_text(in);
    const char *hit;
    while ((hit = strstr(p, "()"))) {
        tsbpf_buf_append(out, p, (size_t)(hit - p));
        put(out, "(void)");
        p = hit + 2;
    }
    put(out, p);
    return !out->truncated;
}

/*
 * The header of the types whose bit is set in `only` (every type when only is
 * NULL), each with the types it needs, in increasing id order and wrapped like
 * bpftool's vmlinux.h. One btf_dump emits each type once: a type's strong
 * dependencies come before it, pointer-only ones as forward declarations. NULL
 * with an exception pending on failure.
 */
static napi_value dump_header(napi_env env, const char *op, const struct btf *btf,
                              const unsigned char *only)
{
    struct tsbpf_buf out = {0}, text = {0};
    napi_value result = NULL;
    struct btf_dump *dump = btf_dump__new(btf, dump_printf, &out, NULL);
    if (!dump) {
        result = tsbpf_throw(env, "btf_dump__new", errno ? errno : ENOMEM);
        goto done;
    }

    put(&out, guard_open);
    __u32 count = btf__type_cnt(btf);
    for (__u32 id = 1; id < count; id++) {
        if (only && !only[id])
            continue;
        int err = btf_dump__dump_type(dump, id);
        if (err) {
            result = tsbpf_throw(env, "btf_dump__dump_type", err);
            goto done;
        }
    }
    put(&out, guard_close);

    if (out.truncated || !void_params(&out, &text))
        result = tsbpf_throw(env, op, ENOMEM);
    else if (napi_create_string_utf8(env, text.data, text.len, &result) != napi_ok)
        result = tsbpf_throw_napi(env, "napi_create_string_utf8");

done:
    btf_dump__free(dump);
    tsbpf_buf_free(&out);
    tsbpf_buf_free(&text);
    return result;
}

/*
 * The whole BTF of `path` for libbpf: read as the subset's cache reads it
 * (btf_raw_open: sysfs's file mapped, so libbpf's copy is the only one in
 * memory; other files and ELF files read), then parsed by btf__new. NULL and
 * errno on failure.
 */
static struct btf *parse_btf(const char *path)
{
    struct btf_raw raw;
    int err = btf_raw_open(&raw, path);
    if (err) {
        errno = -err;
        return NULL;
    }
    struct btf *btf = btf__new(raw.mem, (__u32)raw.mem_len);
    err = errno;
    btf_raw_free(&raw);
    errno = err;
    return btf;
}

/* btfDumpHeader(path) */
napi_value tsbpf_btf_dump_header(napi_env env, napi_callback_info info)
{
    static const char op[] = "btfDumpHeader";
    napi_value argv[1];
    char *path;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_string(env, argv[0], op, "btfPath", &path))
        return NULL;

    tsbpf_log_reset();
    struct btf *btf = parse_btf(path);
    int err = errno;
    free(path);
    if (!btf)
        return tsbpf_throw(env, "btf__parse", err ? err : EINVAL);

    napi_value result = dump_header(env, op, btf, NULL);
    btf__free(btf);
    return result;
}

/* ---- name tables ---------------------------------------------------------- */

/* Open addressing, sized at creation to stay at most half full. */
struct name_slot {
    const char *name;
    __u32 val;
};

struct name_table {
    struct name_slot *slots;
    size_t mask;
};

/* Slots for `names` at most half full: a power of two. */
static size_t table_cap(size_t names)
{
    size_t cap = 16;
    while (cap < 2 * names)
        cap *= 2;
    return cap;
}

/* FNV-1a of a name: where its probe starts. */
static __u32 name_hash(const char *name)
{
    __u32 h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static bool table_init(struct name_table *t, size_t names)
{
    size_t cap = table_cap(names);
    t->slots = calloc(cap, sizeof(*t->slots));
    t->mask = cap - 1;
    return t->slots != NULL;
}

static void table_free(struct name_table *t)
{
    free(t->slots);
    t->slots = NULL;
}

/* The slot of `name`: its own, or the empty one where it goes. */
static struct name_slot *table_slot(const struct name_table *t, const char *name)
{
    size_t i = name_hash(name) & t->mask;
    while (t->slots[i].name && strcmp(t->slots[i].name, name) != 0)
        i = (i + 1) & t->mask;
    return &t->slots[i];
}

/* ---- the cached BTF and its name index ----------------------------------- */

/*
 * The type ids of one name, as a list threaded through an array; name_off
 * is where the name is in the BTF's strings (the index's slots hold only
 * the first entry of each name: 4 bytes a slot instead of a pointer and a
 * value, ~2.5 MB less over the kernel's ~100,000 names).
 */
struct id_entry {
    __u32 id;
    __u32 next; /* 0 ends the list */
    __u32 name_off;
};

/* Open addressing over entries, sized at creation to stay at most half full; 0 is an empty slot. */
struct entry_index {
    __u32 *slots;
    size_t mask;
};

/*
 * The BTF of the last path, kept while the file looks unchanged. Warm
 * processes compile several programs against the same kernel; the lock
 * serializes the addon's instances in worker threads. The index and the
 * selection read the file's bytes in place (btf_raw.h); libbpf gets only
 * the small BTF of the types a header prints.
 */
static struct btf_cache {
    char *path;
    struct stat st;
    struct btf_raw raw;
    /* name -> head of its list in entries ([0] unused) */
    struct entry_index index;
    struct id_entry *entries;
    __u32 entry_cnt;
} cache;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void cache_clear(struct btf_cache *c)
{
    free(c->path);
    btf_raw_free(&c->raw);
    free(c->index.slots);
    free(c->entries);
    memset(c, 0, sizeof(*c));
}

static bool is_root_kind(__u16 kind)
{
    switch (kind) {
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_FWD:
        return true;
    default:
        return false;
    }
}

static const char *type_name(const struct btf_raw *btf, const struct btf_type *t)
{
    return btf_raw_name(btf, t->name_off);
}

/* What index_build needs to know of the references between types. */
struct refs {
    /* Set like btf_dump's "referenced" flag. */
    unsigned char *referenced;
    /* The first type that prints the type inline in its own text. */
    __u32 *parent;
};

static void note_ref(struct refs *r, __u32 from, __u32 to, bool referenced, bool inline_in)
{
    if (referenced)
        r->referenced[to] = 1;
    if (inline_in && !r->parent[to])
        r->parent[to] = from;
}

static void note_refs(struct refs *r, __u32 id, const struct btf_type *t)
{
    __u16 vlen = btf_vlen(t);
    switch (btf_kind(t)) {
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_PTR:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_TYPE_TAG:
        note_ref(r, id, t->type, true, true);
        break;
    case BTF_KIND_FUNC:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
        note_ref(r, id, t->type, true, false);
        break;
    case BTF_KIND_ARRAY:
        note_ref(r, id, btf_array(t)->index_type, true, false);
        note_ref(r, id, btf_array(t)->type, true, true);
        break;
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
        for (__u16 i = 0; i < vlen; i++)
            note_ref(r, id, btf_members(t)[i].type, true, true);
        break;
    case BTF_KIND_FUNC_PROTO:
        /* btf_dump does not count the return type as a reference. */
        note_ref(r, id, t->type, false, true);
        for (__u16 i = 0; i < vlen; i++)
            note_ref(r, id, btf_params(t)[i].type, true, true);
        break;
    case BTF_KIND_DATASEC:
        for (__u16 i = 0; i < vlen; i++)
            note_ref(r, id, btf_var_secinfos(t)[i].type, true, false);
        break;
    default:
        break;
    }
}

/*
 * The type whose dump defines the enumerators of enum `id`. btf_dump prints
 * a named or unreferenced enum on its own, but an anonymous enum that another
 * type uses only inline, in the struct, union or typedef that holds it: that
 * type, found through the chain of parents. 0 when nothing prints the enum
 * (used only by variables or functions): the full header lacks it too.
 */
static __u32 enum_owner(const struct btf_raw *btf, const struct refs *r, __u32 id)
{
    if (btf_raw_type(btf, id)->name_off || !r->referenced[id])
        return id;
    for (int depth = 0; depth < 64; depth++) {
        id = r->parent[id];
        if (!id)
            return 0;
        const struct btf_type *t = btf_raw_type(btf, id);
        switch (btf_kind(t)) {
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION:
            if (t->name_off)
                return id;
            break;
        case BTF_KIND_TYPEDEF:
            return id;
        case BTF_KIND_VOLATILE:
        case BTF_KIND_CONST:
        case BTF_KIND_RESTRICT:
        case BTF_KIND_PTR:
        case BTF_KIND_TYPE_TAG:
        case BTF_KIND_ARRAY:
        case BTF_KIND_FUNC_PROTO:
            break;
        default:
            return 0;
        }
    }
    return 0;
}

/* The slot of `name` in the cache's index: the one holding its first entry, or the empty one where
 * it goes. */
static __u32 *index_slot(const struct btf_cache *c, const char *name)
{
    size_t i = name_hash(name) & c->index.mask;
    for (__u32 e; (e = c->index.slots[i]) != 0; i = (i + 1) & c->index.mask) {
        if (strcmp(btf_raw_name(&c->raw, c->entries[e].name_off), name) == 0)
            break;
    }
    return &c->index.slots[i];
}

/* The first entry of `name`'s list, 0 when the index has none. */
static __u32 index_first(const struct btf_cache *c, const char *name)
{
    return *index_slot(c, name);
}

static void index_add(struct btf_cache *c, __u32 name_off, const char *name, __u32 id)
{
    __u32 *slot = index_slot(c, name);
    __u32 e = ++c->entry_cnt;
    c->entries[e].id = id;
    c->entries[e].next = *slot;
    c->entries[e].name_off = name_off;
    *slot = e;
}

static bool index_init(struct entry_index *x, size_t names)
{
    size_t cap = table_cap(names);
    x->slots = calloc(cap, sizeof(*x->slots));
    x->mask = cap - 1;
    return x->slots != NULL;
}

/*
 * The index from names to the types to dump for them: a struct, union, enum,
 * typedef or forward declaration by its name, the type that defines an
 * enumerator by the enumerator's name. The names point into the BTF.
 */
static int index_build(struct btf_cache *c)
{
    const struct btf_raw *btf = &c->raw;
    __u32 count = btf->count;
    struct refs r = {calloc(count, 1), calloc(count, sizeof(__u32))};
    int err = -ENOMEM;
    if (!r.referenced || !r.parent)
        goto done;

    size_t names = 0;
    for (__u32 id = 1; id < count; id++) {
        const struct btf_type *t = btf_raw_type(btf, id);
        note_refs(&r, id, t);
        if (is_root_kind(btf_kind(t)) && t->name_off)
            names++;
        if (btf_is_any_enum(t))
            names += btf_vlen(t);
    }
    c->entries = calloc(names + 1, sizeof(*c->entries));
    if (!c->entries || !index_init(&c->index, names))
        goto done;

    for (__u32 id = 1; id < count; id++) {
        const struct btf_type *t = btf_raw_type(btf, id);
        const char *name = type_name(btf, t);
        if (is_root_kind(btf_kind(t)) && name[0])
            index_add(c, t->name_off, name, id);
        if (!btf_is_any_enum(t))
            continue;
        __u32 owner = enum_owner(btf, &r, id);
        for (__u16 i = 0; owner && i < btf_vlen(t); i++) {
            __u32 off = btf_is_enum(t) ? btf_enum(t)[i].name_off : btf_enum64(t)[i].name_off;
            const char *value = btf_raw_name(btf, off);
            if (value[0])
                index_add(c, off, value, owner);
        }
    }
    err = 0;

done:
    free(r.referenced);
    free(r.parent);
    return err;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Parse `path` unless the cache holds it already. Call with cache_lock held.
 * false with an exception pending on failure.
 */
static bool cache_load(napi_env env, const char *path)
{
    struct stat st = {0};
    bool have_stat = stat(path, &st) == 0;
    if (cache.raw.count && have_stat && cache.path && strcmp(cache.path, path) == 0 &&
        same_file(&cache.st, &st))
        return true;

    struct btf_cache fresh = {0};
    int open_err = btf_raw_open(&fresh.raw, path);
    if (open_err) {
        tsbpf_throw(env, "readBtf", -open_err);
        return false;
    }
    fresh.st = st;
    /* Without a stat to tell a change, the next call parses again. */
    fresh.path = have_stat ? strdup(path) : NULL;
    int err = have_stat && !fresh.path ? -ENOMEM : index_build(&fresh);
    if (err) {
        cache_clear(&fresh);
        tsbpf_throw(env, "btfDumpSubset", err);
        return false;
    }
    cache_clear(&cache);
    cache = fresh;
    return true;
}

/* ---- subset selection ------------------------------------------------------ */

struct subset {
    const struct btf_raw *btf;
    /* The names the program uses (the call's, deduplicated). */
    struct name_table names;
    /* Roots to dump. */
    unsigned char *selected;
    __u32 roots;
    /* Structs and unions whose members were looked at, and those still to. */
    unsigned char *scanned;
    __u32 *queue;
    __u32 queued;
};

static void select_type(struct subset *s, __u32 id)
{
    if (s->selected[id])
        return;
    s->selected[id] = 1;
    s->roots++;
}

/*
 * Walk from a type a program can reach to the struct or union behind it:
 * through modifiers, typedefs, arrays and pointers. Behind a pointer btf_dump
 * would only forward-declare a named struct, so that one (and any typedef on
 * the way) becomes a root, complete. The struct or union reached is queued to
 * have its members looked at.
 */
static void follow(struct subset *s, __u32 id)
{
    bool behind_ptr = false;
    for (int depth = 0; depth < 64; depth++) {
        const struct btf_type *t = btf_raw_type(s->btf, id);
        switch (btf_kind(t)) {
        case BTF_KIND_PTR:
            behind_ptr = true;
            id = t->type;
            continue;
        case BTF_KIND_TYPEDEF:
            if (behind_ptr)
                select_type(s, id);
            id = t->type;
            continue;
        case BTF_KIND_VOLATILE:
        case BTF_KIND_CONST:
        case BTF_KIND_RESTRICT:
        case BTF_KIND_TYPE_TAG:
            id = t->type;
            continue;
        case BTF_KIND_ARRAY:
            id = btf_array(t)->type;
            continue;
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION:
            if (behind_ptr && t->name_off)
                select_type(s, id);
            if (!s->scanned[id]) {
                s->scanned[id] = 1;
                s->queue[s->queued++] = id;
            }
            return;
        default:
            return;
        }
    }
}

/*
 * The closure over member accesses: a member of a struct the program reaches
 * whose name the program uses (`t->mm->arg_start`) makes the type it leads to
 * reachable, complete. Anonymous members are always reachable.
 */
static void close_members(struct subset *s)
{
    while (s->queued) {
        const struct btf_type *t = btf_raw_type(s->btf, s->queue[--s->queued]);
        const struct btf_member *m = btf_members(t);
        for (__u16 i = 0; i < btf_vlen(t); i++, m++) {
            const char *name = btf_raw_name(s->btf, m->name_off);
            if (!name[0] || table_slot(&s->names, name)->name)
                follow(s, m->type);
        }
    }
}

static void subset_free(struct subset *s)
{
    table_free(&s->names);
    free(s->selected);
    free(s->scanned);
    free(s->queue);
}

/*
 * Select and dump the subset for `names`; `missing` gets the indexes of the
 * names that selected nothing. Runs no JavaScript (the caller holds
 * cache_lock). NULL with an exception pending on failure.
 */
static napi_value dump_subset(napi_env env, const char *path, char **names, uint32_t n,
                              uint32_t *missing, uint32_t *missing_cnt, uint32_t *roots)
{
    static const char op[] = "btfDumpSubset";
    if (!cache_load(env, path))
        return NULL;
    __u32 count = cache.raw.count;
    struct subset s = {
        .btf = &cache.raw,
        .selected = calloc(count, 1),
        .scanned = calloc(count, 1),
        .queue = calloc(count, sizeof(__u32)),
    };
    napi_value header = NULL;
    if (!s.selected || !s.scanned || !s.queue || !table_init(&s.names, n)) {
        tsbpf_throw(env, op, ENOMEM);
        goto done;
    }

    for (uint32_t i = 0; i < n; i++) {
        struct name_slot *seen = table_slot(&s.names, names[i]);
        if (seen->name)
            continue;
        seen->name = names[i];
        __u32 first = index_first(&cache, names[i]);
        if (!first)
            missing[(*missing_cnt)++] = i;
        for (__u32 e = first; e; e = cache.entries[e].next) {
            select_type(&s, cache.entries[e].id);
            follow(&s, cache.entries[e].id);
        }
    }
    close_members(&s);
    *roots = s.roots;
    unsigned char *mini_roots = NULL;
    struct btf *mini = btf_raw_subset(&cache.raw, s.selected, &mini_roots);
    if (!mini) {
        tsbpf_throw(env, "btf__new", errno ? errno : ENOMEM);
        goto done;
    }
    header = dump_header(env, op, mini, mini_roots);
    btf__free(mini);
    free(mini_roots);

done:
    subset_free(&s);
    return header;
}

/* btfDumpSubset(path, names) */
napi_value tsbpf_btf_dump_subset(napi_env env, napi_callback_info info)
{
    static const char op[] = "btfDumpSubset";
    napi_value argv[2];
    if (!tsbpf_get_args(env, info, op, 2, argv, NULL))
        return NULL;
    char *path = NULL;
    char **names = NULL;
    uint32_t *missing = NULL;
    uint32_t n = 0, missing_cnt = 0, roots = 0;
    napi_value result = NULL, header, list, v;
    if (!tsbpf_arg_string(env, argv[0], op, "btfPath", &path) ||
        !tsbpf_arg_strings(env, argv[1], op, "names", &names, &n))
        goto done;
    missing = calloc(n ? n : 1, sizeof(*missing));
    if (!missing) {
        tsbpf_throw(env, op, ENOMEM);
        goto done;
    }

    tsbpf_log_reset();
    pthread_mutex_lock(&cache_lock);
    header = dump_subset(env, path, names, n, missing, &missing_cnt, &roots);
    pthread_mutex_unlock(&cache_lock);
    if (!header)
        goto done;

    if (napi_create_object(env, &v) != napi_ok || napi_create_array(env, &list) != napi_ok) {
        tsbpf_throw_napi(env, "napi_create_object");
        goto done;
    }
    for (uint32_t i = 0; i < missing_cnt; i++) {
        napi_value name = tsbpf_string(env, names[missing[i]]);
        if (!name)
            goto done;
        if (napi_set_element(env, list, i, name) != napi_ok) {
            tsbpf_throw_napi(env, "napi_set_element");
            goto done;
        }
    }
    if (tsbpf_set_prop(env, v, "header", header) &&
        tsbpf_set_prop(env, v, "types", tsbpf_uint32(env, roots)) &&
        tsbpf_set_prop(env, v, "missing", list))
        result = v;

done:
    tsbpf_free_strings(names, n);
    free(missing);
    free(path);
    return result;
}

/* ---- bit-field questions ----------------------------------------------------- */

/* The type behind typedefs and modifiers (void for a chain too long to be real). */
static const struct btf_type *resolve_type(const struct btf_raw *btf, __u32 id)
{
    const struct btf_type *t = btf_raw_type(btf, id);
    for (int depth = 0; depth < 32; depth++) {
        switch (btf_kind(t)) {
        case BTF_KIND_TYPEDEF:
        case BTF_KIND_VOLATILE:
        case BTF_KIND_CONST:
        case BTF_KIND_RESTRICT:
        case BTF_KIND_TYPE_TAG:
            t = btf_raw_type(btf, t->type);
            continue;
        default:
            return t;
        }
    }
    return btf_raw_type(btf, 0);
}

/*
 * The member `name` of the struct or union `id`, looking inside anonymous
 * members as C does (their members are named as the parent's). NULL when
 * there is none; *owner gets the struct or union that holds it.
 */
static const struct btf_member *find_member(const struct btf_raw *btf, __u32 id, const char *name,
                                            const struct btf_type **owner, int depth)
{
    const struct btf_type *t = resolve_type(btf, id);
    if (!btf_is_composite(t) || depth > 16)
        return NULL;
    const struct btf_member *m = btf_members(t);
    for (__u16 i = 0; i < btf_vlen(t); i++, m++) {
        const char *n = btf_raw_name(btf, m->name_off);
        if (n[0]) {
            if (strcmp(n, name) == 0) {
                *owner = t;
                return m;
            }
            continue;
        }
        const struct btf_member *inner = find_member(btf, m->type, name, owner, depth + 1);
        if (inner)
            return inner;
    }
    return NULL;
}

/*
 * Width of the member reached from the record `kind name` through `fields`
 * (each looked up in the type of the one before): > 0 for a bit-field, 0 for
 * another member, -1 when the record or a member is not in the BTF. `kind` is
 * "struct", "union", or "" for a typedef name.
 */
static int member_bitfield(const struct btf_raw *btf, const char *kind, const char *name,
                           char **fields, uint32_t n)
{
    for (__u32 e = index_first(&cache, name); e; e = cache.entries[e].next) {
        __u32 id = cache.entries[e].id;
        const struct btf_type *t = btf_raw_type(btf, id);
        bool match = (strcmp(kind, "struct") == 0 && btf_is_struct(t)) ||
                     (strcmp(kind, "union") == 0 && btf_is_union(t)) ||
                     (kind[0] == 0 && btf_is_typedef(t));
        if (!match)
            continue;
        int width = 0;
        for (uint32_t i = 0; i < n; i++) {
            const struct btf_type *owner = NULL;
            const struct btf_member *m = find_member(btf, id, fields[i], &owner, 0);
            if (!m) {
                width = -1;
                break;
            }
            width = btf_member_bitfield_size(owner, (__u32)(m - btf_members(owner)));
            id = m->type;
        }
        if (width >= 0)
            return width;
    }
    return -1;
}

/*
 * btfCacheRelease(): frees the cached BTF and its index (2.6 MB for 6.18's
 * vmlinux, whose file is mapped; 5.5 MB more where it is read). A compile
 * releases it when done: a tracer compiles once and then
 * runs for hours, and parsing again costs a later compile ~10 ms.
 */
napi_value tsbpf_btf_cache_release(napi_env env, napi_callback_info info)
{
    (void)info;
    pthread_mutex_lock(&cache_lock);
    cache_clear(&cache);
    pthread_mutex_unlock(&cache_lock);
    napi_value undef;
    napi_get_undefined(env, &undef);
    return undef;
}

/* btfBitfield(path, kind, name, fields) */
napi_value tsbpf_btf_bitfield(napi_env env, napi_callback_info info)
{
    static const char op[] = "btfBitfield";
    napi_value argv[4];
    if (!tsbpf_get_args(env, info, op, 4, argv, NULL))
        return NULL;
    char *path = NULL, *kind = NULL, *name = NULL;
    char **fields = NULL;
    uint32_t n = 0;
    napi_value result = NULL, v;
    if (!tsbpf_arg_string(env, argv[0], op, "btfPath", &path) ||
        !tsbpf_arg_string(env, argv[1], op, "kind", &kind) ||
        !tsbpf_arg_string(env, argv[2], op, "name", &name) ||
        !tsbpf_arg_strings(env, argv[3], op, "fields", &fields, &n))
        goto done;

    pthread_mutex_lock(&cache_lock);
    bool loaded = cache_load(env, path);
    int width = loaded ? member_bitfield(&cache.raw, kind, name, fields, n) : -1;
    pthread_mutex_unlock(&cache_lock);
    if (loaded && napi_create_int32(env, width, &v) == napi_ok)
        result = v;

done:
    tsbpf_free_strings(fields, n);
    free(path);
    free(kind);
    free(name);
    return result;
}
