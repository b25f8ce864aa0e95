/*
 * tsbpf shim for <linux/math64.h> and <asm-generic/div64.h>: 64-bit division
 * helpers, which BPF does natively (unsigned; signed division only on
 * kernels with BPF v4 instructions, so div_s64 divides magnitudes).
 */
#define div_u64(dividend, divisor) ((unsigned long long)(dividend) / (unsigned int)(divisor))
#define div64_u64(dividend, divisor) ((unsigned long long)(dividend) / (unsigned long long)(divisor))
#define div64_ul(x, y) div64_u64(x, y)
#define div_u64_rem(dividend, divisor, remainder) ({ unsigned long long __tsbpf_d = (dividend); unsigned int __tsbpf_s = (divisor); *(remainder) = __tsbpf_d % __tsbpf_s; __tsbpf_d / __tsbpf_s; })
#define div_s64(dividend, divisor) ({ long long __tsbpf_n = (dividend); int __tsbpf_m = (divisor); long long __tsbpf_q = (long long)((unsigned long long)(__tsbpf_n < 0 ? -__tsbpf_n : __tsbpf_n) / (unsigned int)(__tsbpf_m < 0 ? -__tsbpf_m : __tsbpf_m)); ((__tsbpf_n < 0) != (__tsbpf_m < 0)) ? -__tsbpf_q : __tsbpf_q; })
#define do_div(n, base) ({ unsigned int __tsbpf_b = (base); unsigned int __tsbpf_r = (n) % __tsbpf_b; (n) = (n) / __tsbpf_b; __tsbpf_r; })
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define DIV_ROUND_UP_ULL(ll, d) div_u64((ll) + (d) - 1, d)
#define roundup(x, y) ((((x) + ((y) - 1)) / (y)) * (y))
#define rounddown(x, y) ((x) - ((x) % (y)))
