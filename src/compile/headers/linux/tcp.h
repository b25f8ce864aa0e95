/* tsbpf shim for <linux/tcp.h>: everything comes from vmlinux.h and tsbpf/prelude.h. */
#include "tsbpf/prelude.h"
