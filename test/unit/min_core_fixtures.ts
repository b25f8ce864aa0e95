/**
 * C sources for the minimized-BTF tests (unit and kernel): a synthetic
 * "kernel" whose BTF stands in for the target, and a program with a CO-RE
 * relocation of every kind clang 14 emits against it (flavors, anonymous
 * members, arrays, flexible arrays, bitfields, pointers, enums, typedefs,
 * function prototypes, types and fields the target lacks).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readElf } from "../../src/elf/elf.js";

/** The target: types as a kernel would have them (flavored names, a zero-length array that is not last). */
export const TARGET_C = `
enum color { RED = 1, GREEN = 5, BLUE = 9 };
enum big { BIG_A = 0x100000000ULL, BIG_B = -2LL };
struct inner { int a; int b; long long c; };
struct tgt {
  int first;
  union {
    int u1;
    struct { short s1; short s2; };
  };
  struct inner in;
  struct inner arr[4];
  struct inner *ptr;
  unsigned int bf1 : 3, bf2 : 5;
  int sbf : 4;
  char name[16];
  enum color col;
  const volatile long cvl;
  int unused_tail;
};
struct flexy { int n; int other; int items[]; };
struct notflex { int before; int z[0]; int after; };
struct twin { int x; };
struct twin___a { int x; int y; };
struct amb { int k; };
struct amb___2 { int pad; int k; };
typedef struct tgt tgt_t;
typedef int (*fnptr)(struct inner *, int);
struct withfn { fnptr f; int g; };
union un { int i; char c[4]; };
struct lonely { int z; };
struct holder { int v; struct lonely *p; };

struct tgt g_tgt;
struct flexy *g_flexy;
struct notflex g_notflex;
struct twin g_twin;
struct twin___a g_twin_a;
struct amb g_amb;
struct amb___2 g_amb2;
tgt_t g_td;
struct withfn g_withfn;
union un g_un;
enum color g_color;
enum big g_big;
struct holder g_holder;
`;

/** Local definitions, as a program would write them (or vmlinux.h would give them). */
const LOCAL_TYPES = `
#define __pai __attribute__((preserve_access_index))
enum color { RED = 1, GREEN = 2, BLUE = 3, ORANGE = 4 };
enum big { BIG_A = 1, BIG_B = 2 };
struct inner { int a; int b; long long c; } __pai;
struct tgt {
  int first;
  union {
    int u1;
    struct { short s1; short s2; };
  };
  struct inner in;
  struct inner arr[4];
  struct inner *ptr;
  unsigned int bf1 : 3, bf2 : 5;
  int sbf : 4;
  char name[16];
  enum color col;
  long cvl;
  int missing_in_target;
} __pai;
struct tgt___old { int first; int renamed_old; } __pai;
struct inner___bad { struct inner *b; } __pai;
struct flexy { int n; int other; int items[]; } __pai;
struct notflex { int before; int z[]; } __pai;
struct twin { int x; int y; } __pai;
struct nothere { int q; } __pai;
typedef struct tgt tgt_t;
typedef int (*fnptr)(struct inner *, int);
typedef int (*fnptr___wrong)(struct inner *);
union un { int i; char c[4]; } __pai;
struct holder { void *p; } __pai;
#define SEC(n) __attribute__((section(n), used))
#define F(x, k) __builtin_preserve_field_info(x, k)
#define T(t, k) __builtin_preserve_type_info(*(t *)0, k)
#define E(t, v, k) __builtin_preserve_enum_value(*(t *)v, k)
volatile unsigned long long out[128];
char LICENSE[] SEC("license") = "GPL";
`;

