/*
 * Read-only mappings of whole files:
 *  - mapFile, for the kernel's BTF: since Linux 6.15 /sys/kernel/btf/vmlinux
 *    can be mmapped (read-only, private), and its pages are then the
 *    kernel's own memory, which costs the process no resident memory, where
 *    reading it costs its size (5.5 MB on 6.18). Earlier kernels refuse the
 *    mmap; callers then read the file.
 *  - mapText, for tsbpf's bundles (src/bundle_runner.ts): a text file as a
 *    string whose characters stay in the file's pages. V8 keeps a script's
 *    source as long as the script, but run from a code cache it reads only
 *    the functions it compiles from source, so the pages of the rest are
 *    never resident, where a string read from the file costs its whole size
 *    on the V8 heap (the CLI's bundle: 1.3 MB).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addon.h"
#include "util.h"

void *tsbpf_map_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0) {
        if (st.st_size <= 0 || !S_ISREG(st.st_mode))
            errno = EINVAL;
        else
            p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    }
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) {
        errno = err;
        return NULL;
    }
    *len = (size_t)st.st_size;
    return p;
}

static void unmap(napi_env env, void *data, void *hint)
{
    (void)env;
    munmap(data, (size_t)(uintptr_t)hint);
}

/*
 * mapFile(path): an ArrayBuffer over a read-only mapping of the file,
 * unmapped when the buffer is collected. Writing to it kills the process
 * (SIGSEGV): for readers only. Throws when the file cannot be mapped.
 */
/* The file that a callback's one argument names, mapped; NULL with an exception pending. */
static void *map_path_arg(napi_env env, napi_callback_info info, const char *op, size_t *len)
{
    napi_value argv[1];
    char *path;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_string(env, argv[0], op, "path", &path))
        return NULL;
    void *p = tsbpf_map_file(path, len);
    int err = errno;
    free(path);
    if (!p)
        tsbpf_throw(env, "mmap", err ? err : EINVAL);
    return p;
}

napi_value tsbpf_map_file_js(napi_env env, napi_callback_info info)
{
    napi_value out;
    size_t len = 0;
    void *p = map_path_arg(env, info, "mapFile", &len);
    if (!p)
        return NULL;
    napi_status st =
        napi_create_external_arraybuffer(env, p, len, unmap, (void *)(uintptr_t)len, &out);
    if (st != napi_ok) {
        munmap(p, len);
        if (st == napi_no_external_buffers_allowed)
            return tsbpf_throw(env, "napi_create_external_arraybuffer", EOPNOTSUPP);
        return tsbpf_throw_napi(env, "napi_create_external_arraybuffer");
    }
    return out;
}

/*
 * A read fault on a file mapping maps more than the page read: the pages
 * around it that the page cache holds ("fault-around", 64 KB by default),
 * and on Linux 6.18 the whole page-cache folio the page is in when the
 * folio lies within the mapping (measured: one byte read mapped 1 MB of a
 * bundle just written, whose page cache was one large folio; half the
 * time, as the mapping's address fell). Both stop at the mapping's VMA,
 * so mapText splits its mapping into VMAs of this size, every other one
 * marked MADV_DONTDUMP so that the kernel does not merge them back (that
 * flag changes nothing else here: a core dump leaves out file mappings by
 * default). Measured on 6.18: the library's warm start reads 4 pages of
 * lib.cjs, and 128 of them (512 KB) were resident as one VMA, 6 with these.
 */
#define TEXT_VMA_BYTES (8 * 1024)

/*
 * Node's node_api_create_external_string_latin1, declared here (node_api.h
 * declares it only under NAPI_EXPERIMENTAL, which would change what Node
 * expects of the whole addon) and weak: null in a Node without it.
 */
extern napi_status node_api_create_external_string_latin1(napi_env env, char *str, size_t length,
                                                          napi_finalize finalize_cb,
                                                          void *finalize_hint, napi_value *result,
                                                          bool *copied) __attribute__((weak));

/*
 * mapText(path): the file's bytes as a string of one-byte characters (for
 * ASCII text, its text), kept in a read-only mapping of the file that is
 * unmapped when the string is collected; undefined when this Node cannot
 * make such a string. Throws when the file cannot be mapped.
 *
 * V8 then reads the file's pages whenever it reads the string: the file
 * must not be truncated while the string lives (the page gone, the read
 * kills the process with SIGBUS). Replacing it by a rename, or unlinking
 * it, is safe: the mapping keeps the old file.
 *
 * The N-API call was added in Node 18.18 and 20.4, behind NAPI_EXPERIMENTAL
 * in both: a weak reference, so that the addon still loads in a Node
 * without it.
 */
napi_value tsbpf_map_text(napi_env env, napi_callback_info info)
{
    if (!node_api_create_external_string_latin1)
        return tsbpf_undefined(env);
    napi_value out;
    size_t len = 0;
    void *p = map_path_arg(env, info, "mapText", &len);
    if (!p)
        return NULL;
    for (size_t off = TEXT_VMA_BYTES; off < len; off += 2 * TEXT_VMA_BYTES)
        madvise((char *)p + off, len - off < TEXT_VMA_BYTES ? len - off : TEXT_VMA_BYTES,
                MADV_DONTDUMP);
    bool copied = false;
    if (node_api_create_external_string_latin1(env, p, len, unmap, (void *)(uintptr_t)len, &out,
                                               &copied) != napi_ok) {
        munmap(p, len);
        return tsbpf_throw_napi(env, "node_api_create_external_string_latin1");
    }
    /* (copied: a Node built with V8's sandbox copies the characters and has
     * already called unmap; the string is as good, only not mapped) */
    return out;
}
