/*
 * tsbpf shim for x86-64's <asm/page.h>, <asm/page_types.h> and
 * <asm/page_64_types.h>: page size, the kernel text mapping, and
 * PAGE_OFFSET, the start of the direct map of physical memory. That one is
 * the kernel variable page_offset_base where the memory layout is dynamic
 * (KASLR; always since 6.16): it is read through an untyped ksym, which
 * libbpf resolves from /proc/kallsyms at load, and falls back to the 4-level
 * paging constant where the kernel has no such variable.
 */
#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define __START_KERNEL_map 0xffffffff80000000UL
#define __PAGE_OFFSET_BASE_L4 0xffff888000000000UL
#define __PAGE_OFFSET_BASE_L5 0xff11000000000000UL
#define PAGE_OFFSET ({ extern const void page_offset_base __attribute__((section(".ksyms"), weak)); unsigned long __tsbpf_po = 0; bpf_probe_read_kernel(&__tsbpf_po, sizeof(__tsbpf_po), &page_offset_base); __tsbpf_po ? __tsbpf_po : __PAGE_OFFSET_BASE_L4; })
