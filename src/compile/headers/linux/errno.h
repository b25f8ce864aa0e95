/*
 * tsbpf shim for <linux/errno.h>: the errno values (libbpf's usdt.bpf.h
 * includes this header, whose <asm/errno.h> would otherwise be looked for in
 * the host's multiarch include directory, which clang -target bpf does not
 * search).
 */
#include "tsbpf/kernel_defines.h"
