/*
 * tsbpf prelude: force-included (after vmlinux.h) into every bcc-dialect
 * program. It gives bcc's C dialect on top of libbpf's headers, with no
 * kernel headers at all.
 */
#ifndef __TSBPF_PRELUDE_H
#define __TSBPF_PRELUDE_H

#ifndef __VMLINUX_H__
#include "vmlinux.h"
#endif
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/*
 * bpf_probe_read_kernel/_user arrived in Linux 5.5; before, bpf_probe_read
 * read both, and the newer names map to it (as bcc does there). Implicit
 * kernel reads (src/compile/implicit_reads.ts) use bpf_probe_read_kernel.
 */
#if defined(LINUX_VERSION_CODE) && defined(KERNEL_VERSION)
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 5, 0)
#define bpf_probe_read_kernel bpf_probe_read
#define bpf_probe_read_kernel_str bpf_probe_read_str
#define bpf_probe_read_user bpf_probe_read
#define bpf_probe_read_user_str bpf_probe_read_str
#endif
#endif

/* Kernel annotations that live in compiler headers, not in BTF. */
#ifndef __user
#define __user
#endif
#ifndef __kernel
#define __kernel
#endif
#ifndef __force
#define __force
#endif
#ifndef __iomem
#define __iomem
#endif
#ifndef __rcu
#define __rcu
#endif
#ifndef __percpu
#define __percpu
#endif
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif
#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#ifndef NULL
#define NULL ((void *)0)
#endif

/* libbpf's usdt.bpf.h includes <linux/errno.h> (tsbpf's: headers/linux/errno.h). */

/*
 * The sixth argument register, which libbpf's bpf_tracing.h has only since
 * libbpf 1.2 (Debian 12 ships 1.1), and bcc's PT_REGS_SYSCALL_CTX: the
 * user's registers of a syscall, which the probed __x64_sys_X function gets
 * as its only argument where the kernel has syscall wrappers (x86-64 4.17+).
 */
#if defined(__TARGET_ARCH_x86)
#ifndef PT_REGS_PARM6
#define PT_REGS_PARM6(x) (((const struct pt_regs *)(x))->r9)
#endif
#ifndef PT_REGS_PARM6_CORE
#define PT_REGS_PARM6_CORE(x) BPF_CORE_READ((const struct pt_regs *)(x), r9)
#endif
#elif defined(__TARGET_ARCH_arm64)
#ifndef PT_REGS_PARM6
#define PT_REGS_PARM6(x) (((const struct user_pt_regs *)(x))->regs[5])
#endif
#ifndef PT_REGS_PARM6_CORE
#define PT_REGS_PARM6_CORE(x) BPF_CORE_READ((const struct user_pt_regs *)(x), regs[5])
#endif
#endif
#ifndef PT_REGS_PARM6_SYSCALL
#define PT_REGS_PARM6_SYSCALL(x) PT_REGS_PARM6(x)
#endif
#ifndef PT_REGS_PARM6_CORE_SYSCALL
#define PT_REGS_PARM6_CORE_SYSCALL(x) PT_REGS_PARM6_CORE(x)
#endif
#if defined(__TSBPF_SYSCALL_WRAPPER) && __TSBPF_SYSCALL_WRAPPER
#define PT_REGS_SYSCALL_CTX(ctx) ((struct pt_regs *)PT_REGS_PARM1(ctx))
#else
#define PT_REGS_SYSCALL_CTX(ctx) (ctx)
#endif

/* bcc's 64-bit byte order helpers (libbpf's bpf_endian.h names them bpf_cpu_to_be64 & co.). */
#define bpf_htonll(x) bpf_cpu_to_be64(x)
#define bpf_ntohll(x) bpf_be64_to_cpu(x)

/* bcc's helpers that are macros or inline functions, not kernel helpers. */
#define lock_xadd(ptr, val) ((void)__sync_fetch_and_add(ptr, val))

