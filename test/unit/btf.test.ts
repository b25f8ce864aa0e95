import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import ts from "typescript";
import { BTF_KIND, Btf, type BtfType, mapDefFromBtf } from "../../src/btf/btf.js";
import { type Codec, codecFor, decodeFromBytes, encodeToBytes } from "../../src/btf/codec.js";
import { emitDts, tsTypeFor } from "../../src/btf/dts.js";
import { BtfError } from "../../src/kernel/errors.js";
import { type NativeMapInfo, native } from "../../src/native.js";

/* ------------------------------------------------------------------------ */
/* Fixtures: C compiled with clang, BTF read back through the addon.         */

const TYPES_C = `
typedef unsigned int u32;
typedef unsigned long long u64;
typedef u32 my_u32;
typedef const volatile my_u32 cv_u32;
enum color { RED = 1, GREEN = 2, BLUE = 40000 };
enum big64 { HUGE = 0x100000000ULL };
struct inner { unsigned short a; signed char b; };
struct fwd_only;
typedef struct { int x; } anon_td;

struct bits {
  unsigned int lo:3;
  int s:5;
  unsigned int mid:12;
  _Bool flag:1;
  unsigned long long wide:40;
  enum color c:4;
  int :0;
  short last:7;
};

struct data_t { u32 pid; u32 tgid; u64 ts; char comm[16]; };

struct all {
  u32 pid;
  int neg;
  u64 ts;
  long long sts;
  char comm[16];
  struct inner in;
  struct inner arr[3];
  union { u32 as_u32; unsigned char bytes[4]; } un;
  union { u32 anon_a; unsigned short anon_b; };
  struct { short x; short y; };
  enum color col;
  _Bool ok;
  void *ptr;
  const char *name;
  cv_u32 cv;
  unsigned char raw[4];
  signed char sc;
  short sh;
  unsigned __int128 u128;
  __int128 s128;
  float f;
  double d;
  int grid[2][3];
  char names[2][8];
  enum big64 e64;
  anon_td td;
};

struct odd {
  int __proto__;
  int constructor;
  int (*fp)(int, char *, ...);
  int (*pa)[4];
  char *const cp;
  int __attribute__((btf_type_tag("user"))) *up;
  struct fwd_only *fwd;
} __attribute__((btf_decl_tag("tagged")));

struct bits gb = { .lo = 5, .s = -3, .mid = 0xabc, .flag = 1, .wide = 0x123456789aULL, .c = GREEN, .last = -9 };
struct all ga = {
  .pid = 7, .neg = -5, .ts = 0x1122334455667788ULL, .sts = -2, .comm = "hello",
  .in = { 0xbeef, -7 }, .arr = { { 1, 2 }, { 3, 4 }, { 5, -6 } },
  .un = { .as_u32 = 0x01020304 }, .anon_a = 0xaabbccdd, .x = -1, .y = 2,
  .col = BLUE, .ok = 1, .ptr = (void *)0x1234, .name = (const char *)0xffffffff00000000ULL, .cv = 9,
  .raw = { 1, 2, 3, 255 }, .sc = -128, .sh = -300,
  .u128 = ((unsigned __int128)1 << 100) | 5, .s128 = -3, .f = 1.5f, .d = -2.25,
  .grid = { { 1, 2, 3 }, { 4, 5, -6 } }, .names = { "ab", "cdefghij" }, .e64 = HUGE, .td = { 42 },
};
struct data_t gd = { .pid = 1, .tgid = 2, .ts = 3, .comm = "bash" };
struct odd go = { .__proto__ = 5, .constructor = 6 };
struct flex { u32 n; u32 vals[]; };
struct flexc { unsigned short n; char data[]; };
struct __attribute__((packed)) pk { char c; u32 x; };
u64 counter;
struct flex gf;
struct flexc gfc;
struct pk gp;
const volatile u32 cfg = 3;

__attribute__((section("kprobe/x"))) int prog(void *ctx) { return counter + cfg; }
char LICENSE[] __attribute__((section("license"))) = "GPL";
`;

const MAPS_C = `
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
#include <bpf/bpf_helpers.h>

enum { BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_ARRAY = 2, BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4 };
struct key_t { unsigned int pid; char comm[16]; };
struct event { unsigned int pid; unsigned long long ts; char comm[16]; };

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct key_t);
  __type(value, unsigned long long);
} counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
  __uint(key_size, sizeof(int));
  __uint(value_size, sizeof(unsigned int));
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __uint(map_flags, 1024);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __type(key, unsigned int);
  __type(value, struct event);
} flagged SEC(".maps");

unsigned long long total;
unsigned int pid_filter;

SEC("kprobe/x") int prog(void *ctx) {
  struct key_t k = {};
  struct event e = {};
  unsigned long long *v = bpf_map_lookup_elem(&counts, &k);
  if (v) total += *v;
  bpf_perf_event_output(ctx, &events, 0, &e, sizeof(e));
  return pid_filter;
}
char LICENSE[] SEC("license") = "GPL";
`;

let dir = "";

function compile(name: string, source: string, target = "bpf"): string {
  const c = join(dir, `${name}.c`);
  const o = join(dir, `${name}.o`);
  writeFileSync(c, source);
  const r = spawnSync("clang", [`-target`, target, "-O2", "-g", "-c", c, "-o", o], { encoding: "utf8" });
  assert.equal(r.status, 0, `clang failed: ${r.stderr}`);
  return o;
}

function openObject(o: string): { raw: Uint8Array; maps: NativeMapInfo[] } {
  const obj = new (native().NativeObject)(readFileSync(o), "t");
  try {
    const raw = obj.btfRaw();
    assert.ok(raw !== null, "object has BTF");
    return { raw, maps: obj.maps() };
  } finally {
    obj.close();
  }
}

