/* tsbpf shim for <uapi/linux/ptrace.h>: everything comes from vmlinux.h and tsbpf/prelude.h. */
#include "tsbpf/prelude.h"
