/*
 * Kernel feature probes and the ids of the BPF programs, maps and links
 * loaded; and two things of the process: malloc_trim, and a pipe.
 */
#define _GNU_SOURCE /* pipe2 */
#include "addon.h"
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    sigset_t held;
    tsbpf_hold_signals(&held);
    int rc = libbpf_probe_bpf_prog_type((enum bpf_prog_type)type, NULL);
    tsbpf_release_signals(&held);
    return tsbpf_int32(env, rc);
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
    sigset_t held;
    tsbpf_hold_signals(&held);
    int rc = libbpf_probe_bpf_map_type((enum bpf_map_type)type, NULL);
    tsbpf_release_signals(&held);
    return tsbpf_int32(env, rc);
}

/*
 * True when the verifier refuses `helper` in a minimal program of `type`.
 * libbpf 1.1's libbpf_probe_bpf_helper only knows the "unknown func" and
 * "invalid func" wordings; kernels since 6.x say "program of this type cannot
 * use helper bpf_X#N", which libbpf then takes for a yes.
 */
static bool helper_refused(enum bpf_prog_type type, enum bpf_func_id helper)
{
    const struct bpf_insn insns[] = {
        {.code = BPF_JMP | BPF_CALL, .imm = (__s32)helper},
        {.code = BPF_JMP | BPF_EXIT},
    };
    char log[4096] = "";
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
    int fd = bpf_prog_load(type, NULL, "GPL", insns, sizeof(insns) / sizeof(insns[0]), &opts);
    if (fd >= 0)
        close(fd);
    return strstr(log, "cannot use helper") || strstr(log, "unknown func ") ||
           strstr(log, "invalid func ");
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
    sigset_t held;
    tsbpf_hold_signals(&held);
    int rc = libbpf_probe_bpf_helper((enum bpf_prog_type)type, (enum bpf_func_id)helper, NULL);
    if (rc == 1 && helper_refused((enum bpf_prog_type)type, (enum bpf_func_id)helper))
        rc = 0;
    tsbpf_release_signals(&held);
    return tsbpf_int32(env, rc);
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
    sigset_t held;
    tsbpf_hold_signals(&held);
    int prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "tsbpf_probe", "GPL", insns,
                             sizeof(insns) / sizeof(insns[0]), &opts);
    tsbpf_release_signals(&held);
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

/*
 * probeBtfAttach(progType, attachType, targets): loads a minimal program of
 * that type on the first of `targets` found in the vmlinux BTF (functions;
 * "btf_trace_*" typedefs for BPF_TRACE_RAW_TP) and attaches it, then
 * releases both. → { result, errno, stage }: result 1 when both worked, 0
 * when the kernel refused (errno and stage, "load" or "attach", say what
 * it refused), negative errno when it could not tell (stage "btf" when no
 * target or no kernel BTF was found).
 */
napi_value tsbpf_probe_btf_attach(napi_env env, napi_callback_info info)
{
    static const char op[] = "probeBtfAttach";
    napi_value argv[3], out;
    uint32_t prog_type, attach_type, count;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_uint32(env, argv[0], op, "progType", &prog_type) ||
        !tsbpf_arg_uint32(env, argv[1], op, "attachType", &attach_type))
        return NULL;
    TSBPF_NAPI(env, napi_get_array_length(env, argv[2], &count));
    tsbpf_log_reset();

    int result, err = 0;
    const char *stage = "btf";
    struct btf *vmlinux = btf__load_vmlinux_btf();
    __s32 target = -ESRCH;
    if (!vmlinux) {
        err = errno;
        result = inconclusive(err) ? -err : 0;
        goto done;
    }
    int kind = attach_type == BPF_TRACE_RAW_TP ? BTF_KIND_TYPEDEF : BTF_KIND_FUNC;
    for (uint32_t i = 0; i < count && target < 0; i++) {
        napi_value v;
        char *name = NULL;
        if (napi_get_element(env, argv[2], i, &v) != napi_ok ||
            !tsbpf_arg_string(env, v, op, "target", &name)) {
            btf__free(vmlinux);
            return NULL;
        }
        target = btf__find_by_name_kind(vmlinux, name, kind);
        free(name);
    }
    btf__free(vmlinux);
    if (target < 0) {
        err = ESRCH;
        result = -ESRCH;
        goto done;
    }

    /* r0 = 0; exit */
    const struct bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach_type,
                .attach_btf_id = (__u32)target);
    stage = "load";
    sigset_t held;
    tsbpf_hold_signals(&held);
    int prog = bpf_prog_load((enum bpf_prog_type)prog_type, "tsbpf_probe", "GPL", insns,
                             sizeof(insns) / sizeof(insns[0]), &opts);
    tsbpf_release_signals(&held);
    if (prog < 0) {
        err = -prog;
        result = inconclusive(err) ? -err : 0;
        goto done;
    }
    stage = "attach";
    /* Iterators attach as a link of their own kind (Linux 5.8+); the other
     * BTF kinds through raw_tracepoint_open, which every kernel with them has. */
    int link = attach_type == BPF_TRACE_ITER ? bpf_link_create(prog, 0, BPF_TRACE_ITER, NULL)
                                             : bpf_raw_tracepoint_open(NULL, prog);
    if (link < 0) {
        err = -link;
        result = inconclusive(err) ? -err : 0;
    } else {
        close(link);
        result = 1;
        stage = "";
    }
    close(prog);
