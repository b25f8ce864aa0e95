/*
 * BTF-typed attachments: fentry/fexit (BPF trampolines, Linux 5.5+), BPF LSM
 * programs (5.7+) and BTF-enabled raw tracepoints (tp_btf, 5.5+). The target
 * is set on the program before it loads (NativeObject.setAttachTarget), so
 * attaching needs nothing more than the program.
 */
#include "addon.h"
#include "link.h"
#include "object.h"
#include "util.h"

#include <bpf/libbpf.h>
#include <errno.h>

typedef struct bpf_link *(*attach_fn)(const struct bpf_program *prog);

static napi_value attach_btf(napi_env env, napi_callback_info info, const char *op,
                             const char *libbpf_fn, attach_fn attach)
{
    napi_value argv[2];
    if (!tsbpf_get_args(env, info, op, 2, argv, NULL))
        return NULL;
    struct bpf_program *prog = tsbpf_object_program_arg(env, argv[0], argv[1], op);
    if (!prog)
        return NULL;
    tsbpf_log_reset();
    errno = 0;
    struct bpf_link *link = attach(prog);
    return tsbpf_link_wrap(env, link, errno, libbpf_fn);
}

/* attachTrace(obj, program): fentry, fexit or tp_btf (bpf_program__attach_trace). */
napi_value tsbpf_attach_trace(napi_env env, napi_callback_info info)
{
    return attach_btf(env, info, "attachTrace", "bpf_program__attach_trace",
                      bpf_program__attach_trace);
}

/* attachLsm(obj, program): a BPF LSM program on its hook (bpf_program__attach_lsm). */
napi_value tsbpf_attach_lsm(napi_env env, napi_callback_info info)
{
    return attach_btf(env, info, "attachLsm", "bpf_program__attach_lsm", bpf_program__attach_lsm);
}
