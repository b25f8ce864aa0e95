/*
 * tsbpf shim for <linux/compiler.h> and <asm-generic/rwonce.h>: one access of
 * a variable that the compiler may neither repeat nor elide, and a compiler
 * barrier. (likely/unlikely are in tsbpf/prelude.h.)
 */
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val) do { *(volatile __typeof__(x) *)&(x) = (val); } while (0)
#define ACCESS_ONCE(x) (*(volatile __typeof__(x) *)&(x))
#define barrier() __asm__ __volatile__("" : : : "memory")
#define __must_check __attribute__((warn_unused_result))
#define __packed __attribute__((packed))
#define __aligned(x) __attribute__((aligned(x)))
#define __maybe_unused __attribute__((unused))
#define noinline __attribute__((noinline))
#define ARRAY_SIZE(arr) (sizeof(arr) / sizeof((arr)[0]))