/** Section contents of a 64-bit ELF file, by name (enough to read .data and .BTF). */
function elfSections(buf: Uint8Array): Map<string, Uint8Array> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = buf[5] === 1;
  const shoff = Number(dv.getBigUint64(0x28, le));
  const shentsize = dv.getUint16(0x3a, le);
  const shnum = dv.getUint16(0x3c, le);
  const shstrndx = dv.getUint16(0x3e, le);
  const header = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      name: dv.getUint32(o, le),
      off: Number(dv.getBigUint64(o + 0x18, le)),
      size: Number(dv.getBigUint64(o + 0x20, le)),
    };
  };
  const strtab = header(shstrndx);
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    let end = strtab.off + h.name;
    while (buf[end] !== 0) end++;
    const name = Buffer.from(buf.subarray(strtab.off + h.name, end)).toString("latin1");
    out.set(name, buf.subarray(h.off, h.off + h.size));
  }
  return out;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** What the C initializers of TYPES_C encode. */
const GA = {
  pid: 7,
  neg: -5,
  ts: 0x1122334455667788n,
  sts: -2n,
  comm: "hello",
  in: { a: 0xbeef, b: -7 },
  arr: [
    { a: 1, b: 2 },
    { a: 3, b: 4 },
    { a: 5, b: -6 },
  ],
  un: { as_u32: 0x01020304, bytes: [4, 3, 2, 1] },
  anon_a: 0xaabbccdd,
  anon_b: 0xccdd,
  x: -1,
  y: 2,
  col: 40000,
  ok: true,
  ptr: 0x1234n,
  name: 0xffffffff00000000n,
  cv: 9,
  raw: [1, 2, 3, 255],
  sc: -128,
  sh: -300,
  u128: (1n << 100n) | 5n,
  s128: -3n,
  f: 1.5,
  d: -2.25,
  grid: [
    [1, 2, 3],
    [4, 5, -6],
  ],
  names: ["ab", "cdefghij"],
  e64: 0x100000000n,
  td: { x: 42 },
};
/** GA as a big-endian target stores it: the union views see the other end of the integers. */
const GA_BE = { ...GA, un: { as_u32: 0x01020304, bytes: [1, 2, 3, 4] }, anon_b: 0xaabb };
const GB = { lo: 5, s: -3, mid: 0xabc, flag: true, wide: 0x123456789an, c: 2, last: -9 };

let types: { btf: Btf; data: Uint8Array; maps: NativeMapInfo[]; obj: string };
let typesBe: { btf: Btf; data: Uint8Array };
let maps: { btf: Btf; maps: NativeMapInfo[] };

before(() => {
  dir = mkdtempSync(join(tmpdir(), "tsbpf-btf-"));
  const o = compile("types", TYPES_C);
  const opened = openObject(o);
  const data = elfSections(readFileSync(o)).get(".data");
  assert.ok(data);
  types = { btf: Btf.parse(opened.raw), data, maps: opened.maps, obj: o };
  // libbpf 1.1 cannot open a big-endian object here: read .BTF and .data from the ELF directly.
  const be = elfSections(readFileSync(compile("types_be", TYPES_C, "bpfeb")));
  const beBtf = be.get(".BTF");
  const beData = be.get(".data");
  assert.ok(beBtf && beData);
  typesBe = { btf: Btf.parse(beBtf), data: beData };
  const m = openObject(compile("maps", MAPS_C));
  maps = { btf: Btf.parse(m.raw), maps: m.maps };
});

