/*
 * treeStamps(dir): every file under a directory as "path:size:mtime", one a
 * line, names in byte order at each level (src/compile/headers_dir.ts: what
 * cache keys use to notice a changed tsbpf header). In C because the same
 * walk in JavaScript (a readdir and a stat per entry, each through Node's fs
 * layer) took 2-7 ms of a warm start's compile-cache lookup, where the ~35
 * system calls take a small part of one.
 *
 * Directories are descended as readdir reports them (a link to a directory
 * is stamped as the directory it names, not walked); a file is stamped as
 * stat(2) sees it, through links.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addon.h"
#include "util.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dirfd's directory (without . and ..), sorted, in *out; 0 or an errno. */
static int sorted_names(int dirfd, char ***out, size_t *count)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = errno;
        close(fd);
        return err;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int err = 0;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown) {
                err = ENOMEM;
                break;
            }
            names = grown;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            err = ENOMEM;
            break;
        }
        n++;
        errno = 0;
    }
    if (!err && errno)
        err = errno;
    closedir(d);
    if (err) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return err;
    }
    if (n > 0)
        qsort(names, n, sizeof(*names), by_name);
    *out = names;
    *count = n;
    return 0;
}

/* Appends the stamps under dirfd (named `base` relative to the top); 0, or an errno. */
static int stamp_dir(int dirfd, const char *base, struct tsbpf_buf *out)
{
    size_t n = 0;
    char **names = NULL;
    int err = sorted_names(dirfd, &names, &n);
    if (err)
        return err;
    for (size_t i = 0; i < n && !err; i++) {
        char rel[4096];
        int len = snprintf(rel, sizeof(rel), "%s%s%s", base, *base ? "/" : "", names[i]);
        if (len < 0 || (size_t)len >= sizeof(rel)) {
            err = ENAMETOOLONG;
            break;
        }
        struct stat lst;
        if (fstatat(dirfd, names[i], &lst, AT_SYMLINK_NOFOLLOW) != 0) {
            err = errno;
            break;
        }
        if (S_ISDIR(lst.st_mode)) {
            int sub = openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sub < 0) {
                err = errno;
                break;
            }
            err = stamp_dir(sub, rel, out);
            close(sub);
            continue;
        }
        struct stat st;
        if (fstatat(dirfd, names[i], &st, 0) != 0) {
            err = errno;
            break;
        }
        char line[4096 + 64];
        int m = snprintf(line, sizeof(line), "%s:%lld:%lld.%09ld\n", rel, (long long)st.st_size,
                         (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
        tsbpf_buf_append(out, line, (size_t)m);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (!err && out->truncated)
        err = ENOMEM;
    return err;
}

napi_value tsbpf_tree_stamps(napi_env env, napi_callback_info info)
{
    static const char op[] = "treeStamps";
    napi_value argv[1];
    char *dir;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_string(env, argv[0], op, "dir", &dir))
        return NULL;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    free(dir);
    struct tsbpf_buf out = {0};
    if (!err) {
        err = stamp_dir(fd, "", &out);
        close(fd);
    }
    if (err) {
        tsbpf_buf_free(&out);
        return tsbpf_throw(env, op, err);
    }
    napi_value s = tsbpf_string(env, tsbpf_buf_text(&out));
    tsbpf_buf_free(&out);
    return s;
}