static __always_inline unsigned int bpf_log2(unsigned int v)
{
	unsigned int r, shift;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline unsigned int bpf_log2l(unsigned long v)
{
	unsigned int hi = v >> 32;

	if (hi)
		return bpf_log2(hi) + 32 + 1;
	return bpf_log2(v) + 1;
}

/* bcc's stack trace map value (BPF_STACK_TRACE). */
#ifndef BPF_MAX_STACK_DEPTH
#define BPF_MAX_STACK_DEPTH 127
#endif
struct bpf_stacktrace {
	__u64 ip[BPF_MAX_STACK_DEPTH];
};
struct bpf_stacktrace_buildid {
	struct bpf_stack_build_id trace[BPF_MAX_STACK_DEPTH];
};

/*
 * Ring buffer wake-up batching. With a threshold T set from user space for
 * ring buffer number idx (table.openRingBuffer(cb, { wakeupBytes: T })), a
 * submit with flags 0 wakes the consumer only once T bytes are waiting
 * (BPF_RB_FORCE_WAKEUP) and otherwise not at all (BPF_RB_NO_WAKEUP); the
 * consumer's drain timer picks up the rest. Explicit flags pass through.
 */
#if defined(__TSBPF_NUM_RINGBUFS) && __TSBPF_NUM_RINGBUFS > 0
struct {
	__uint(type, 2 /* BPF_MAP_TYPE_ARRAY */);
	__uint(max_entries, __TSBPF_NUM_RINGBUFS);
	__type(key, __u32);
	__type(value, __u64);
} __tsbpf_rb_wakeup SEC(".maps");

static __always_inline __u64 __tsbpf_rb_flags(void *rb, __u32 idx, __u64 flags)
{
	__u64 *threshold;

	if (flags)
		return flags;
	threshold = bpf_map_lookup_elem(&__tsbpf_rb_wakeup, &idx);
	if (!threshold || !*threshold)
		return 0;
	return bpf_ringbuf_query(rb, 0 /* BPF_RB_AVAIL_DATA */) >= *threshold ? 2 /* BPF_RB_FORCE_WAKEUP */
									 : 1 /* BPF_RB_NO_WAKEUP */;
}
#define __TSBPF_RB_FLAGS(map, idx, flags) __tsbpf_rb_flags((void *)&(map), (idx), (flags))

/* Records a ring buffer could not take (full): counted per ring buffer, read by RingBuf.drops. */
struct {
	__uint(type, 6 /* BPF_MAP_TYPE_PERCPU_ARRAY */);
	__uint(max_entries, __TSBPF_NUM_RINGBUFS);
	__type(key, __u32);
	__type(value, __u64);
} __tsbpf_rb_drops SEC(".maps");

static __always_inline void __tsbpf_rb_drop(__u32 idx)
{
	__u64 *n = bpf_map_lookup_elem(&__tsbpf_rb_drops, &idx);

	if (n)
		(*n)++;
}
#define __TSBPF_RB_OUTPUT(map, idx, data, size, flags)                                                  \
	({                                                                                              \
		long __r = bpf_ringbuf_output((void *)&(map), (data), (size),                         \
					      __TSBPF_RB_FLAGS(map, idx, flags));                    \
		if (__r)                                                                                \
			__tsbpf_rb_drop(idx);                                                           \
		__r;                                                                                    \
	})
#define __TSBPF_RB_RESERVE(map, idx, size)                                                             \
	({                                                                                              \
		void *__p = bpf_ringbuf_reserve((void *)&(map), (size), 0);                            \
		if (!__p)                                                                               \
			__tsbpf_rb_drop(idx);                                                           \
		__p;                                                                                    \
	})
#endif

/* Number of possible CPUs, set by the loader (bcc's bpf_num_cpus()). */
#ifndef __TSBPF_NUM_CPUS
#define __TSBPF_NUM_CPUS 1
#endif
#define bpf_num_cpus() (__TSBPF_NUM_CPUS)

/*
 * The index of the running CPU's slot for perf arrays: table.perf_read(CUR_CPU_IDENTIFIER)
 * and perf_submit (bcc's; BPF_F_CURRENT_CPU, Linux 4.8+).
 */
#ifndef CUR_CPU_IDENTIFIER
#define CUR_CPU_IDENTIFIER 0xffffffffULL
#endif

/*
 * bcc's packet loads for socket filters (BPF_LD_ABS through LLVM's
 * intrinsics; socket filter and tc programs only): load_byte(skb, offset),
 * load_half and load_word return the bytes at offset in host order.
 */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

/*
 * bcc's packet header fields (<bcc/proto.h> and structs marked
 * BPF_PACKET_HEADER, read through a cursor_advance() pointer): tsbpf's
 * translator turns `ip->ttl` into bpf_dext_pkt(skb, (u64)ip + BYTE, BIT, WIDTH)
 * and `ip->ttl = v` into bpf_dins_pkt(..., v) (src/compile/packet_headers.ts).
 * The field is the WIDTH bits from bit BIT (counted from the most significant)
 * of the big-endian bytes at BYTE; its value is in host order. Constant
 * arguments fold each call to one or two loads (and a store: tc programs
 * only, through bpf_skb_store_bytes).
 */
#define __TSBPF_PKT_MASK(n) ((n) < 64 ? (1ULL << (n)) - 1 : ~0ULL)
static __always_inline unsigned long long bpf_dext_pkt(void *pkt, unsigned long long off,
						       unsigned long long bofs, unsigned long long bsz)
{
	unsigned long long end = bofs + bsz;

	if (end <= 8)
		return (load_byte(pkt, off) >> (8 - end)) & __TSBPF_PKT_MASK(bsz);
	if (end <= 16)
		return (load_half(pkt, off) >> (16 - end)) & __TSBPF_PKT_MASK(bsz);
	if (end <= 32)
		return (load_word(pkt, off) >> (32 - end)) & __TSBPF_PKT_MASK(bsz);
	if (end <= 64)
		return (((load_word(pkt, off) << 32) | load_word(pkt, off + 4)) >> (64 - end)) &
		       __TSBPF_PKT_MASK(bsz);
	return 0;
}

static __always_inline void bpf_dins_pkt(void *pkt, unsigned long long off, unsigned long long bofs,
					 unsigned long long bsz, unsigned long long val)
{
	unsigned long long end = bofs + bsz;

	if (end <= 8) {
		unsigned char v = bsz == 8 ? val : load_byte(pkt, off);

		if (bsz != 8)
			v = (v & ~(__TSBPF_PKT_MASK(bsz) << (8 - end))) |
			    ((val & __TSBPF_PKT_MASK(bsz)) << (8 - end));
		bpf_skb_store_bytes(pkt, off, &v, 1, 0);
	} else if (end <= 16) {
		unsigned short v = bsz == 16 ? val : load_half(pkt, off);

		if (bsz != 16)
			v = (v & ~(__TSBPF_PKT_MASK(bsz) << (16 - end))) |
			    ((val & __TSBPF_PKT_MASK(bsz)) << (16 - end));
		v = bpf_htons(v);
		bpf_skb_store_bytes(pkt, off, &v, 2, 0);
	} else if (end <= 32) {
		unsigned int v = bsz == 32 ? val : load_word(pkt, off);

		if (bsz != 32)
			v = (v & ~(__TSBPF_PKT_MASK(bsz) << (32 - end))) |
			    ((val & __TSBPF_PKT_MASK(bsz)) << (32 - end));
		v = bpf_htonl(v);
		bpf_skb_store_bytes(pkt, off, &v, 4, 0);
	} else if (end <= 64) {
		unsigned long long v =
			bsz == 64 ? val : (load_word(pkt, off) << 32) | load_word(pkt, off + 4);

		if (bsz != 64)
			v = (v & ~(__TSBPF_PKT_MASK(bsz) << (64 - end))) |
			    ((val & __TSBPF_PKT_MASK(bsz)) << (64 - end));
		v = bpf_htonll(v);
		bpf_skb_store_bytes(pkt, off, &v, 8, 0);
	}
}

/*
 * bcc's incremental checksum updates, incr_cksum_l3(&ip->hchecksum, old, new)
 * and incr_cksum_l4(&tcp->cksum, old, new, is_pseudo_header): the translator
 * gives them the function's first parameter (the packet) first. The values
 * are host order (bpf_dext_pkt's); the helpers take them as on the wire, by
 * their size.
 */
#define __TSBPF_CSUM_VAL(v, size) \
	((size) == 2 ? bpf_htons(v) : (size) == 4 ? bpf_htonl(v) : (size) == 8 ? bpf_htonll(v) : (v))
#define __tsbpf_incr_cksum_l3(ctx, field, from, to)                                                \
	bpf_l3_csum_replace(ctx, (unsigned long long)(field), __TSBPF_CSUM_VAL(from, sizeof(to)),   \
			    __TSBPF_CSUM_VAL(to, sizeof(to)), sizeof(to))
#define __tsbpf_incr_cksum_l4(ctx, field, from, to, pseudo)                                        \
	bpf_l4_csum_replace(ctx, (unsigned long long)(field), __TSBPF_CSUM_VAL(from, sizeof(to)),   \
			    __TSBPF_CSUM_VAL(to, sizeof(to)), (((pseudo) & 1) << 4) | sizeof(to))

/* Tracepoint __data_loc fields: the low 16 bits are the offset in the record. */
#define TP_DATA_LOC_READ_CONST(dst, field, length)                                      \
	do {                                                                            \
		unsigned short __offset = args->data_loc_##field & 0xFFFF;              \
		bpf_probe_read_kernel((void *)dst, length, (char *)args + __offset);    \
	} while (0)
#define TP_DATA_LOC_READ(dst, field)                                                    \
	do {                                                                            \
		unsigned short __offset = args->data_loc_##field & 0xFFFF;              \
		unsigned short __length = args->data_loc_##field >> 16;                 \
		bpf_probe_read_kernel((void *)dst, __length, (char *)args + __offset);  \
	} while (0)
#define TP_DATA_LOC_READ_STR(dst, field, length)                                        \
	do {                                                                            \
		unsigned short __offset = args->data_loc_##field & 0xFFFF;              \
		bpf_probe_read_kernel_str((void *)dst, length, (char *)args + __offset);\
	} while (0)

/*
 * syscall__X functions with declared arguments. On x86-64 since 4.17
 * (ARCH_HAS_SYSCALL_WRAPPER) the probed __x64_sys_X(const struct pt_regs *regs)
 * gets the user's registers as its only argument, so the arguments are read
 * from that inner pt_regs (kernel memory).
 */
#if defined(__TSBPF_SYSCALL_WRAPPER) && __TSBPF_SYSCALL_WRAPPER
#define __TSBPF_SYSCALL_REGS(ctx) ((struct pt_regs *)PT_REGS_PARM1(ctx))
#define __TSBPF_SYSCALL_ARG1(ctx) PT_REGS_PARM1_CORE_SYSCALL(__TSBPF_SYSCALL_REGS(ctx))
#define __TSBPF_SYSCALL_ARG2(ctx) PT_REGS_PARM2_CORE_SYSCALL(__TSBPF_SYSCALL_REGS(ctx))
#define __TSBPF_SYSCALL_ARG3(ctx) PT_REGS_PARM3_CORE_SYSCALL(__TSBPF_SYSCALL_REGS(ctx))
#define __TSBPF_SYSCALL_ARG4(ctx) PT_REGS_PARM4_CORE_SYSCALL(__TSBPF_SYSCALL_REGS(ctx))
#define __TSBPF_SYSCALL_ARG5(ctx) PT_REGS_PARM5_CORE_SYSCALL(__TSBPF_SYSCALL_REGS(ctx))
#define __TSBPF_SYSCALL_ARG6(ctx) BPF_CORE_READ(__TSBPF_SYSCALL_REGS(ctx), r9)
#else
#define __TSBPF_SYSCALL_ARG1(ctx) PT_REGS_PARM1(ctx)
#define __TSBPF_SYSCALL_ARG2(ctx) PT_REGS_PARM2(ctx)
#define __TSBPF_SYSCALL_ARG3(ctx) PT_REGS_PARM3(ctx)
#define __TSBPF_SYSCALL_ARG4(ctx) PT_REGS_PARM4(ctx)
#define __TSBPF_SYSCALL_ARG5(ctx) PT_REGS_PARM5(ctx)
#define __TSBPF_SYSCALL_ARG6(ctx) PT_REGS_PARM6(ctx)
#endif
#define __TSBPF_KPROBE_ARG1(ctx) PT_REGS_PARM1(ctx)
#define __TSBPF_KPROBE_ARG2(ctx) PT_REGS_PARM2(ctx)
#define __TSBPF_KPROBE_ARG3(ctx) PT_REGS_PARM3(ctx)
#define __TSBPF_KPROBE_ARG4(ctx) PT_REGS_PARM4(ctx)
#define __TSBPF_KPROBE_ARG5(ctx) PT_REGS_PARM5(ctx)
#define __TSBPF_KPROBE_ARG6(ctx) PT_REGS_PARM6(ctx)
/*
 * The same syscall__X function attached to the syscalls:sys_enter_X
 * tracepoint: after the 8 bytes of common fields and the 4-byte
 * __syscall_nr (padded to 8), the arguments are unsigned longs from offset 16.
 */
#define __TSBPF_TP_SYSCALL_ARG(ctx, n) (((const unsigned long *)(ctx))[2 + (n)])

/* ---- USDT (tsbpf) -------------------------------------------------------------------------
 * bcc's USDT argument readers over libbpf's USDT support (bpf/usdt.bpf.h:
 * the __bpf_usdt_specs / __bpf_usdt_ip_to_spec_id maps and bpf_usdt_arg()).
 * Compiled in when BPF.load has USDT contexts, or the program calls
 * bpf_usdt_readarg*: BPF.load defines __TSBPF_USDT then.
 *
 * bpf_usdt_readarg(n, ctx, &v): argument n (from 1) of the probe into v
 * (its low sizeof(v) bytes, sign-extended first when the probe says the
 * argument is signed); 0, or a negative errno (v zeroed).
 * bpf_usdt_readarg_p(n, ctx, buf, len): argument n as a user-space pointer,
 * len bytes read from it into buf (as bcc does); when those bytes cannot
 * all be read (a short string at the end of a mapping), the NUL-terminated
 * string there instead. 0 or a negative errno (buf zeroed).
 */
#if defined(__TSBPF_USDT) && __TSBPF_USDT
/* The vmlinux.h names usdt.bpf.h needs (tsbpf cuts vmlinux.h to the names its headers mention). */
#define __TSBPF_USDT_KERNEL_NAMES bool BPF_MAP_TYPE_ARRAY BPF_MAP_TYPE_HASH
#include <bpf/usdt.bpf.h>
#define bpf_usdt_readarg(n, ctx, addr)                                                          \
	({                                                                                      \
		long __tsbpf_uv = 0;                                                            \
		int __tsbpf_ur = bpf_usdt_arg((struct pt_regs *)(ctx), (n) - 1, &__tsbpf_uv);   \
		__builtin_memcpy((void *)(addr), &__tsbpf_uv,                                   \
				 sizeof(*(addr)) < sizeof(long) ? sizeof(*(addr)) : sizeof(long)); \
		__tsbpf_ur;                                                                     \
	})
#define bpf_usdt_readarg_p(n, ctx, buf, len)                                                    \
	({                                                                                      \
		long __tsbpf_up = 0;                                                            \
		int __tsbpf_ur = bpf_usdt_arg((struct pt_regs *)(ctx), (n) - 1, &__tsbpf_up);   \
		if (!__tsbpf_ur) {                                                              \
			__tsbpf_ur = bpf_probe_read_user((void *)(buf), (len), (void *)__tsbpf_up); \
			if (__tsbpf_ur) {                                                       \
				long __tsbpf_us = bpf_probe_read_user_str((void *)(buf), (len),  \
									  (void *)__tsbpf_up);   \
				__tsbpf_ur = __tsbpf_us < 0 ? (int)__tsbpf_us : 0;              \
			}                                                                       \
		}                                                                               \
		__tsbpf_ur;                                                                     \
	})
#endif
/* ---- end of USDT ------------------------------------------------------------------------- */

#endif /* __TSBPF_PRELUDE_H */
