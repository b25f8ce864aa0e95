/*
 * tsbpf shim for <linux/scatterlist.h>: the low bits of
 * scatterlist.page_link mark a chain link (SG_CHAIN) or the last entry
 * (SG_END); the rest is the page (or the next list) pointer. The entry is
 * kernel memory, read with BPF_CORE_READ.
 */
#define SG_CHAIN 0x01UL
#define SG_END 0x02UL
#define SG_PAGE_LINK_MASK (SG_CHAIN | SG_END)
#define sg_is_chain(sg) (BPF_CORE_READ((struct scatterlist *)(sg), page_link) & SG_CHAIN)
#define sg_is_last(sg) (BPF_CORE_READ((struct scatterlist *)(sg), page_link) & SG_END)
#define sg_chain_ptr(sg) ((struct scatterlist *)(BPF_CORE_READ((struct scatterlist *)(sg), page_link) & ~SG_PAGE_LINK_MASK))
