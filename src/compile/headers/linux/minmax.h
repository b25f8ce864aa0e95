/*
 * tsbpf shim for <linux/minmax.h> (<linux/kernel.h> before 5.10): each
 * argument evaluated once, in a statement expression. The kernel's versions
 * also reject mixed signedness at compile time; these compare as C does.
 */
#define min(x, y) ({ __typeof__(x) __tsbpf_x = (x); __typeof__(y) __tsbpf_y = (y); __tsbpf_x < __tsbpf_y ? __tsbpf_x : __tsbpf_y; })
#define max(x, y) ({ __typeof__(x) __tsbpf_x = (x); __typeof__(y) __tsbpf_y = (y); __tsbpf_x > __tsbpf_y ? __tsbpf_x : __tsbpf_y; })
#define min3(x, y, z) min((__typeof__(x))min(x, y), z)
#define max3(x, y, z) max((__typeof__(x))max(x, y), z)
#define min_t(type, x, y) ({ type __tsbpf_x = (x); type __tsbpf_y = (y); __tsbpf_x < __tsbpf_y ? __tsbpf_x : __tsbpf_y; })
#define max_t(type, x, y) ({ type __tsbpf_x = (x); type __tsbpf_y = (y); __tsbpf_x > __tsbpf_y ? __tsbpf_x : __tsbpf_y; })
#define umin(x, y) min_t(unsigned long long, x, y)
#define umax(x, y) max_t(unsigned long long, x, y)
#define clamp(val, lo, hi) min((__typeof__(val))max(val, lo), hi)
#define clamp_t(type, val, lo, hi) min_t(type, max_t(type, val, lo), hi)
#define clamp_val(val, lo, hi) clamp_t(__typeof__(val), val, lo, hi)
#define swap(a, b) do { __typeof__(a) __tsbpf_tmp = (a); (a) = (b); (b) = __tsbpf_tmp; } while (0)
