/* tsbpf shim for <linux/bpf.h>: everything comes from vmlinux.h and tsbpf/prelude.h. */
#include "tsbpf/prelude.h"
