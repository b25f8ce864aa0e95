/* tsbpf shim for <linux/container_of.h> (<linux/kernel.h> before 5.16): the structure a member is in. */
#define container_of(ptr, type, member) ((type *)((void *)(ptr) - __builtin_offsetof(type, member)))
