/*
 * A BTF file read in place: its types and strings where the file's bytes are
 * (a read-only mapping of sysfs's vmlinux; one copy of any other file, or of
 * sysfs's before Linux 6.15, which cannot be mapped), with the offset of each
 * type. libbpf's struct btf would copy
 * the whole file again (5.5 MB on Linux 6.18); the subset header needs only
 * a small BTF of the types it prints, which btf_raw_subset makes.
 */
#ifndef TSBPF_BTF_RAW_H
#define TSBPF_BTF_RAW_H

#include <linux/btf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btf;

struct btf_raw {
    void *mem; /* the file's bytes */
    size_t mem_len;
    bool mapped; /* mem is a mapping (else malloc'd) */
    const char *types;
    const char *strs;
    uint32_t strs_len;
    uint32_t *offs; /* offs[id]: where type id starts in types ([0] unused) */
    uint32_t count; /* ids 0 (void) .. count - 1 */
};

/* Words after a type's 3-word header, by kind and vlen; -1 for an unknown kind (btf_scan.c). */
int64_t tsbpf_btf_extra_words(uint32_t kind, uint32_t vlen);

/*
 * Read `path` (raw BTF, or an ELF file with a .BTF section) and check every
 * type: known kinds, sections and names within the file, referenced ids
 * below count. 0, or a negative errno.
 */
int btf_raw_open(struct btf_raw *r, const char *path);
void btf_raw_free(struct btf_raw *r);

/* Type `id` (< count, which btf_raw_open checked for every reference); id 0 is void. */
const struct btf_type *btf_raw_type(const struct btf_raw *r, uint32_t id);

/* The string at `off` (checked by btf_raw_open for the offsets types hold). */
static inline const char *btf_raw_name(const struct btf_raw *r, uint32_t off)
{
    return off < r->strs_len ? r->strs + off : "";
}

/*
 * A BTF of what btf_dump reads to print the types marked in `roots`: each root
 * and, as btf_dump orders them, the types it needs complete; a named struct
 * or union that is only pointed to keeps its name, kind and size, without
 * members (btf_dump prints it as a forward declaration either way). Ids keep
 * their order, so the dump is the same text. *mini_roots gets the roots by
 * their new ids (free it). NULL and errno on failure.
 */
struct btf *btf_raw_subset(const struct btf_raw *r, const unsigned char *roots,
                           unsigned char **mini_roots);

#endif
