/* tsbpf shim for <uapi/linux/bpf.h>: everything comes from vmlinux.h and tsbpf/prelude.h. */
#include "tsbpf/prelude.h"
