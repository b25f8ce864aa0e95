/*
 * BPF iterators (Linux 5.8+): an iterator program is attached as a link
 * (bpf_program__attach_iter; a map iterator names its map), and every
 * bpf_iter_create on that link gives a new file descriptor whose reads run
 * the program over the kernel's objects once, until read returns 0.
 */
#include "addon.h"
#include "link.h"
#include "object.h"
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>

/* attachIter(obj, program, mapFd): mapFd < 0 for iterators over no map. */
napi_value tsbpf_attach_iter(napi_env env, napi_callback_info info)
{
    static const char op[] = "attachIter";
    napi_value argv[3];
    int32_t map_fd;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[2], op, "mapFd", &map_fd))
        return NULL;
    struct bpf_program *prog = tsbpf_object_program_arg(env, argv[0], argv[1], op);
    if (!prog)
        return NULL;
    union bpf_iter_link_info linfo;
    memset(&linfo, 0, sizeof(linfo));
    LIBBPF_OPTS(bpf_iter_attach_opts, opts);
    if (map_fd >= 0) {
        linfo.map.map_fd = (__u32)map_fd;
        opts.link_info = &linfo;
        opts.link_info_len = sizeof(linfo);
    }
    tsbpf_log_reset();
    errno = 0;
    struct bpf_link *link = bpf_program__attach_iter(prog, &opts);
    return tsbpf_link_wrap(env, link, errno, "bpf_program__attach_iter");
}

/* iterCreate(linkFd) → a new iterator file descriptor (O_CLOEXEC), read until 0. */
napi_value tsbpf_iter_create(napi_env env, napi_callback_info info)
{
    static const char op[] = "iterCreate";
    napi_value argv[1];
    int32_t link_fd;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "linkFd", &link_fd))
        return NULL;
    tsbpf_log_reset();
    int fd = bpf_iter_create(link_fd);
    if (fd < 0)
        return tsbpf_throw(env, "bpf_iter_create", fd);
    return tsbpf_int32(env, fd);
}