/** Every relocation kind clang 14 emits, against {@link TARGET_C}. */
export const LOCAL_C = `${LOCAL_TYPES}
SEC("socket")
int fields(void *ctx)
{
  struct tgt *t = ctx;
  int i = 0;
  out[i++] = F(t->first, 0);
  out[i++] = F(t->u1, 0);
  out[i++] = F(t->s2, 0);
  out[i++] = F(t->s2, 1);
  out[i++] = F(t->in.b, 0);
  out[i++] = F(t->arr[2].c, 0);
  out[i++] = F(t->arr[3], 1);
  out[i++] = F(t->ptr, 0);
  out[i++] = F(t->ptr, 1);
  out[i++] = F(t->bf2, 0);
  out[i++] = F(t->bf2, 1);
  out[i++] = F(t->bf2, 3);
  out[i++] = F(t->bf2, 4);
  out[i++] = F(t->bf2, 5);
  out[i++] = F(t->sbf, 3);
  out[i++] = F(t->sbf, 4);
  out[i++] = F(t->sbf, 5);
  out[i++] = F(t->name[7], 0);
  out[i++] = F(t->col, 3);
  out[i++] = F(t->cvl, 0);
  out[i++] = F(t->cvl, 3);
  out[i++] = F(t->missing_in_target, 2);
  out[i++] = F(t->first, 2);
  out[i++] = F(((struct tgt___old *)t)->renamed_old, 2);
  out[i++] = F(((struct tgt___old *)t)->first, 0);
  out[i++] = F(((struct inner___bad *)t)->b, 2);
  out[i++] = F(((struct flexy *)t)->items[5], 0);
  out[i++] = F(((struct notflex *)t)->z[2], 2);
  out[i++] = F(((struct twin *)t)->x, 0);
  out[i++] = F(((struct twin *)t)->y, 0);
  out[i++] = F(((struct nothere *)t)->q, 2);
  out[i++] = F(((union un *)t)->c[1], 0);
  out[i++] = F(((struct holder *)t)->p, 0);
  out[i++] = t->in.c + t->arr[1].a;
  return 0;
}

SEC("socket")
int types(void *ctx)
{
  int i = 64;
  out[i++] = T(struct tgt, 0);
  out[i++] = T(struct tgt, 1);
  out[i++] = T(tgt_t, 0);
  out[i++] = T(tgt_t, 1);
  out[i++] = T(fnptr, 0);
  out[i++] = T(fnptr___wrong, 0);
  out[i++] = T(struct nothere, 0);
  out[i++] = T(struct nothere, 1);
  out[i++] = T(union un, 1);
  out[i++] = T(enum color, 1);
  out[i++] = __builtin_btf_type_id(*(struct tgt *)0, 0);
  out[i++] = E(enum color, GREEN, 0);
  out[i++] = E(enum color, GREEN, 1);
  out[i++] = E(enum color, ORANGE, 0);
  out[i++] = E(enum big, BIG_A, 1);
  out[i++] = E(enum big, BIG_B, 1);
  return 0;
}
`;

/** A relocation with two matching candidates that disagree: libbpf refuses it. */
export const AMBIGUOUS_C = `${LOCAL_TYPES}
struct amb { int k; } __pai;
SEC("socket")
int ambiguous(void *ctx)
{
  out[0] = F(((struct amb *)ctx)->k, 0);
  return 0;
}
`;

/** bpf_core_type_id_kernel: the kernel's type id, which a minimized BTF cannot keep. */
export const TYPE_ID_TARGET_C = `${LOCAL_TYPES}
SEC("socket")
int target_id(void *ctx)
{
  out[0] = __builtin_btf_type_id(*(struct tgt *)0, 1);
  return 0;
}
`;

/** Compiles C for BPF with clang into dir; returns the object's bytes. */
export function compileBpf(dir: string, name: string, source: string): Buffer {
  const c = join(dir, `${name}.c`);
  const o = join(dir, `${name}.o`);
  writeFileSync(c, source);
  const r = spawnSync("clang", ["-target", "bpf", "-O2", "-g", "-c", c, "-o", o], { encoding: "utf8" });
  assert.equal(r.status, 0, `clang failed: ${r.stderr}`);
  return readFileSync(o);
}

/** A section's bytes of an ELF object. */
export function elfSection(elf: Buffer, name: string): Buffer {
  const s = readElf(elf, "<object>").sections.find((x) => x.name === name);
  assert.ok(s, `no section ${name}`);
  return elf.subarray(s.offset, s.offset + s.size);
}
