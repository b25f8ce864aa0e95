/*
 * Programs attached to something that is not an event: a cgroup (as a
 * bpf_link, Linux 5.7+, so it goes away with the process; bcc and older
 * kernels attach with BPF_PROG_ATTACH, which stays until detached), and
 * bcc's attach_func / detach_func: BPF_PROG_ATTACH of a program fd to a
 * target fd (a cgroup, a sockmap or sockhash, a network namespace) with an
 * attach type.
 */
#include "addon.h"
#include "link.h"
#include "object.h"
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>

/* attachCgroup(obj, program, cgroupFd): a cgroup link (bpf_program__attach_cgroup). */
napi_value tsbpf_attach_cgroup(napi_env env, napi_callback_info info)
{
    static const char op[] = "attachCgroup";
    napi_value argv[3];
    int32_t cgroup_fd;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[2], op, "cgroupFd", &cgroup_fd))
        return NULL;
    struct bpf_program *prog = tsbpf_object_program_arg(env, argv[0], argv[1], op);
    if (!prog)
        return NULL;
    tsbpf_log_reset();
    errno = 0;
    struct bpf_link *link = bpf_program__attach_cgroup(prog, cgroup_fd);
    return tsbpf_link_wrap(env, link, errno, "bpf_program__attach_cgroup");
}

/* progAttach(progFd, targetFd, attachType, flags): BPF_PROG_ATTACH (bcc's attach_func). */
napi_value tsbpf_prog_attach(napi_env env, napi_callback_info info)
{
    static const char op[] = "progAttach";
    napi_value argv[4];
    int32_t prog_fd, target_fd;
    uint32_t type, flags;
    if (!tsbpf_get_args(env, info, op, 4, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "progFd", &prog_fd) ||
        !tsbpf_arg_int32(env, argv[1], op, "targetFd", &target_fd) ||
        !tsbpf_arg_uint32(env, argv[2], op, "attachType", &type) ||
        !tsbpf_arg_uint32(env, argv[3], op, "flags", &flags))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_prog_attach(prog_fd, target_fd, (enum bpf_attach_type)type, flags);
    if (err)
        return tsbpf_throw(env, "bpf_prog_attach", err);
    return tsbpf_undefined(env);
}

/* progDetach(progFd, targetFd, attachType): BPF_PROG_DETACH of that program (bcc's detach_func). */
napi_value tsbpf_prog_detach(napi_env env, napi_callback_info info)
{
    static const char op[] = "progDetach";
    napi_value argv[3];
    int32_t prog_fd, target_fd;
    uint32_t type;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "progFd", &prog_fd) ||
        !tsbpf_arg_int32(env, argv[1], op, "targetFd", &target_fd) ||
        !tsbpf_arg_uint32(env, argv[2], op, "attachType", &type))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_prog_detach2(prog_fd, target_fd, (enum bpf_attach_type)type);
    if (err)
        return tsbpf_throw(env, "bpf_prog_detach2", err);
    return tsbpf_undefined(env);
}
