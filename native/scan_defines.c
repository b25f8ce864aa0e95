/*
 * scanDefines(files, names, prefixes): which of `names`, and which names
 * starting with one of `prefixes`, a `#define` in the files names, by a
 * plain text scan: `#`, blanks, `define`, at least one blank, the name (an
 * identifier, taken whole). src/compile/uapi_macros.ts asks it of the
 * system's UAPI headers (~1,100 files, 7 MB) at a program's first compile on
 * a machine. In C because in JavaScript each file's text became a string:
 * ~25 ms and ~9 MB of heap growth at the compile's peak (Node 20).
 *
 * A file that cannot be read is skipped (the preprocessor could not read it
 * either). The names and prefixes are identifiers (the caller checks).
 *
 * scanDefinesIn(paths, names, prefixes): the same over files and every file
 * under directories, links followed, each directory once. The walk in JavaScript
 * (a readdir with file types per directory, a path and a string per file)
 * took ~13 ms of a first compile's main thread, beside its clang.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addon.h"
#include "util.h"

static bool is_ident(unsigned char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_ident_start(unsigned char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct found {
    char **list;
    size_t n, cap;
};

static bool found_add(struct found *f, const char *s, size_t len)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        char **grown = realloc(f->list, cap * sizeof(*grown));
        if (!grown)
            return false;
        f->list = grown;
        f->cap = cap;
    }
    char *copy = strndup(s, len);
    if (!copy)
        return false;
    f->list[f->n++] = copy;
    return true;
}

/* The file's bytes into *buf (grown as needed); false when it cannot be read. */
static bool read_file(const char *path, char **buf, size_t *cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    *len = 0;
    while (ok) {
        if (*len == *cap) {
            size_t cap2 = *cap ? *cap * 2 : 1 << 16;
            char *grown = realloc(*buf, cap2);
            if (!grown) {
                ok = false;
                break;
            }
            *buf = grown;
            *cap = cap2;
        }
        ssize_t r = read(fd, *buf + *len, *cap - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            ok = false;
        else if (r == 0)
            break;
        else
            *len += (size_t)r;
    }
    close(fd);
    return ok;
}

/* Every `#[ \t]*define[ \t]+IDENT` of the text: IDENT checked against names (sorted) and prefixes.
 */
static bool scan(const char *t, size_t len, char **names, uint32_t nnames, char **prefixes,
                 uint32_t nprefixes, bool *name_found, struct found *found)
{
    char ident[256];
    for (const char *p = memchr(t, '#', len), *end = t + len; p;
         p = memchr(p, '#', (size_t)(end - p))) {
        const char *q = p + 1;
        p = q;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if ((size_t)(end - q) < 7 || memcmp(q, "define", 6) != 0)
            continue;
        q += 6;
        if (*q != ' ' && *q != '\t')
            continue;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q == end || !is_ident_start((unsigned char)*q))
            continue;
        const char *s = q;
        while (q < end && is_ident((unsigned char)*q))
            q++;
        size_t n = (size_t)(q - s);
        if (n >= sizeof(ident))
            continue; /* longer than any name asked for */
        memcpy(ident, s, n);
        ident[n] = 0;
        const char *key = ident;
        char **hit = bsearch(&key, names, nnames, sizeof(*names), cmp_str);
        if (hit)
            name_found[hit - names] = true;
        for (uint32_t i = 0; i < nprefixes; i++) {
            if (strncmp(ident, prefixes[i], strlen(prefixes[i])) == 0) {
                if (!found_add(found, ident, n))
                    return false;
                break;
            }
        }
    }
    return true;
}

/* What a scan keeps from file to file. */
struct scan_state {
    char **names;
    uint32_t nnames;
    char **prefixes;
    uint32_t nprefixes;
    bool *name_found;
    struct found *found;
    char **buf;
    size_t *cap;
    /* The directories walked (device and inode), so that a link to one is followed once. */
    struct stat *seen;
    size_t nseen, seen_cap;
};

/* Scans one file; false only when out of memory. */
static bool scan_file(struct scan_state *st, const char *path)
{
    size_t len;
    if (!read_file(path, st->buf, st->cap, &len))
        return true;
    return scan(*st->buf, len, st->names, st->nnames, st->prefixes, st->nprefixes, st->name_found,
                st->found);
}

