/*
 * Read-only mappings of whole files, for the kernel's BTF: since Linux 6.15
 * /sys/kernel/btf/vmlinux can be mmapped (read-only, private), and its pages
 * are then the kernel's own memory, which costs the process no resident
 * memory, where reading it costs its size (5.5 MB on 6.18). Earlier kernels
 * refuse the mmap; callers then read the file.
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
napi_value tsbpf_map_file_js(napi_env env, napi_callback_info info)
{
    static const char op[] = "mapFile";
    napi_value argv[1], out;
    char *path;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_string(env, argv[0], op, "path", &path))
        return NULL;
    size_t len = 0;
    void *p = tsbpf_map_file(path, &len);
    int err = errno;
    free(path);
    if (!p)
        return tsbpf_throw(env, "mmap", err ? err : EINVAL);
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
