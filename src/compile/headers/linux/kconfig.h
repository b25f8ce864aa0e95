/*
 * tsbpf shim for <linux/kconfig.h>: whether a CONFIG_ option is built in
 * (autoconf.h defines it as 1), a module (it defines NAME_MODULE as 1) or
 * either, as a 0/1 expression usable in #if and in C. An option defined as 1
 * pastes to __tsbpf_kconfig_on_1, which expands to "0," and so shifts a 1
 * into second place; anything else leaves the 0 there.
 */
#define __tsbpf_kconfig_on_1 0,
#define __tsbpf_kconfig_second(ignored, value, ...) value
#define __tsbpf_kconfig_pick(arg) __tsbpf_kconfig_second(arg 1, 0, 0)
#define __tsbpf_kconfig_paste(value) __tsbpf_kconfig_pick(__tsbpf_kconfig_on_##value)
#define __tsbpf_kconfig_is_one(option) __tsbpf_kconfig_paste(option)
#define IS_BUILTIN(option) __tsbpf_kconfig_is_one(option)
#define IS_MODULE(option) __tsbpf_kconfig_is_one(option##_MODULE)
#define IS_ENABLED(option) (IS_BUILTIN(option) || IS_MODULE(option))
#define IS_REACHABLE(option) IS_ENABLED(option)