after(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

function id(btf: Btf, name: string, kind: Parameters<Btf["findByName"]>[1] = "STRUCT"): number {
  const found = btf.findByName(name, kind);
  assert.ok(found !== undefined, `${kind} ${name} in BTF`);
  return found;
}

/** Offset of global `name` in .data (from the libbpf-fixed LE BTF; the BE layout is the same). */
function dataOffset(name: string): number {
  const v = types.btf.datasecVars(".data").find((x) => x.name === name);
  assert.ok(v, `.data has ${name}`);
  return v.offset;
}

const BOTH = [
  { label: "codegen", codegen: true },
  { label: "closures", codegen: false },
];

/* ------------------------------------------------------------------------ */
/* A tiny BTF writer, for what clang 14 cannot produce (ENUM64, bad input).  */

function buildBtf(
  build: (s: (name: string) => number) => number[],
  opts: { le?: boolean; magic?: number; version?: number } = {},
): Uint8Array {
  const le = opts.le ?? true;
  const strs = new Map<string, number>([["", 0]]);
  let strBytes = [0];
  const s = (name: string): number => {
    const hit = strs.get(name);
    if (hit !== undefined) return hit;
    const off = strBytes.length;
    strs.set(name, off);
    strBytes = strBytes.concat([...Buffer.from(name, "utf8")], [0]);
    return off;
  };
  const words = build(s);
  const typeLen = words.length * 4;
  const out = new Uint8Array(24 + typeLen + strBytes.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, opts.magic ?? 0xeb9f, le);
  dv.setUint8(2, opts.version ?? 1);
  dv.setUint32(4, 24, le);
  dv.setUint32(8, 0, le);
  dv.setUint32(12, typeLen, le);
  dv.setUint32(16, typeLen, le);
  dv.setUint32(20, strBytes.length, le);
  words.forEach((w, i) => {
    dv.setUint32(24 + i * 4, w >>> 0, le);
  });
  out.set(strBytes, 24 + typeLen);
  return out;
}

const info = (kind: number, vlen = 0, kflag = false) => ((kflag ? 1 << 31 : 0) | (kind << 24) | vlen) >>> 0;

/** 1: int, 2: struct pair { int a; unsigned char b:3; } (kind_flag bitfield), 3: enum64 signed. */
function smallBtf(s: (name: string) => number): number[] {
  return [
    // [1] INT "int" size 4, signed, 32 bits
    s("int"),
    info(BTF_KIND.INT),
    4,
    (1 << 24) | 32,
    // [2] STRUCT pair size 8, kind_flag: a @0, b:3 @32
    s("pair"),
    info(BTF_KIND.STRUCT, 2, true),
    8,
    s("a"),
    1,
    0,
    s("b"),
    1,
    (3 << 24) | 32,
    // [3] ENUM64 "wide" signed, size 8: NEG = -2, BIG = 1 << 40
    s("wide"),
    info(BTF_KIND.ENUM64, 2, true),
    8,
    s("NEG"),
    0xfffffffe,
    0xffffffff,
    s("BIG"),
    0,
    1 << 8,
  ];
}

/* ------------------------------------------------------------------------ */

describe("Btf.parse", () => {
  it("parses every type of a clang object", () => {
    const { btf } = types;
    assert.equal(btf.littleEndian, true);
    assert.equal(btf.type(0).kind, "VOID");
    const kinds = new Set([...btf.all()].map((t) => t.kind));
    for (const k of [
      "INT",
      "PTR",
      "ARRAY",
      "STRUCT",
      "UNION",
      "ENUM",
      "FWD",
      "TYPEDEF",
      "VOLATILE",
      "CONST",
      "FUNC",
      "FUNC_PROTO",
      "VAR",
      "DATASEC",
      "FLOAT",
      "DECL_TAG",
      "TYPE_TAG",
    ]) {
      assert.ok(kinds.has(k as BtfType["kind"]), `has a ${k}`);
    }
    const charT = btf.type(id(btf, "char", "INT"));
    assert.ok(charT.kind === "INT" && charT.size === 1 && charT.bits === 8);
    const boolT = btf.type(id(btf, "_Bool", "INT"));
    assert.ok(boolT.kind === "INT" && boolT.bool);
    const color = btf.type(id(btf, "color", "ENUM"));
    assert.ok(color.kind === "ENUM");
    assert.deepEqual(color.values, [
      { name: "RED", value: 1 },
      { name: "GREEN", value: 2 },
      { name: "BLUE", value: 40000 },
    ]);
    const bits = btf.type(id(btf, "bits"));
    assert.ok(bits.kind === "STRUCT");
    assert.deepEqual(
      bits.members.slice(0, 3).map((m) => [m.name, m.bitOffset, m.bitfieldSize]),
      [
        ["lo", 0, 3],
        ["s", 3, 5],
        ["mid", 8, 12],
      ],
    );
    const tag = [...btf.all()].find((t) => t.kind === "DECL_TAG");
    assert.ok(tag?.kind === "DECL_TAG" && tag.name === "tagged" && tag.componentIdx === -1);
    assert.equal(btf.type(tag.type).name, "odd");
  });

  it("reads the same types from big-endian BTF", () => {
    const be = typesBe.btf;
    assert.equal(be.littleEndian, false);
    assert.equal(be.count, types.btf.count);
    for (const name of ["all", "bits", "inner", "data_t", "odd"]) {
      const a = types.btf.type(id(types.btf, name));
      const b = be.type(id(be, name));
      assert.deepEqual(b, a, name);
    }
  });

  it("parses hand-built BTF in both byte orders, ENUM64 included", () => {
    for (const le of [true, false]) {
      const btf = Btf.parse(buildBtf(smallBtf, { le }));
      assert.equal(btf.littleEndian, le);
      assert.equal(btf.count, 4);
      const pair = btf.type(2);
      assert.ok(pair.kind === "STRUCT");
      assert.deepEqual(pair.members, [
        { name: "a", type: 1, bitOffset: 0, bitfieldSize: 0 },
        { name: "b", type: 1, bitOffset: 32, bitfieldSize: 3 },
      ]);
      const wide = btf.type(3);
      assert.ok(wide.kind === "ENUM64");
      assert.equal(wide.signed, true);
      assert.deepEqual(wide.values, [
        { name: "NEG", value: -2n },
        { name: "BIG", value: 1n << 40n },
      ]);
    }
  });

  it("rejects malformed BTF with a BtfError", () => {
    assert.throws(() => Btf.parse(new Uint8Array(10)), /too short/);
    assert.throws(() => Btf.parse(buildBtf(smallBtf, { magic: 0x1234 })), /bad BTF magic/);
    assert.throws(() => Btf.parse(buildBtf(smallBtf, { version: 2 })), /unsupported BTF version 2/);
    const truncated = buildBtf(smallBtf);
    new DataView(truncated.buffer).setUint32(12, 20, true); // type_len cuts the struct's members
    assert.throws(() => Btf.parse(truncated), BtfError);
    const dangling = buildBtf((s) => [s("p"), info(BTF_KIND.PTR), 7]);
    assert.throws(() => Btf.parse(dangling), /refers to missing type 7/);
    const badKind = buildBtf((s) => [s("x"), info(31), 0]);
    assert.throws(() => Btf.parse(badKind), /unknown BTF kind 31/);
    const badStr = buildBtf(() => [9999, info(BTF_KIND.INT), 4, 32]);
    assert.throws(() => Btf.parse(badStr), /string offset 9999/);
    assert.throws(() => types.btf.type(100000), /no BTF type with id 100000/);
  });

  it("parses the kernel's BTF when there is one", { skip: !existsSync("/sys/kernel/btf/vmlinux") }, () => {
    const btf = Btf.parse(readFileSync("/sys/kernel/btf/vmlinux"));
    const task = id(btf, "task_struct");
    assert.ok(btf.sizeOf(task) > 1000);
    assert.equal(btf.alignOf(task) >= 8, true);
    assert.equal(btf.cName(task), "struct task_struct");
    for (const t of btf.all()) btf.cName(t.id); // spells every type without throwing
  });
});

describe("Btf queries", () => {
  it("finds types by name and kind", () => {
    const { btf } = types;
    assert.equal(btf.type(id(btf, "data_t")).kind, "STRUCT");
    assert.equal(btf.findByName("u32"), btf.findByName("u32", "TYPEDEF"));
    assert.equal(btf.findByName("nope"), undefined);
    assert.equal(btf.findByName("u32", "STRUCT"), undefined);
    assert.deepEqual(btf.findAllByName("gb", "VAR").length, 1);
  });

  it("resolves typedef and qualifier chains", () => {
    const { btf } = types;
    const cv = id(btf, "cv_u32", "TYPEDEF");
    const resolved = btf.type(btf.resolve(cv));
    assert.equal(resolved.kind, "INT");
    assert.equal(resolved.name, "unsigned int");
    assert.equal(btf.cName(btf.resolve(cv)), "unsigned int");
    const cvT = btf.type(cv);
    assert.ok(cvT.kind === "TYPEDEF");
    assert.equal(btf.cName(cvT.type), "const volatile my_u32");
  });

  it("sizes, aligns, names and spells types", () => {
    const { btf } = types;
    const all = id(btf, "all");
    const st = btf.type(all);
    assert.ok(st.kind === "STRUCT");
    const member = (name: string) => {
      const m = st.members.find((x) => x.name === name);
      assert.ok(m, name);
      return m.type;
    };
    assert.equal(btf.sizeOf(id(btf, "data_t")), 32);
    assert.equal(btf.alignOf(id(btf, "data_t")), 8);
    assert.equal(btf.sizeOf(id(btf, "inner")), 4);
    assert.equal(btf.alignOf(id(btf, "inner")), 2);
    assert.equal(btf.sizeOf(member("comm")), 16);
    assert.equal(btf.sizeOf(member("arr")), 12);
    assert.equal(btf.sizeOf(member("ptr")), 8);
    assert.equal(btf.sizeOf(member("cv")), 4);
    assert.equal(btf.name(all), "all");
    assert.equal(btf.name(member("un")), "");
    assert.throws(() => btf.sizeOf(0), /has no size/);

    const spell: Record<string, string> = {
      pid: "u32",
      comm: "char[16]",
      in: "struct inner",
      arr: "struct inner[3]",
      un: "union (anon)",
      col: "enum color",
      ok: "_Bool",
      ptr: "void *",
      name: "const char *",
      cv: "cv_u32",
      raw: "unsigned char[4]",
      u128: "unsigned __int128",
      grid: "int[2][3]",
      names: "char[2][8]",
      td: "anon_td",
    };
    for (const [m, c] of Object.entries(spell)) assert.equal(btf.cName(member(m)), c, m);

    const odd = btf.type(id(btf, "odd"));
    assert.ok(odd.kind === "STRUCT");
    const oddSpell = Object.fromEntries(odd.members.map((m) => [m.name, btf.cName(m.type)]));
    assert.deepEqual(oddSpell, {
      ["__proto__"]: "int",
      constructor: "int",
      fp: "int (*)(int, char *, ...)",
      pa: "int (*)[4]",
      cp: "char *const",
      up: "int *",
      fwd: "struct fwd_only *",
    });
    assert.equal(btf.cName(id(btf, "prog", "FUNC")), "int prog(void *)");
    assert.equal(btf.cName(id(btf, "gd", "VAR")), "struct data_t gd");
  });

  it("lists DATASEC variables", () => {
    const { btf } = types;
    assert.deepEqual(
      btf.datasecVars(".bss").map((v) => [v.name, v.offset, v.size, btf.cName(v.typeId)]),
      [
        ["counter", 0, 8, "u64"],
        ["gf", 8, 4, "struct flex"],
        ["gfc", 12, 2, "struct flexc"],
        ["gp", 14, 5, "struct pk"],
      ],
    );
    assert.deepEqual(
      btf.datasecVars(".rodata").map((v) => [v.name, v.size, btf.cName(v.typeId)]),
      [["cfg", 4, "const volatile u32"]],
    );
    const data = btf.datasecVars(".data");
    assert.deepEqual(
      data.map((v) => v.name),
      ["gb", "ga", "gd", "go"],
    );
    for (const v of data) {
      assert.equal(v.size, btf.sizeOf(v.typeId));
      assert.equal(v.offset % btf.alignOf(v.typeId), 0);
    }
    assert.deepEqual(btf.datasecVars(".nope"), []);
  });
});

describe("mapDefFromBtf", () => {
  it("reads __uint/__type members of BTF-defined maps", () => {
    const { btf } = maps;
    const counts = mapDefFromBtf(btf, "counts");
    assert.equal(counts.type, 1);
    assert.equal(counts.maxEntries, 1024);
    assert.ok(counts.keyTypeId !== undefined && counts.valueTypeId !== undefined);
    assert.equal(btf.cName(counts.keyTypeId), "struct key_t");
    assert.equal(btf.cName(counts.valueTypeId), "unsigned long long");
    assert.equal(counts.keySize, 20);
    assert.equal(counts.valueSize, 8);
    assert.equal(counts.flags, undefined);

    assert.deepEqual(mapDefFromBtf(btf, "events"), { type: 4, keySize: 4, valueSize: 4 });

    const flagged = mapDefFromBtf(btf, "flagged");
    assert.equal(flagged.type, 2);
    assert.equal(flagged.maxEntries, 4);
    assert.equal(flagged.flags, 1024);
    assert.equal(flagged.pinning, 1);
    assert.equal(flagged.valueSize, 32);
    assert.ok(flagged.valueTypeId !== undefined);
    assert.equal(btf.cName(flagged.valueTypeId), "struct event");

    assert.throws(() => mapDefFromBtf(btf, "nope"), /no BTF-defined map "nope"/);
  });

  it("agrees with what libbpf made of the same maps", () => {
    const { btf } = maps;
    for (const m of maps.maps) {
      if (m.name.includes(".")) continue; // .bss and friends are not in .maps
      const def = mapDefFromBtf(btf, m.name);
      assert.equal(def.type, m.type, m.name);
      assert.equal(def.keySize, m.keySize, m.name);
      assert.equal(def.valueSize, m.valueSize, m.name);
      assert.equal(def.flags ?? 0, m.flags, m.name);
      assert.equal(def.keyTypeId ?? 0, m.btfKeyTypeId, m.name);
      assert.equal(def.valueTypeId ?? 0, m.btfValueTypeId, m.name);
      if (def.maxEntries !== undefined) assert.equal(def.maxEntries, m.maxEntries, m.name);
    }
  });

  it("lists the .bss globals of the maps object", () => {
    assert.deepEqual(
      maps.btf.datasecVars(".bss").map((v) => [v.name, v.size]),
      [
        ["total", 8],
        ["pid_filter", 4],
      ],
    );
  });
});

describe("codecFor", () => {
  for (const { label, codegen } of BOTH) {
    describe(label, () => {
      // (the generated code at once: by default it takes over after TIER_UP_AFTER values)
      const codec = (btf: Btf, typeId: number) => codecFor(btf, typeId, { codegen, tierUpAfter: 0 });

      it("decodes a hand-built data_t", () => {
        const { btf } = types;
        const c = codec(btf, id(btf, "data_t"));
        assert.equal(c.size, 32);
        const bytes = new Uint8Array(40);
        const dv = view(bytes);
        dv.setUint32(4, 1234, true);
        dv.setUint32(8, 0xfffffffe, true);
        dv.setBigUint64(12, 0xfedcba9876543210n, true);
        bytes.set(Buffer.from("sshd\0junk"), 20);
        assert.deepEqual(c.decode(dv, 4), {
          pid: 1234,
          tgid: 0xfffffffe,
          ts: 0xfedcba9876543210n,
          comm: "sshd",
        });
        assert.deepEqual(decodeFromBytes(c, bytes, 4), c.decode(dv, 4));
        assert.deepEqual(Object.keys(c.decode(dv, 4) as object), ["pid", "tgid", "ts", "comm"]);
      });

      it("decodes what clang encoded (little-endian)", () => {
        const { btf, data } = types;
        const all = codec(btf, id(btf, "all"));
        assert.deepEqual(all.decode(view(data), dataOffset("ga")), GA);
        const bits = codec(btf, id(btf, "bits"));
        assert.deepEqual(bits.decode(view(data), dataOffset("gb")), GB);
        const d = codec(btf, id(btf, "data_t"));
        assert.deepEqual(d.decode(view(data), dataOffset("gd")), { pid: 1, tgid: 2, ts: 3n, comm: "bash" });
      });

      it("decodes what clang encoded (big-endian)", () => {
        const { btf, data } = typesBe;
        assert.deepEqual(codec(btf, id(btf, "all")).decode(view(data), dataOffset("ga")), GA_BE);
        assert.deepEqual(codec(btf, id(btf, "bits")).decode(view(data), dataOffset("gb")), GB);
      });

      it("encodes back the exact bytes clang wrote, padding included", () => {
        for (const { btf, data } of [types, typesBe]) {
          for (const [name, value] of [
            // "cdefghij" fills its char[8] with no NUL: a string always keeps one, bytes do not.
            ["all", { ...(btf.littleEndian ? GA : GA_BE), names: ["ab", Buffer.from("cdefghij")] }],
            ["bits", GB],
          ] as const) {
            const c = codec(btf, id(btf, name));
            const off = dataOffset(name === "all" ? "ga" : "gb");
            const expected = data.subarray(off, off + c.size);
            assert.equal(
              hex(encodeToBytes(c, value)),
              hex(expected),
              `${name} ${btf.littleEndian ? "le" : "be"}`,
            );
            // Into a dirty buffer: every byte is rewritten, padding and unused bitfield bits too.
            const dirty = new Uint8Array(c.size + 8).fill(0xff);
            c.encode(value, view(dirty), 8);
            assert.equal(hex(dirty.subarray(8)), hex(expected), `${name} into 0xff`);
            assert.equal(hex(dirty.subarray(0, 8)), "ff".repeat(8), "nothing written before the offset");
          }
        }
      });

      it("round-trips values through encode and decode", () => {
        const { btf } = types;
        const all = codec(btf, id(btf, "all"));
        const v = structuredClone(GA);
        v.comm = "x".repeat(15);
        v.u128 = (1n << 128n) - 1n;
        v.s128 = -(1n << 127n);
        v.sts = -(1n << 63n);
        v.f = -0.5;
        v.names = ["", "1234567"];
        v.grid = [
          [-1, 0, 2147483647],
          [-2147483648, 7, 8],
        ];
        assert.deepEqual(decodeFromBytes(all, encodeToBytes(all, v)), v);
        const bits = codec(btf, id(btf, "bits"));
        for (const b of [
          { lo: 7, s: -16, mid: 4095, flag: false, wide: (1n << 40n) - 1n, c: 15, last: 63 },
          { lo: 0, s: 15, mid: 0, flag: true, wide: 0n, c: 0, last: -64 },
        ]) {
          assert.deepEqual(decodeFromBytes(bits, encodeToBytes(bits, b)), b);
        }
      });

      it("writes missing members as zero and wraps out-of-range integers like C", () => {
        const { btf } = types;
        const d = codec(btf, id(btf, "data_t"));
        assert.deepEqual(decodeFromBytes(d, encodeToBytes(d, { pid: 5 })), {
          pid: 5,
          tgid: 0,
          ts: 0n,
          comm: "",
        });
        assert.deepEqual(
          decodeFromBytes(d, encodeToBytes(d, { pid: -1, tgid: 2 ** 32 + 3, ts: -1n, comm: "" })),
          {
            pid: 0xffffffff,
            tgid: 3,
            ts: 0xffffffffffffffffn,
            comm: "",
          },
        );
        assert.deepEqual(decodeFromBytes(d, encodeToBytes(d, { ts: 12 })), {
          pid: 0,
          tgid: 0,
          ts: 12n,
          comm: "",
        });
        const bits = codec(btf, id(btf, "bits"));
        assert.deepEqual(decodeFromBytes(bits, encodeToBytes(bits, { lo: 9, s: 16 })), {
          lo: 1,
          s: -16,
          mid: 0,
          flag: false,
          wide: 0n,
          c: 0,
          last: 0,
        });
        assert.deepEqual(decodeFromBytes(d, encodeToBytes(d, undefined)), d.zero());
      });

      it("decodes char arrays as strings", () => {
        const { btf } = types;
        const d = codec(btf, id(btf, "data_t"));
        const bytes = new Uint8Array(32);
        const at = (s: Uint8Array | string) => {
          bytes.fill(0, 16);
          bytes.set(typeof s === "string" ? Buffer.from(s, "utf8") : s, 16);
          return (decodeFromBytes(d, bytes) as { comm: string }).comm;
        };
        assert.equal(at(""), "");
        assert.equal(at("a"), "a");
        assert.equal(at("0123456789abcdef"), "0123456789abcdef"); // all 16 bytes, no NUL
        assert.equal(at("0123456789abcde"), "0123456789abcde");
        assert.equal(at("ab\0cd"), "ab");
        assert.equal(at("héllo wörld"), "héllo wörld");
        assert.equal(at("日本語"), "日本語");
        assert.equal(at(new Uint8Array([0x61, 0xff, 0x62])), "a\ufffdb");
        assert.equal(at(new Uint8Array([0x61, 0xe6, 0x97])), "a\ufffd"); // cut multi-byte sequence
        assert.equal(at(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])), "\ufeffa"); // a BOM is kept
      });

      it("encodes strings as UTF-8, NUL-terminated and zero-filled", () => {
        const { btf } = types;
        const d = codec(btf, id(btf, "data_t"));
        const comm = (s: unknown) => {
          const bytes = new Uint8Array(32).fill(0xaa);
          d.encode({ comm: s }, view(bytes), 0);
          return bytes.subarray(16);
        };
        assert.equal(hex(comm("bash")), `${hex(Buffer.from("bash"))}${"00".repeat(12)}`);
        assert.equal(hex(comm("0123456789abcdefXYZ")), `${hex(Buffer.from("0123456789abcde"))}00`);
        // 7 three-byte characters: only 5 fit before the NUL, never half of one.
        assert.equal(hex(comm("日本語日本語日")), `${hex(Buffer.from("日本語日本"))}00`);
        assert.equal(hex(comm("é".repeat(10))), `${hex(Buffer.from("é".repeat(7)))}0000`);
        assert.equal(hex(comm(new Uint8Array([1, 2, 3]))), `010203${"00".repeat(13)}`);
        assert.equal(hex(comm(undefined)), "00".repeat(16));
        assert.throws(() => comm(42), /expected a string for char\[16\]/);
        const round = (s: string) =>
          (decodeFromBytes(d, encodeToBytes(d, { comm: s })) as { comm: string }).comm;
        assert.equal(round("héllo"), "héllo");
        assert.equal(round("x".repeat(40)), "x".repeat(15));
      });

      it("decodes unions, anonymous members, enums, pointers and odd names", () => {
        const { btf } = types;
        const v = codec(btf, id(btf, "all")).decode(view(types.data), dataOffset("ga")) as typeof GA;
        assert.deepEqual(v.un, { as_u32: 0x01020304, bytes: [4, 3, 2, 1] });
        assert.equal(v.anon_a, 0xaabbccdd);
        assert.equal(v.anon_b, 0xccdd);
        assert.equal(typeof v.ptr, "bigint");
        assert.equal(typeof v.e64, "bigint");
        assert.equal(typeof v.col, "number");
        const odd = codec(btf, id(btf, "odd")).decode(view(types.data), dataOffset("go")) as Record<
          string,
          unknown
        >;
        assert.ok(Object.hasOwn(odd, "__proto__"));
        assert.equal(Object.getOwnPropertyDescriptor(odd, "__proto__")?.value, 5);
        assert.equal(Object.getPrototypeOf(odd), Object.prototype);
        assert.equal(odd.constructor, 6);
        assert.deepEqual(Object.keys(odd), ["__proto__", "constructor", "fp", "pa", "cp", "up", "fwd"]);
        // The union's last-written member wins; a union value may name one member only.
        const un = codec(btf, id(btf, "all"));
        const bytes = encodeToBytes(un, { un: { bytes: [9, 8, 7, 6] } });
        assert.deepEqual((decodeFromBytes(un, bytes) as typeof GA).un, {
          as_u32: 0x06070809,
          bytes: [9, 8, 7, 6],
        });
      });

      it("handles hand-built bitfields and ENUM64 in both byte orders", () => {
        for (const le of [true, false]) {
          const btf = Btf.parse(buildBtf(smallBtf, { le }));
          const pair = codec(btf, 2);
          assert.equal(pair.size, 8);
          const bytes = encodeToBytes(pair, { a: -1, b: 5 });
          assert.equal(hex(bytes), le ? "ffffffff05000000" : "ffffffffa0000000");
          assert.deepEqual(decodeFromBytes(pair, bytes), { a: -1, b: -3 }); // b is a signed 3-bit int
          const wide = codec(btf, 3);
          assert.equal(wide.size, 8);
          assert.equal(decodeFromBytes(wide, encodeToBytes(wide, -2n)), -2n);
          assert.equal(decodeFromBytes(wide, encodeToBytes(wide, 1n << 40n)), 1n << 40n);
        }
      });

      it("decodes a DATASEC as an object of its variables", () => {
        const { btf, data } = types;
        const sec = codec(btf, id(btf, ".data", "DATASEC"));
        assert.equal(sec.size, data.length);
        const v = sec.decode(view(data), 0) as Record<string, unknown>;
        assert.deepEqual(v.ga, GA);
        assert.deepEqual(v.gb, GB);
        assert.deepEqual(Object.keys(v), ["gb", "ga", "gd", "go"]);
        (v.ga as typeof GA).names[1] = "cdefghi"; // as a string, it keeps a NUL
        const expected = Uint8Array.from(data);
        expected[dataOffset("ga") + 199] = 0; // names[1][7]
        assert.equal(hex(encodeToBytes(sec, v)), hex(expected));
      });

      it("decodes flexible array members as empty and packed structs at their offsets", () => {
        const { btf } = types;
        const flex = codec(btf, id(btf, "flex"));
        assert.equal(flex.size, 4);
        assert.deepEqual(decodeFromBytes(flex, new Uint8Array([3, 0, 0, 0])), { n: 3, vals: [] });
        const flexc = codec(btf, id(btf, "flexc"));
        assert.deepEqual(decodeFromBytes(flexc, new Uint8Array([3, 0, 0x61, 0])), { n: 3, data: "" });
        const pk = codec(btf, id(btf, "pk"));
        assert.equal(pk.size, 5);
        assert.equal(btf.alignOf(id(btf, "pk")), 1);
        assert.deepEqual(decodeFromBytes(pk, new Uint8Array([0x41, 1, 2, 3, 4])), { c: 0x41, x: 0x04030201 });
        assert.equal(hex(encodeToBytes(pk, { c: 1, x: 0x04030201 })), "0101020304");
      });

      it("decodes scalars and zero values", () => {
        const { btf } = types;
        const u32 = codec(btf, id(btf, "u32", "TYPEDEF"));
        assert.equal(u32.size, 4);
        assert.equal(decodeFromBytes(u32, new Uint8Array([1, 0, 0, 0x80])), 0x80000001);
        const cv = codec(btf, id(btf, "cv_u32", "TYPEDEF"));
        assert.equal(cv.zero(), 0);
        const b = codec(btf, id(btf, "_Bool", "INT"));
        assert.equal(decodeFromBytes(b, new Uint8Array([2])), true);
        assert.equal(b.zero(), false);
        const all = codec(btf, id(btf, "all"));
        const z = all.zero() as typeof GA;
        assert.equal(z.comm, "");
        assert.equal(z.ts, 0n);
        assert.deepEqual(z.arr, [
          { a: 0, b: 0 },
          { a: 0, b: 0 },
          { a: 0, b: 0 },
        ]);
        assert.notEqual(all.zero(), all.zero(), "a fresh value each time");
      });
    });
  }

  it("caches one codec per type id and Btf", () => {
    const { btf } = types;
    const d = id(btf, "data_t");
    assert.equal(codecFor(btf, d), codecFor(btf, d));
    assert.notEqual(codecFor(btf, d), codecFor(btf, d, { codegen: false }));
    assert.notEqual(codecFor(btf, d), codecFor(btf, d, { tierUpAfter: 0 }));
    const again = Btf.parse(openObject(types.obj).raw);
    assert.notEqual(codecFor(again, d), codecFor(btf, d));
  });

  it("runs closures for its first values, then generated code in their place, with the same results", () => {
    const { btf } = types;
    const d = id(btf, "data_t");
    const tiered = codecFor(btf, d, { tierUpAfter: 3 });
    const closures = codecFor(btf, d, { codegen: false });
    const first = tiered.decode;
    const bytes = new Uint8Array(tiered.size).map((_, i) => (i * 37 + 11) & 0x7f);
    const view = new DataView(bytes.buffer);
    const out = new Uint8Array(tiered.size);
    const outView = new DataView(out.buffer);
    const expected = closures.decode(view, 0);
    // three values: a decode, an encode, a decode
    assert.deepEqual(tiered.decode(view, 0), expected);
    tiered.encode(expected, outView, 0);
    assert.deepEqual(tiered.decode(outView, 0), expected);
    assert.equal(tiered.decode, first, "still the closures' entry");
    // the fourth value (a decode or an encode) is the generated code's
    assert.deepEqual(tiered.decode(view, 0), expected);
    assert.notEqual(tiered.decode, first);
    assert.match(tiered.decode.toString(), /^function decode\(v, o\)/);
    assert.deepEqual(tiered.decode(view, 0), expected);
    tiered.encode(expected, outView, 0);
    assert.deepEqual(tiered.decode(outView, 0), expected);
    assert.deepEqual(tiered.zero(), closures.zero());
    assert.throws(() => codecFor(btf, d, { tierUpAfter: -1 }), /tierUpAfter must be a non-negative integer/);
  });

  it("refuses types without a value", () => {
    const { btf } = types;
    assert.throws(() => codecFor(btf, 0), /cannot decode type void/);
    assert.throws(() => codecFor(btf, id(btf, "fwd_only", "FWD")), /cannot decode type struct fwd_only/);
    assert.throws(() => codecFor(btf, id(btf, "prog", "FUNC")), /cannot decode type int prog\(void \*\)/);
    assert.throws(() => codecFor(btf, id(btf, "prog", "FUNC")), BtfError);
  });

  it("checks buffer bounds in decodeFromBytes", () => {
    const { btf } = types;
    const c: Codec<unknown> = codecFor(btf, id(btf, "data_t"));
    assert.throws(() => decodeFromBytes(c, new Uint8Array(31)), /need 32 bytes at offset 0/);
    assert.throws(() => decodeFromBytes(c, new Uint8Array(40), 9), RangeError);
  });

  it("refuses objects whose members run past their size (fuzzed: a .bpf.o's DATASEC of size 0)", () => {
    // Before libbpf loads an object, its DATASECs say size 0 though their
    // variables have sizes: decoding one read past the bytes (a RangeError of DataView).
    const btf = Btf.parse(
      buildBtf((s) => [
        // [1] INT int; [2] VAR counter: int; [3] DATASEC .bss size 0 { counter @0, 4 bytes }
        ...[s("int"), info(BTF_KIND.INT), 4, (1 << 24) | 32],
        ...[s("counter"), info(BTF_KIND.VAR), 1, 1],
        ...[s(".bss"), info(BTF_KIND.DATASEC, 1), 0, 2, 0, 4],
        // [4] STRUCT big size 2 { int a @0 }: a member past the end
        ...[s("big"), info(BTF_KIND.STRUCT, 1), 2, s("a"), 1, 0],
        // [5] INT seven: 1 byte, 7 bits (decoded as bits); [6] VAR flag: seven; [7] DATASEC .data size 0 { flag }
        ...[s("seven"), info(BTF_KIND.INT), 1, 7],
        ...[s("flag"), info(BTF_KIND.VAR), 5, 1],
        ...[s(".data"), info(BTF_KIND.DATASEC, 1), 0, 6, 0, 1],
      ]),
    );
    assert.throws(() => codecFor(btf, 7), BtfError);
    assert.throws(
      () => codecFor(btf, 3),
      (e: unknown) =>
        e instanceof BtfError &&
        /counter ends at byte 4, past the end \(0 bytes\)/.test((e as Error).message),
    );
    assert.throws(
      () => codecFor(btf, 4),
      (e: unknown) =>
        e instanceof BtfError && /a ends at byte 4, past the end \(2 bytes\)/.test((e as Error).message),
    );
  });

  it("plans a 4 GB struct without touching 4 GB (fuzzed: a bit-flipped size took 28 s)", () => {
    // The planner marked covered bytes in a Uint8Array of the struct's size, and
    // every codec made a zero buffer of that size up front.
    const btf = Btf.parse(
      buildBtf((s) => [
        ...[s("int"), info(BTF_KIND.INT), 4, (1 << 24) | 32],
        ...[s("huge"), info(BTF_KIND.STRUCT, 1), 0xfffffff0, s("a"), 1, 0],
      ]),
    );
    const t0 = performance.now();
    const c = codecFor(btf, 2);
    assert.equal(c.size, 0xfffffff0);
    assert.ok(performance.now() - t0 < 1000);
    assert.deepEqual(decodeFromBytes(codecFor(btf, 1), new Uint8Array(4)), 0);
  });

  it("refuses a typedef loop with a BtfError (fuzzed: the planner recursed until the stack overflowed)", () => {
    const btf = Btf.parse(
      buildBtf((s) => [
        // [1] TYPEDEF a -> [2] CONST -> [1]
        ...[s("a"), info(BTF_KIND.TYPEDEF), 2],
        ...[0, info(BTF_KIND.CONST), 1],
      ]),
    );
    assert.throws(
      () => codecFor(btf, 1),
      (e: unknown) => e instanceof BtfError && /chain longer than 64 \(a loop\?\)/.test((e as Error).message),
    );
  });

  it("gives both backends the same bytes for the same values", () => {
    const { btf } = types;
    for (const name of ["all", "bits", "data_t", "odd"]) {
      const g = codecFor(btf, id(btf, name));
      const c = codecFor(btf, id(btf, name), { codegen: false });
      const value = g.decode(
        view(types.data),
        dataOffset({ all: "ga", bits: "gb", data_t: "gd", odd: "go" }[name] ?? ""),
      );
      assert.equal(hex(encodeToBytes(g, value)), hex(encodeToBytes(c, value)), name);
    }
  });
});

