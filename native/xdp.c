/*
 * Network hooks: XDP programs on a device, as a bpf_link (BPF_LINK_CREATE
 * with BPF_XDP, Linux 5.9+: detached when the last fd closes, even on
 * SIGKILL) or over netlink (bpf_xdp_attach / bpf_xdp_detach, Linux 4.8+:
 * stays on the device until removed), and socket filters on an AF_PACKET
 * socket (SO_ATTACH_BPF; Linux 3.19+).
 */
#include "addon.h"
#include "util.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ifNameToIndex(name) → the ifindex in this process's network namespace, 0 when none. */
napi_value tsbpf_if_name_to_index(napi_env env, napi_callback_info info)
{
    static const char op[] = "ifNameToIndex";
    napi_value argv[1];
    char *name = NULL;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_string(env, argv[0], op, "name", &name))
        return NULL;
    unsigned int idx = if_nametoindex(name);
    free(name);
    return tsbpf_uint32(env, idx);
}

/* The ifindex, flags and old program fd (-1: none) shared by attach and detach. */
static bool xdp_args(napi_env env, napi_value *argv, const char *op, int32_t *ifindex,
                     uint32_t *flags, int32_t *old_fd)
{
    if (!tsbpf_arg_int32(env, argv[0], op, "ifindex", ifindex) ||
        !tsbpf_arg_uint32(env, argv[1], op, "flags", flags) ||
        !tsbpf_arg_int32(env, argv[2], op, "oldProgFd", old_fd))
        return false;
    if (*ifindex <= 0) {
        tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "ifindex must be positive");
        return false;
    }
    return true;
}

/*
 * xdpAttach(ifindex, progFd, flags, oldProgFd): with oldProgFd >= 0 (and
 * XDP_FLAGS_REPLACE in flags) only replaces that program.
 */
napi_value tsbpf_xdp_attach(napi_env env, napi_callback_info info)
{
    static const char op[] = "xdpAttach";
    napi_value argv[4], args3[3];
    int32_t ifindex, prog_fd, old_fd;
    uint32_t flags;
    if (!tsbpf_get_args(env, info, op, 4, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[1], op, "progFd", &prog_fd))
        return NULL;
    args3[0] = argv[0];
    args3[1] = argv[2];
    args3[2] = argv[3];
    if (!xdp_args(env, args3, op, &ifindex, &flags, &old_fd))
        return NULL;
    tsbpf_log_reset();
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
    int err = bpf_xdp_attach(ifindex, prog_fd, flags, old_fd >= 0 ? &opts : NULL);
    if (err)
        return tsbpf_throw(env, "bpf_xdp_attach", err);
    return tsbpf_undefined(env);
}

/* xdpDetach(ifindex, flags, oldProgFd) */
napi_value tsbpf_xdp_detach(napi_env env, napi_callback_info info)
{
    static const char op[] = "xdpDetach";
    napi_value argv[3];
    int32_t ifindex, old_fd;
    uint32_t flags;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !xdp_args(env, argv, op, &ifindex, &flags, &old_fd))
        return NULL;
    tsbpf_log_reset();
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
    int err = bpf_xdp_detach(ifindex, flags, old_fd >= 0 ? &opts : NULL);
    if (err)
        return tsbpf_throw(env, "bpf_xdp_detach", err);
    return tsbpf_undefined(env);
}

/*
 * xdpLinkCreate(ifindex, progFd, flags) → the fd of a new XDP bpf_link
 * (Linux 5.9+); flags: the XDP_FLAGS_*_MODE bit, if any (the kernel refuses
 * every other flag on a link). Closing the last fd detaches the program. A
 * link never replaces a program: EBUSY when one is attached in that mode.
 * Before 5.9 the kernel fails with EINVAL (no BPF_XDP link type).
 */
napi_value tsbpf_xdp_link_create(napi_env env, napi_callback_info info)
{
    static const char op[] = "xdpLinkCreate";
    napi_value argv[3];
    int32_t ifindex, prog_fd;
    uint32_t flags;
    if (!tsbpf_get_args(env, info, op, 3, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "ifindex", &ifindex) ||
        !tsbpf_arg_int32(env, argv[1], op, "progFd", &prog_fd) ||
        !tsbpf_arg_uint32(env, argv[2], op, "flags", &flags))
        return NULL;
    if (ifindex <= 0)
        return tsbpf_throw_custom(env, true, op, EINVAL, "EINVAL", "ifindex must be positive");
    tsbpf_log_reset();
    /* libbpf 1.1 passes opts.flags as link_create.flags: the XDP mode. */
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
    int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
    if (fd < 0)
        return tsbpf_throw(env, "bpf_link_create(BPF_XDP)", fd);
    return tsbpf_int32(env, fd);
}

/*
 * linkUpdate(linkFd, progFd): puts another program on a link, atomically
 * (BPF_LINK_UPDATE, Linux 5.7+; XDP links 5.9+).
 */
napi_value tsbpf_link_update(napi_env env, napi_callback_info info)
{
    static const char op[] = "linkUpdate";
    napi_value argv[2];
    int32_t link_fd, prog_fd;
    if (!tsbpf_get_args(env, info, op, 2, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "linkFd", &link_fd) ||
        !tsbpf_arg_int32(env, argv[1], op, "progFd", &prog_fd))
        return NULL;
    tsbpf_log_reset();
    int err = bpf_link_update(link_fd, prog_fd, NULL);
    if (err)
        return tsbpf_throw(env, "bpf_link_update", err);
    return tsbpf_undefined(env);
}

/*
 * Calls fn on an fd of every XDP link on device ifindex (fds it closes
 * after); stops at the first nonzero return, which it returns.
 */
