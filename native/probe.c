/* Kernel feature probes and the ids of the BPF programs, maps and links loaded. */
#include "addon.h"
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <unistd.h>

/* probeProgType(progType) */
napi_value tsbpf_probe_prog_type(napi_env env, napi_callback_info info)
{
    static const char op[] = "probeProgType";
    napi_value argv[1];
    uint32_t type;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_uint32(env, argv[0], op, "progType", &type))
        return NULL;
    tsbpf_log_reset();
    return tsbpf_int32(env, libbpf_probe_bpf_prog_type((enum bpf_prog_type)type, NULL));
}

/* probeMapType(mapType) */
napi_value tsbpf_probe_map_type(napi_env env, napi_callback_info info)
{
    static const char op[] = "probeMapType";
    napi_value argv[1];
    uint32_t type;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_uint32(env, argv[0], op, "mapType", &type))
        return NULL;
    tsbpf_log_reset();
    return tsbpf_int32(env, libbpf_probe_bpf_map_type((enum bpf_map_type)type, NULL));
}

/* probeHelper(progType, helperId) */
napi_value tsbpf_probe_helper(napi_env env, napi_callback_info info)
{
    static const char op[] = "probeHelper";
    napi_value argv[2];
    uint32_t type, helper;
    if (!tsbpf_get_args(env, info, op, 2, argv, NULL) ||
        !tsbpf_arg_uint32(env, argv[0], op, "progType", &type) ||
        !tsbpf_arg_uint32(env, argv[1], op, "helperId", &helper))
        return NULL;
    tsbpf_log_reset();
    return tsbpf_int32(
        env, libbpf_probe_bpf_helper((enum bpf_prog_type)type, (enum bpf_func_id)helper, NULL));
}

/*
 * Kernel functions an fentry program can attach to on any kernel that has
 * fentry at all; bpf_fentry_test1 exists for exactly this purpose.
 */
static const char *const fentry_targets[] = {"bpf_fentry_test1", "do_sys_openat2", "vfs_read",
                                             "ksys_read"};

/* Errors that say nothing about the kernel's support (the probe itself failed). */
static bool inconclusive(int err)
{
    return err == ENOMEM || err == EAGAIN || err == EINTR || err == EMFILE || err == ENFILE ||
           err == EFAULT || err == EBADF;
}

/* probeTracing(): can an fentry program be loaded and attached? */
napi_value tsbpf_probe_tracing(napi_env env, napi_callback_info info)
{
    if (!tsbpf_get_args(env, info, "probeTracing", 0, NULL, NULL))
        return NULL;
    tsbpf_log_reset();

    struct btf *vmlinux = btf__load_vmlinux_btf();
    if (!vmlinux) {
        /* No kernel BTF: fentry cannot work here. */
        int err = errno;
        return tsbpf_int32(env, inconclusive(err) ? -err : 0);
    }
    __s32 target = -ESRCH;
    for (size_t i = 0; i < sizeof(fentry_targets) / sizeof(fentry_targets[0]) && target < 0; i++)
        target = btf__find_by_name_kind(vmlinux, fentry_targets[i], BTF_KIND_FUNC);
    btf__free(vmlinux);
    if (target < 0)
        return tsbpf_int32(env, -ESRCH);

    /* r0 = 0; exit */
    const struct bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY,
                .attach_btf_id = (__u32)target);
    int prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "tsbpf_probe", "GPL", insns,
                             sizeof(insns) / sizeof(insns[0]), &opts);
    if (prog < 0)
        return tsbpf_int32(env, inconclusive(-prog) ? prog : 0);

    int link = bpf_raw_tracepoint_open(NULL, prog);
    int result = 1;
    if (link < 0)
        result = inconclusive(-link) ? link : 0;
    else
        close(link);
    close(prog);
    return tsbpf_int32(env, result);
}

/* Every id that `next` walks through, as a JS array. */
static napi_value list_ids(napi_env env, napi_callback_info info, const char *op,
                           const char *libbpf_fn, int (*next)(__u32, __u32 *))
{
    if (!tsbpf_get_args(env, info, op, 0, NULL, NULL))
        return NULL;
    tsbpf_log_reset();
    napi_value list;
    TSBPF_NAPI(env, napi_create_array(env, &list));
    __u32 id = 0;
    uint32_t i = 0;
    for (;;) {
        int err = next(id, &id);
        if (err == -ENOENT)
            break;
        if (err)
            return tsbpf_throw(env, libbpf_fn, err);
        napi_value v = tsbpf_uint32(env, id);
        if (!v)
            return NULL;
        TSBPF_NAPI(env, napi_set_element(env, list, i++, v));
    }
    return list;
}

napi_value tsbpf_prog_ids(napi_env env, napi_callback_info info)
{
    return list_ids(env, info, "progIds", "bpf_prog_get_next_id", bpf_prog_get_next_id);
}

napi_value tsbpf_map_ids(napi_env env, napi_callback_info info)
{
    return list_ids(env, info, "mapIds", "bpf_map_get_next_id", bpf_map_get_next_id);
}

napi_value tsbpf_link_ids(napi_env env, napi_callback_info info)
{
    return list_ids(env, info, "linkIds", "bpf_link_get_next_id", bpf_link_get_next_id);
}
