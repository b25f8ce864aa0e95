/* btfDumpHeader: the C header of a BTF file, the way bpftool's "format c" prints it. */
#include "addon.h"
#include "util.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void dump_printf(void *ctx, const char *fmt, va_list ap)
{
    tsbpf_buf_vprintf(ctx, fmt, ap);
}

static void put(struct tsbpf_buf *b, const char *s)
{
    tsbpf_buf_append(b, s, strlen(s));
}

static const char guard_open[] = "#ifndef __VMLINUX_H__\n"
                                 "#define __VMLINUX_H__\n"
                                 "\n"
                                 "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
                                 "#pragma clang attribute push "
                                 "(__attribute__((preserve_access_index)), apply_to = record)\n"
                                 "#endif\n"
                                 "\n";

static const char guard_close[] = "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
                                  "#pragma clang attribute pop\n"
                                  "#endif\n"
                                  "\n"
                                  "#endif /* __VMLINUX_H__ */\n";

/*
 * libbpf 1.1 prints a prototype without parameters as "()"; bpftool and
 * newer libbpf print "(void)", which is the same in C23 and a prototype
 * before it. Nothing else in btf_dump's output contains "()".
 */
static bool void_params(struct tsbpf_buf *in, struct tsbpf_buf *out)
{
    const char *p = tsbpf_buf_text(in);
    const char *hit;
    while ((hit = strstr(p, "()"))) {
        tsbpf_buf_append(out, p, (size_t)(hit - p));
        put(out, "(void)");
        p = hit + 2;
    }
    put(out, p);
    return !out->truncated;
}

/* btfDumpHeader(path) */
napi_value tsbpf_btf_dump_header(napi_env env, napi_callback_info info)
{
    static const char op[] = "btfDumpHeader";
    napi_value argv[1];
    char *path;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_string(env, argv[0], op, "btfPath", &path))
        return NULL;

    tsbpf_log_reset();
    struct btf *btf = btf__parse(path, NULL);
    int err = errno;
    free(path);
    if (!btf)
        return tsbpf_throw(env, "btf__parse", err ? err : EINVAL);

    struct tsbpf_buf out = {0}, text = {0};
    napi_value result = NULL;
    struct btf_dump *dump = btf_dump__new(btf, dump_printf, &out, NULL);
    if (!dump) {
        result = tsbpf_throw(env, "btf_dump__new", errno ? errno : ENOMEM);
        goto done;
    }

    put(&out, guard_open);
    __u32 count = btf__type_cnt(btf);
    for (__u32 id = 1; id < count; id++) {
        err = btf_dump__dump_type(dump, id);
        if (err) {
            result = tsbpf_throw(env, "btf_dump__dump_type", err);
            goto done;
        }
    }
    put(&out, guard_close);

    if (out.truncated || !void_params(&out, &text))
        result = tsbpf_throw(env, op, ENOMEM);
    else if (napi_create_string_utf8(env, text.data, text.len, &result) != napi_ok)
        result = tsbpf_throw_napi(env, "napi_create_string_utf8");

done:
    btf_dump__free(dump);
    btf__free(btf);
    tsbpf_buf_free(&out);
    tsbpf_buf_free(&text);
    return result;
}