/* Scans every file under `dir`; false only when out of memory. */
static bool scan_dir(struct scan_state *st, const char *dir)
{
    struct stat sd;
    if (stat(dir, &sd) != 0 || !S_ISDIR(sd.st_mode))
        return true;
    for (size_t i = 0; i < st->nseen; i++)
        if (st->seen[i].st_dev == sd.st_dev && st->seen[i].st_ino == sd.st_ino)
            return true;
    if (st->nseen == st->seen_cap) {
        size_t cap = st->seen_cap ? st->seen_cap * 2 : 32;
        struct stat *grown = realloc(st->seen, cap * sizeof(*grown));
        if (!grown)
            return false;
        st->seen = grown;
        st->seen_cap = cap;
    }
    st->seen[st->nseen++] = sd;
    DIR *d = opendir(dir);
    if (!d)
        return true;
    bool ok = true;
    char path[PATH_MAX];
    for (struct dirent *e = readdir(d); ok && e; e = readdir(d)) {
        const char *n = e->d_name;
        if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)))
            continue;
        int w = snprintf(path, sizeof(path), "%s/%s", dir, n);
        if (w < 0 || (size_t)w >= sizeof(path))
            continue;
        unsigned char type = e->d_type;
        if (type == DT_LNK || type == DT_UNKNOWN) {
            struct stat s;
            if (stat(path, &s) != 0)
                continue; /* a dangling link: nothing to read */
            type = S_ISDIR(s.st_mode) ? DT_DIR : S_ISREG(s.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_DIR)
            ok = scan_dir(st, path);
        else if (type == DT_REG)
            ok = scan_file(st, path);
    }
    closedir(d);
    return ok;
}

/* A file, or every file under a directory; false only when out of memory. */
static bool scan_path(struct scan_state *st, const char *path)
{
    struct stat s;
    if (stat(path, &s) != 0)
        return true;
    return S_ISDIR(s.st_mode) ? scan_dir(st, path) : scan_file(st, path);
}

static napi_value scan_defines(napi_env env, napi_callback_info info, const char *op, bool dirs)
{
    napi_value argv[3], result = NULL;
    char **files = NULL, **names = NULL, **prefixes = NULL;
    uint32_t nfiles = 0, nnames = 0, nprefixes = 0;
    bool *name_found = NULL;
    struct found found = {0};
    char *buf = NULL;
    size_t cap = 0;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_strings(env, argv[0], op, dirs ? "paths" : "files", &files, &nfiles) ||
        !tsbpf_arg_strings(env, argv[1], op, "names", &names, &nnames) ||
        !tsbpf_arg_strings(env, argv[2], op, "prefixes", &prefixes, &nprefixes))
        goto done;
    qsort(names, nnames, sizeof(*names), cmp_str);
    name_found = calloc(nnames ? nnames : 1, sizeof(*name_found));
    if (!name_found) {
        tsbpf_throw(env, op, ENOMEM);
        goto done;
    }
    struct scan_state st = {.names = names,
                            .nnames = nnames,
                            .prefixes = prefixes,
                            .nprefixes = nprefixes,
                            .name_found = name_found,
                            .found = &found,
                            .buf = &buf,
                            .cap = &cap};
    bool ok = true;
    for (uint32_t i = 0; ok && i < nfiles; i++)
        ok = dirs ? scan_path(&st, files[i]) : scan_file(&st, files[i]);
    free(st.seen);
    if (!ok) {
        tsbpf_throw(env, op, ENOMEM);
        goto done;
    }
    napi_value list;
    if (napi_create_array(env, &list) != napi_ok) {
        tsbpf_throw_napi(env, "napi_create_array");
        goto done;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < nnames; i++) {
        napi_value s = name_found[i] ? tsbpf_string(env, names[i]) : NULL;
        if (name_found[i] && (!s || napi_set_element(env, list, k++, s) != napi_ok))
            goto done;
    }
    /* (the caller keeps them in a Set: repeats are harmless) */
    for (size_t i = 0; i < found.n; i++) {
        napi_value s = tsbpf_string(env, found.list[i]);
        if (!s || napi_set_element(env, list, k++, s) != napi_ok)
            goto done;
    }
    result = list;
done:
    for (size_t i = 0; i < found.n; i++)
        free(found.list[i]);
    free(found.list);
    free(buf);
    free(name_found);
    tsbpf_free_strings(files, nfiles);
    tsbpf_free_strings(names, nnames);
    tsbpf_free_strings(prefixes, nprefixes);
    return result;
}

napi_value tsbpf_scan_defines(napi_env env, napi_callback_info info)
{
    return scan_defines(env, info, "scanDefines", false);
}

napi_value tsbpf_scan_defines_in(napi_env env, napi_callback_info info)
{
    return scan_defines(env, info, "scanDefinesIn", true);
}
