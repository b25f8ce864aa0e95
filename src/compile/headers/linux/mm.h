/*
 * tsbpf shim for <linux/mm.h> and <linux/page-flags.h>: the n-th page of a
 * folio (struct folio begins with its first struct page; the memory map is
 * contiguous, as with SPARSEMEM_VMEMMAP on x86-64 and arm64).
 */
#define nth_page(page, n) ((page) + (n))
#define folio_page(folio, n) nth_page(&(folio)->page, n)