done:
    TSBPF_NAPI(env, napi_create_object(env, &out));
    if (!tsbpf_set_prop(env, out, "result", tsbpf_int32(env, result)) ||
        !tsbpf_set_prop(env, out, "errno", tsbpf_int32(env, err)) ||
        !tsbpf_set_prop(env, out, "stage", tsbpf_string(env, stage)))
        return NULL;
    return out;
}

/*
 * progInfo(fd): what the kernel says of a loaded program →
 * { id, name, tag, runTimeNs, runCount, recursionMisses }. The run time and
 * count only grow while kernel.bpf_stats_enabled is 1 (Linux 5.1+);
 * recursion misses since 5.12 (0 before).
 */
napi_value tsbpf_prog_info(napi_env env, napi_callback_info info)
{
    static const char op[] = "progInfo";
    napi_value argv[1], out, v;
    int32_t fd;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "fd", &fd))
        return NULL;
    tsbpf_log_reset();
    struct bpf_prog_info pi;
    __u32 len = sizeof(pi);
    memset(&pi, 0, sizeof(pi));
    /* bpf_obj_get_info_by_fd: bpf_prog_get_info_by_fd is libbpf 1.2+ */
    int err = bpf_obj_get_info_by_fd(fd, &pi, &len);
    if (err)
        return tsbpf_throw(env, "bpf_obj_get_info_by_fd", err);
    char tag[2 * BPF_TAG_SIZE + 1];
    for (int i = 0; i < BPF_TAG_SIZE; i++)
        snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
    TSBPF_NAPI(env, napi_create_object(env, &out));
    if (!(v = tsbpf_uint32(env, pi.id)) || !tsbpf_set_prop(env, out, "id", v))
        return NULL;
    if (!(v = tsbpf_string(env, pi.name)) || !tsbpf_set_prop(env, out, "name", v))
        return NULL;
    if (!(v = tsbpf_string(env, tag)) || !tsbpf_set_prop(env, out, "tag", v))
        return NULL;
    TSBPF_NAPI(env, napi_create_bigint_uint64(env, pi.run_time_ns, &v));
    if (!tsbpf_set_prop(env, out, "runTimeNs", v))
        return NULL;
    TSBPF_NAPI(env, napi_create_bigint_uint64(env, pi.run_cnt, &v));
    if (!tsbpf_set_prop(env, out, "runCount", v))
        return NULL;
    TSBPF_NAPI(env, napi_create_bigint_uint64(env, pi.recursion_misses, &v));
    if (!tsbpf_set_prop(env, out, "recursionMisses", v))
        return NULL;
    return out;
}

/*
 * enableStats(): BPF_ENABLE_STATS for run time (Linux 5.8+) → an fd; the
 * kernel counts every program's run time and count while any such fd is
 * open, so closing it (or the process ending, even by SIGKILL) turns the
 * counting back off unless someone else asked for it too.
 */
napi_value tsbpf_enable_stats(napi_env env, napi_callback_info info)
{
    if (!tsbpf_get_args(env, info, "enableStats", 0, NULL, NULL))
        return NULL;
    tsbpf_log_reset();
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (fd < 0)
        return tsbpf_throw(env, "bpf_enable_stats", fd);
    return tsbpf_int32(env, fd);
}

/*
 * pipe(): a pipe with both ends close-on-exec, as [readFd, writeFd]. A child
 * given the read end as its stdin can open /dev/stdin, which it cannot when
 * its stdin is the socket Node's child_process makes (prestartClang in
 * src/compile/clang.ts).
 */
napi_value tsbpf_pipe(napi_env env, napi_callback_info info)
{
    int fds[2];
    napi_value list;
    if (!tsbpf_get_args(env, info, "pipe", 0, NULL, NULL))
        return NULL;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return tsbpf_throw(env, "pipe2", errno);
    if (napi_create_array_with_length(env, 2, &list) != napi_ok ||
        napi_set_element(env, list, 0, tsbpf_int32(env, fds[0])) != napi_ok ||
        napi_set_element(env, list, 1, tsbpf_int32(env, fds[1])) != napi_ok) {
        close(fds[0]);
        close(fds[1]);
        return tsbpf_throw_napi(env, "pipe");
    }
    return list;
}

/*
 * mallocTrim(): gives the C heap's free memory back to the system (glibc's
 * malloc_trim). Loading an object parses the kernel's BTF (megabytes),
 * freed after the load but kept by malloc: a long-running process that has
 * loaded several objects calls this once they are loaded. → whether memory
 * was released.
 */
napi_value tsbpf_malloc_trim(napi_env env, napi_callback_info info)
{
    if (!tsbpf_get_args(env, info, "mallocTrim", 0, NULL, NULL))
        return NULL;
#ifdef __GLIBC__
    return tsbpf_bool(env, malloc_trim(0) == 1);
#else
    return tsbpf_bool(env, false);
#endif
}