describe("tsTypeFor / emitDts", () => {
  it("spells the decoded shape as TypeScript", () => {
    const { btf } = types;
    assert.equal(
      tsTypeFor(btf, id(btf, "data_t")),
      "{ pid: number; tgid: number; ts: bigint; comm: string }",
    );
    assert.equal(tsTypeFor(btf, id(btf, "u64", "TYPEDEF")), "bigint");
    assert.equal(tsTypeFor(btf, id(btf, "_Bool", "INT")), "boolean");
    assert.equal(
      tsTypeFor(btf, id(btf, "bits")),
      "{ lo: number; s: number; mid: number; flag: boolean; wide: bigint; c: number; last: number }",
    );
    const all = btf.type(id(btf, "all"));
    assert.ok(all.kind === "STRUCT");
    const t = (m: string) => tsTypeFor(btf, all.members.find((x) => x.name === m)?.type ?? 0);
    assert.equal(t("arr"), "{ a: number; b: number }[]");
    assert.equal(t("grid"), "number[][]");
    assert.equal(t("names"), "string[]");
    assert.equal(t("un"), "{ as_u32: number; bytes: number[] }");
    assert.equal(
      tsTypeFor(btf, id(btf, "odd")).startsWith("{ __proto__: number; constructor: number;"),
      true,
    );
    assert.equal(
      tsTypeFor(btf, id(btf, "data_t"), { nameOf: (i) => (i === id(btf, "data_t") ? "data_t" : undefined) }),
      "data_t",
    );
  });

  it("emits a deterministic, valid .d.ts", () => {
    const { btf } = maps;
    const list = maps.maps.map((m) => ({
      name: m.name,
      keyTypeId: m.btfKeyTypeId,
      valueTypeId: m.btfValueTypeId,
    }));
    const dts = emitDts(btf, list);
    assert.equal(emitDts(btf, [...list].reverse()), dts, "same text whatever the order of the maps");
    const lines = dts.split("\n");
    assert.equal(lines[0], "// Generated by tsbpf from BTF. Do not edit.");
    for (const line of [
      "export interface key_t {",
      "  pid: number; // unsigned int",
      "  comm: string; // char[16]",
      "export interface event {",
      "  ts: bigint; // unsigned long long",
      "export interface Maps {",
      "  counts: { key: key_t; value: bigint };",
      "  events: { key: unknown; value: unknown };",
      "  flagged: { key: number; value: event };",
    ]) {
      assert.ok(lines.includes(line), `has line ${JSON.stringify(line)}:\n${dts}`);
    }
    assert.ok(
      lines.some((l) =>
        /^ {2}"t\.bss": \{ key: unknown; value: \{ total: bigint; pid_filter: number \} \};$/.test(l),
      ),
    );
    assert.ok(
      lines.indexOf("export interface event {") < lines.indexOf("export interface key_t {"),
      "sorted",
    );

    const reach = emitDts(btf, [{ name: "counts", keyTypeId: mapDefFromBtf(btf, "counts").keyTypeId }], {
      structs: "reachable",
      header: "// custom",
    });
    assert.ok(reach.startsWith("// custom\n"));
    assert.ok(reach.includes("export interface key_t {"));
    assert.ok(!reach.includes("export interface event {"));
    assert.ok(reach.includes("  counts: { key: key_t; value: unknown };"));

    const typesDts = emitDts(types.btf, []);
    for (const line of [
      "export interface all {",
      "  in: inner; // struct inner",
      "  arr: inner[]; // struct inner[3]",
      "  td: anon_td; // anon_td",
      "export interface anon_td {",
      "  flag: boolean; // _Bool:1",
      "  __proto__: number; // int",
      "export interface Maps {",
    ]) {
      assert.ok(typesDts.split("\n").includes(line), `types .d.ts has ${JSON.stringify(line)}:\n${typesDts}`);
    }

    // The emitted files type-check, and describe what the codecs decode.
    const file = join(dir, "maps.d.ts");
    writeFileSync(file, dts);
    writeFileSync(join(dir, "types.d.ts"), typesDts);
    const use = join(dir, "use.ts");
    writeFileSync(
      use,
      [
        'import type { Maps, key_t } from "./maps.js";',
        'import type { all, bits } from "./types.js";',
        'const k: key_t = { pid: 1, comm: "x" };',
        'const v: Maps["counts"]["value"] = 5n;',
        'const f: Maps["flagged"]["value"] = { pid: 1, ts: 2n, comm: "c" };',
        "declare const a: all;",
        "const n: number = a.anon_a + a.x + a.td.x + a.arr[0]!.b + a.grid[1]![2]!;",
        "const s: string = a.names[0]! + a.comm;",
        "declare const b: bits;",
        "const w: bigint = b.wide;",
        "export { k, v, f, n, s, w };",
      ].join("\n"),
    );
    const program = ts.createProgram([use, file, join(dir, "types.d.ts")], {
      strict: true,
      noEmit: true,
      noUncheckedIndexedAccess: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      types: [],
    });
    const diags = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    assert.deepEqual(diags, []);
  });
});
