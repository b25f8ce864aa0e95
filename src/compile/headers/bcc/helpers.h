/* tsbpf shim for <bcc/helpers.h>: bcc's helpers come from tsbpf/prelude.h. */
#include "tsbpf/prelude.h"
