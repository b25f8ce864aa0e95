/* tsbpf shim for <linux/socket.h>: everything comes from vmlinux.h and tsbpf/prelude.h. */
#include "tsbpf/prelude.h"
