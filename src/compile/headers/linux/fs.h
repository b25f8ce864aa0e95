/* tsbpf shim for <linux/fs.h>: everything comes from vmlinux.h and tsbpf/prelude.h. */
#include "tsbpf/prelude.h"
