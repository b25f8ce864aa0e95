/*
 * Perf events: perf_event_open(2), and BPF_PROG_TYPE_PERF_EVENT programs
 * attached to them (bpf_program__attach_perf_event; the link owns the event).
 */
#include "addon.h"
#include "link.h"
#include "object.h"
#include "util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A non-negative 64-bit property of an options object. */
static bool get_u64(napi_env env, napi_value obj, const char *op, const char *name, uint64_t *out)
{
    napi_value v;
    int64_t x;
    if (!tsbpf_get_prop(env, obj, op, name, &v) || !tsbpf_arg_int64(env, v, op, name, &x))
        return false;
    if (x < 0) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "%s must not be negative", name);
        return false;
    }
    *out = (uint64_t)x;
    return true;
}

static bool get_i32(napi_env env, napi_value obj, const char *op, const char *name, int32_t *out)
{
    napi_value v;
    return tsbpf_get_prop(env, obj, op, name, &v) && tsbpf_arg_int32(env, v, op, name, out);
}

/*
 * An optional 64-bit property given as a number or a BigInt (addresses, bit
 * sets): 0 when absent or undefined.
 */
static bool get_bits(napi_env env, napi_value obj, const char *op, const char *name, uint64_t *out)
{
    napi_value v;
    napi_valuetype t;
    *out = 0;
    if (napi_get_named_property(env, obj, name, &v) != napi_ok ||
        napi_typeof(env, v, &t) != napi_ok) {
        tsbpf_throw_napi(env, "napi_get_named_property");
        return false;
    }
    return t == napi_undefined || tsbpf_arg_uint64(env, v, op, name, out);
}

/* The bit of perf_event_attr's flag word (the bitfield after read_format) that `freq` is. */
#define ATTR_FLAG_DISABLED (1ULL << 0)
#define ATTR_FLAG_FREQ (1ULL << 10)

/*
 * perfEventOpen({ type, config, samplePeriod, sampleFreq, pid, cpu, groupFd,
 * disabled, sampleType?, flags?, wakeupEvents?, bpType?, config1?, config2?,
 * extraFlags? }) → fd (the optional ones 0 when absent). sampleFreq > 0 samples at that frequency
 * (attr.freq); else samplePeriod events make one sample (0: a counting event). `flags` is
 * perf_event_attr's flag word (exclude_kernel is bit 5, …; disabled and freq
 * are set from their own fields); config1 is also bp_addr and config2 bp_len.
 * extraFlags are or-ed into perf_event_open's flags (PERF_FLAG_FD_CLOEXEC
 * always is).
 */
napi_value tsbpf_perf_event_open(napi_env env, napi_callback_info info)
{
    static const char op[] = "perfEventOpen";
    napi_value argv[1], v;
    uint64_t type, config, period, freq, sample_type, flags, wakeup, bp_type, config1, config2,
        extra;
    int32_t pid, cpu, group_fd;
    bool disabled;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !get_u64(env, argv[0], op, "type", &type) ||
        !get_bits(env, argv[0], op, "config", &config) ||
        !get_u64(env, argv[0], op, "samplePeriod", &period) ||
        !get_u64(env, argv[0], op, "sampleFreq", &freq) ||
        !get_i32(env, argv[0], op, "pid", &pid) || !get_i32(env, argv[0], op, "cpu", &cpu) ||
        !get_i32(env, argv[0], op, "groupFd", &group_fd) ||
        !tsbpf_get_prop(env, argv[0], op, "disabled", &v) ||
        !tsbpf_arg_bool(env, v, op, "disabled", &disabled) ||
        !get_bits(env, argv[0], op, "sampleType", &sample_type) ||
        !get_bits(env, argv[0], op, "flags", &flags) ||
        !get_bits(env, argv[0], op, "wakeupEvents", &wakeup) ||
        !get_bits(env, argv[0], op, "bpType", &bp_type) ||
        !get_bits(env, argv[0], op, "config1", &config1) ||
        !get_bits(env, argv[0], op, "config2", &config2) ||
        !get_bits(env, argv[0], op, "extraFlags", &extra))
        return NULL;
    if (type > UINT32_MAX || wakeup > UINT32_MAX || bp_type > UINT32_MAX)
        return tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL",
                                  "type, wakeupEvents and bpType must fit in 32 bits");

    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = (__u32)type;
    attr.config = config;
    attr.sample_type = sample_type;
    attr.wakeup_events = (__u32)wakeup;
    attr.bp_type = (__u32)bp_type;
    attr.config1 = config1; /* bp_addr */
    attr.config2 = config2; /* bp_len */
    flags &= ~(ATTR_FLAG_DISABLED | ATTR_FLAG_FREQ);
    if (freq > 0) {
        flags |= ATTR_FLAG_FREQ;
        attr.sample_freq = freq;
    } else {
        attr.sample_period = period;
    }
    if (disabled)
        flags |= ATTR_FLAG_DISABLED;
    /* The flag word is the 64 bits right after read_format (include/uapi/linux/perf_event.h). */
    memcpy((char *)&attr + offsetof(struct perf_event_attr, read_format) + sizeof(attr.read_format),
           &flags, sizeof(flags));
    long fd = syscall(__NR_perf_event_open, &attr, (pid_t)pid, (int)cpu, (int)group_fd,
                      (unsigned long)(PERF_FLAG_FD_CLOEXEC | extra));
    if (fd < 0)
        return tsbpf_throw(env, "perf_event_open", errno);
    return tsbpf_int32(env, (int32_t)fd);
}

/*
 * attachPerfEvent(obj, program, pfd): the link owns pfd from then on
 * (destroying it closes the event). pfd is closed when the attach fails.
 */
napi_value tsbpf_attach_perf_event(napi_env env, napi_callback_info info)
{
    static const char op[] = "attachPerfEvent";
    napi_value argv[3];
    char *name = NULL;
    int32_t pfd = -1;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[2], op, "pfd", &pfd))
        return NULL;
    struct bpf_program *prog = NULL;
    if (tsbpf_arg_string(env, argv[1], op, "program", &name))
        prog = tsbpf_object_program(env, argv[0], op, name);
    free(name);
    if (!prog) {
        /* An exception is pending. */
        if (pfd >= 0)
            close(pfd);
        return NULL;
    }
    tsbpf_log_reset();
    errno = 0;
    struct bpf_link *link = bpf_program__attach_perf_event(prog, pfd);
    int err = errno;
    if (!link) {
        close(pfd);
        return tsbpf_throw(env, "bpf_program__attach_perf_event", err ? err : EINVAL);
    }
    /* The link owns pfd now, even if wrapping it fails (destroying it closes pfd). */
    return tsbpf_link_wrap(env, link, 0, "bpf_program__attach_perf_event");
}