static int each_xdp_link(int32_t ifindex, int (*fn)(int fd, uint32_t id, void *arg), void *arg)
{
    uint32_t id = 0;
    while (bpf_link_get_next_id(id, &id) == 0) {
        int fd = bpf_link_get_fd_by_id(id);
        if (fd < 0)
            continue; /* gone meanwhile */
        struct bpf_link_info li;
        uint32_t len = sizeof(li);
        memset(&li, 0, sizeof(li));
        int ret = 0;
        if (bpf_obj_get_info_by_fd(fd, &li, &len) == 0 && li.type == BPF_LINK_TYPE_XDP &&
            (int32_t)li.xdp.ifindex == ifindex)
            ret = fn(fd, id, arg);
        close(fd);
        if (ret)
            return ret;
    }
    return 0;
}

struct ids {
    napi_env env;
    napi_value array;
    uint32_t n;
};

static int add_id(int fd, uint32_t id, void *arg)
{
    (void)fd;
    struct ids *ids = arg;
    return napi_set_element(ids->env, ids->array, ids->n++, tsbpf_uint32(ids->env, id)) == napi_ok
               ? 0
               : -EINVAL;
}

/* xdpLinkIds(ifindex) → the ids of the XDP links on that device (Linux 5.9+). */
napi_value tsbpf_xdp_link_ids(napi_env env, napi_callback_info info)
{
    static const char op[] = "xdpLinkIds";
    napi_value argv[1];
    int32_t ifindex;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "ifindex", &ifindex))
        return NULL;
    struct ids ids = {env, NULL, 0};
    TSBPF_NAPI(env, napi_create_array(env, &ids.array));
    if (each_xdp_link(ifindex, add_id, &ids))
        return tsbpf_throw_napi(env, "napi_set_element");
    return ids.array;
}

static int detach_link(int fd, uint32_t id, void *arg)
{
    (void)id;
    if (bpf_link_detach(fd) < 0)
        return errno;
    ++*(uint32_t *)arg;
    return 0;
}

/*
 * xdpLinkDetach(ifindex) → how many XDP links on that device it detached
 * (BPF_LINK_DETACH, Linux 5.9+), whoever holds them: their holders keep an
 * fd on a link that is no longer attached.
 */
napi_value tsbpf_xdp_link_detach(napi_env env, napi_callback_info info)
{
    static const char op[] = "xdpLinkDetach";
    napi_value argv[1];
    int32_t ifindex;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "ifindex", &ifindex))
        return NULL;
    tsbpf_log_reset();
    uint32_t n = 0;
    int err = each_xdp_link(ifindex, detach_link, &n);
    if (err)
        return tsbpf_throw(env, "bpf_link_detach", err);
    return tsbpf_uint32(env, n);
}

/*
 * xdpQuery(ifindex) → { progId, drvProgId, hwProgId, skbProgId, attachMode }
 * (ids 0 when none; attachMode is XDP_ATTACHED_*).
 */
napi_value tsbpf_xdp_query(napi_env env, napi_callback_info info)
{
    static const char op[] = "xdpQuery";
    napi_value argv[1], result;
    int32_t ifindex;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "ifindex", &ifindex))
        return NULL;
    tsbpf_log_reset();
    LIBBPF_OPTS(bpf_xdp_query_opts, opts);
    int err = bpf_xdp_query(ifindex, 0, &opts);
    if (err)
        return tsbpf_throw(env, "bpf_xdp_query", err);
    TSBPF_NAPI(env, napi_create_object(env, &result));
    if (!tsbpf_set_prop(env, result, "progId", tsbpf_uint32(env, opts.prog_id)) ||
        !tsbpf_set_prop(env, result, "drvProgId", tsbpf_uint32(env, opts.drv_prog_id)) ||
        !tsbpf_set_prop(env, result, "hwProgId", tsbpf_uint32(env, opts.hw_prog_id)) ||
        !tsbpf_set_prop(env, result, "skbProgId", tsbpf_uint32(env, opts.skb_prog_id)) ||
        !tsbpf_set_prop(env, result, "attachMode", tsbpf_uint32(env, opts.attach_mode)))
        return NULL;
    return result;
}

/*
 * openRawSocket(ifindex) → fd of a non-blocking AF_PACKET SOCK_RAW socket
 * receiving every protocol (ETH_P_ALL), bound to the device (bcc's
 * bpf_open_raw_sock).
 */
napi_value tsbpf_open_raw_socket(napi_env env, napi_callback_info info)
{
    static const char op[] = "openRawSocket";
    napi_value argv[1];
    int32_t ifindex;
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "ifindex", &ifindex))
        return NULL;
    int fd = socket(PF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0)
        return tsbpf_throw(env, "socket", errno);
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_protocol = htons(ETH_P_ALL);
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        int err = errno;
        close(fd);
        return tsbpf_throw(env, "bind", err);
    }
    return tsbpf_int32(env, fd);
}

/* attachSocketFilter(sockFd, progFd): setsockopt(SO_ATTACH_BPF). */
napi_value tsbpf_attach_socket_filter(napi_env env, napi_callback_info info)
{
    static const char op[] = "attachSocketFilter";
    napi_value argv[2];
    int32_t sock, prog_fd;
    if (!tsbpf_get_args(env, info, op, 2, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "sockFd", &sock) ||
        !tsbpf_arg_int32(env, argv[1], op, "progFd", &prog_fd))
        return NULL;
    int fd = prog_fd;
    if (setsockopt(sock, SOL_SOCKET, SO_ATTACH_BPF, &fd, sizeof(fd)) < 0)
        return tsbpf_throw(env, "setsockopt(SO_ATTACH_BPF)", errno);
    return tsbpf_undefined(env);
}
