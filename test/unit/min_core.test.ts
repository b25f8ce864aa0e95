/**
 * The minimized CO-RE BTF's pure parts: the BTF writer (round trips through
 * the parser, and libbpf reads what it writes), .BTF.ext CO-RE relocation
 * parsing, and what the minimizer keeps of a synthetic target. That libbpf
 * relocates identically with it is test/kernel/min_core_btf.test.ts.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Btf, type BtfComposite, type BtfType } from "../../src/btf/btf.js";
import {
  CORE_RELO_KIND,
  coreReloKindName,
  essentialName,
  MinCoreUnsupported,
  minimizeCoreBtf,
  parseCoreRelos,
  readObjectCore,
} from "../../src/btf/min_core.js";
import { coreBtfFor, objectDigest } from "../../src/btf/min_core_cache.js";
import { encodeBtf } from "../../src/btf/writer.js";
import { BtfError } from "../../src/kernel/errors.js";
import { native } from "../../src/native.js";
import { repoRoot } from "../helpers.js";
import { compileBpf, elfSection, LOCAL_C, TARGET_C, TYPE_ID_TARGET_C } from "./min_core_fixtures.js";

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "tsbpf-min-core-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** One type of every kind, with the awkward values (signed enums, 64-bit values, bitfields, variadic prototypes). */
const ALL_KINDS: BtfType[] = [
  { id: 0, name: "", kind: "VOID" },
  {
    id: 1,
    name: "int",
    kind: "INT",
    size: 4,
    signed: true,
    char: false,
    bool: false,
    bits: 32,
    bitOffset: 0,
  },
  {
    id: 2,
    name: "char",
    kind: "INT",
    size: 1,
    signed: false,
    char: true,
    bool: false,
    bits: 8,
    bitOffset: 0,
  },
  {
    id: 3,
    name: "_Bool",
    kind: "INT",
    size: 1,
    signed: false,
    char: false,
    bool: true,
    bits: 1,
    bitOffset: 0,
  },
  { id: 4, name: "", kind: "PTR", type: 0 },
  { id: 5, name: "", kind: "ARRAY", type: 2, indexType: 1, nelems: 16 },
  {
    id: 6,
    name: "s",
    kind: "STRUCT",
    size: 24,
    members: [
      { name: "a", type: 1, bitOffset: 0, bitfieldSize: 0 },
      { name: "lo", type: 1, bitOffset: 32, bitfieldSize: 3 },
      { name: "", type: 7, bitOffset: 64, bitfieldSize: 0 },
      { name: "p", type: 4, bitOffset: 128, bitfieldSize: 0 },
    ],
  },
  {
    id: 7,
    name: "",
    kind: "UNION",
    size: 8,
    members: [
      { name: "u", type: 1, bitOffset: 0, bitfieldSize: 0 },
      { name: "c", type: 5, bitOffset: 0, bitfieldSize: 0 },
    ],
  },
  {
    id: 8,
    name: "e",
    kind: "ENUM",
    size: 4,
    signed: true,
    values: [
      { name: "NEG", value: -5 },
      { name: "POS", value: 7 },
    ],
  },
  {
    id: 9,
    name: "u",
    kind: "ENUM",
    size: 4,
    signed: false,
    values: [{ name: "HIGH", value: 0xffffffff }],
  },
  {
    id: 10,
    name: "e64",
    kind: "ENUM64",
    size: 8,
    signed: false,
    values: [
      { name: "BIG", value: 0x123456789abcdef0n },
      { name: "ZERO", value: 0n },
    ],
  },
  { id: 11, name: "s64", kind: "ENUM64", size: 8, signed: true, values: [{ name: "M", value: -2n }] },
  { id: 12, name: "fwd_u", kind: "FWD", union: true },
  { id: 13, name: "fwd_s", kind: "FWD", union: false },
  { id: 14, name: "td", kind: "TYPEDEF", type: 6 },
  { id: 15, name: "", kind: "VOLATILE", type: 1 },
  { id: 16, name: "", kind: "CONST", type: 15 },
  { id: 17, name: "", kind: "RESTRICT", type: 4 },
  {
    id: 18,
    name: "",
    kind: "FUNC_PROTO",
    returnType: 1,
    params: [
      { name: "x", type: 1 },
      { name: "", type: 0 },
    ],
  },
  { id: 19, name: "f", kind: "FUNC", type: 18, linkage: 1 },
  { id: 20, name: "v", kind: "VAR", type: 1, linkage: 1 },
  { id: 21, name: ".data", kind: "DATASEC", size: 4, vars: [{ type: 20, offset: 0, size: 4 }] },
  { id: 22, name: "double", kind: "FLOAT", size: 8 },
  { id: 23, name: "tag", kind: "DECL_TAG", type: 6, componentIdx: -1 },
  { id: 24, name: "mtag", kind: "DECL_TAG", type: 6, componentIdx: 2 },
  { id: 25, name: "user", kind: "TYPE_TAG", type: 1 },
  { id: 26, name: "empty", kind: "STRUCT", size: 40, members: [] },
];

describe("essentialName", () => {
  it("drops the last ___flavor, as libbpf's bpf_core_essential_name_len", () => {
    assert.equal(essentialName("task_struct"), "task_struct");
    assert.equal(essentialName("task_struct___old"), "task_struct");
    assert.equal(essentialName("nf_conn___init"), "nf_conn");
    assert.equal(essentialName("a___b___c"), "a___b");
    assert.equal(essentialName("___x"), "___x");
    assert.equal(essentialName("x____y"), "x____y");
    assert.equal(essentialName("x___"), "x___");
    assert.equal(essentialName(""), "");
  });
});

describe("encodeBtf", () => {
  it("round-trips every kind through Btf.parse, in both byte orders", () => {
    for (const le of [true, false]) {
      const btf = Btf.parse(encodeBtf(ALL_KINDS, le));
      assert.equal(btf.littleEndian, le);
      assert.deepEqual([...btf.all()], ALL_KINDS);
    }
  });

  it("shares equal strings and starts the string section with the empty string", () => {
    const raw = encodeBtf(ALL_KINDS);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const strOff = 24 + dv.getUint32(16, true);
    const strLen = dv.getUint32(20, true);
    const strings = Buffer.from(raw.subarray(strOff, strOff + strLen))
      .toString("latin1")
      .split("\0");
    assert.equal(strings[0], "");
    assert.equal(new Set(strings.slice(0, -1)).size, strings.length - 1, "each string once");
  });

  it("refuses types it cannot write", () => {
    assert.throws(() => encodeBtf([{ id: 0, name: "", kind: "INT" } as unknown as BtfType]), BtfError);
    assert.throws(
      () => encodeBtf([ALL_KINDS[0] as BtfType, { id: 1, name: "", kind: "PTR", type: 9 }]),
      /missing type 9/,
    );
    assert.throws(
      () => encodeBtf([ALL_KINDS[0] as BtfType, { id: 2, name: "", kind: "PTR", type: 0 }]),
      /index 1 has id 2/,
    );
  });

  it("round-trips a compiled object's BTF", () => {
    const elf = readFileSync(join(repoRoot, "dist/tools/execsnoop.bpf.o"));
    const btf = Btf.parse(elfSection(elf, ".BTF"));
    assert.deepEqual([...Btf.parse(encodeBtf([...btf.all()])).all()], [...btf.all()]);
  });

  it("round-trips the kernel's BTF", {
    skip: !existsSync("/sys/kernel/btf/vmlinux") && "no kernel BTF",
  }, () => {
    const btf = Btf.parse(readFileSync("/sys/kernel/btf/vmlinux"));
    const again = Btf.parseLazy(encodeBtf([...btf.all()], btf.littleEndian));
    assert.equal(again.count, btf.count);
    // every 17th type (comparing all 126,000 takes seconds), and task_struct
    const ids = [...Array(Math.ceil(btf.count / 17)).keys()].map((i) => i * 17);
    ids.push(btf.findByName("task_struct", "STRUCT") as number);
    for (const id of ids) assert.deepEqual(again.type(id), btf.type(id));
  });

  it("writes BTF that libbpf reads", () => {
    const path = join(dir, "all.btf");
    writeFileSync(path, encodeBtf(ALL_KINDS));
    const { header, missing } = native().btfDumpSubset(path, ["s", "e64", "td"]);
    assert.deepEqual(missing, []);
    assert.match(header, /struct s \{/);
    assert.match(header, /int lo: 3;/);
    assert.match(header, /BIG = 1311768467463790320/);
    assert.match(header, /typedef struct s td;/);
  });
});

describe("parseCoreRelos", () => {
  it("reads each CO-RE relocation of a compiled object: section, kind, local type, access string", () => {
    const elf = compileBpf(dir, "local", LOCAL_C);
    const { btf, relos } = readObjectCore(elf);
    assert.ok(btf);
    const seen = relos.map(
      (r) => `${r.section} ${coreReloKindName(r.kind)} ${btf.name(r.typeId)} ${r.access}`,
    );
    for (const want of [
      "socket FIELD_BYTE_OFFSET tgt 0:0",
      "socket FIELD_BYTE_OFFSET tgt 0:1:1:1",
      "socket FIELD_BYTE_OFFSET tgt 0:3:2:2",
      "socket FIELD_LSHIFT_U64 tgt 0:6",
      "socket FIELD_RSHIFT_U64 tgt 0:7",
      "socket FIELD_SIGNED tgt 0:7",
      "socket FIELD_EXISTS tgt___old 0:1",
      "socket FIELD_BYTE_OFFSET flexy 0:2:5",
      "socket TYPE_EXISTS tgt_t 0",
      "socket TYPE_SIZE nothere 0",
      "socket TYPE_ID_LOCAL tgt 0",
      "socket ENUMVAL_EXISTS color 3",
      "socket ENUMVAL_VALUE big 1",
    ])
      assert.ok(seen.includes(want), `${want} in:\n${seen.join("\n")}`);
    assert.ok(relos.every((r) => r.insnOff % 8 === 0));
  });

  it("has none for a header without CO-RE fields, and refuses malformed sections", () => {
    const btfRaw = encodeBtf(ALL_KINDS);
    const ext = new Uint8Array(32);
    const dv = new DataView(ext.buffer);
    dv.setUint16(0, 0xeb9f, true);
    dv.setUint8(2, 1);
    dv.setUint32(4, 24, true);
    assert.deepEqual(parseCoreRelos(ext.subarray(0, 24), btfRaw), []);
    dv.setUint32(4, 32, true);
    dv.setUint32(24, 0, true);
    dv.setUint32(28, 64, true); // runs past the end
    assert.throws(() => parseCoreRelos(ext, btfRaw), /past the end/);
    dv.setUint16(0, 0x1234, true);
    assert.throws(() => parseCoreRelos(ext, btfRaw), /magic/);
  });

  it("tells which objects libbpf reads the kernel's BTF for anyway (kfuncs, typed ksyms)", () => {
    const ksyms = `
#define SEC(n) __attribute__((section(n), used))
#define __ksym __attribute__((section(".ksyms")))
extern const int bpf_prog_active __ksym;
extern const void bpf_untyped __ksym;
SEC("socket") int p(void *ctx) { return bpf_prog_active + (long)&bpf_untyped; }
char LICENSE[] SEC("license") = "GPL";
`;
    assert.match(
      readObjectCore(compileBpf(dir, "ksym", ksyms)).needsKernelBtf ?? "",
      /typed ksym bpf_prog_active/,
    );
    const untyped = ksyms
      .replace("extern const int bpf_prog_active __ksym;", "")
      .replace("bpf_prog_active + ", "");
    assert.equal(readObjectCore(compileBpf(dir, "untyped", untyped)).needsKernelBtf, undefined);
  });
});

describe("minimizeCoreBtf", () => {
  let target: Btf;
  let min: Btf;
  let unresolved: Array<{ kind: string; name: string }>;
  before(() => {
    target = Btf.parse(elfSection(compileBpf(dir, "target", TARGET_C), ".BTF"));
    const core = readObjectCore(compileBpf(dir, "local2", LOCAL_C));
    const result = minimizeCoreBtf(core.btf as Btf, core.relos, target);
    min = Btf.parse(result.raw);
    unresolved = result.unresolved;
    assert.equal(result.types, min.count - 1);
  });

  const struct = (btf: Btf, name: string): BtfComposite => {
    const id = btf.findByName(name, "STRUCT") ?? btf.findByName(name, "UNION");
    assert.ok(id !== undefined, `no ${name}`);
    return btf.type(id) as BtfComposite;
  };
  const members = (btf: Btf, name: string) => struct(btf, name).members.map((m) => m.name);

  it("keeps the members the access paths go through, at their real offsets", () => {
    assert.deepEqual(members(min, "tgt"), [
      "first",
      "",
      "in",
      "arr",
      "ptr",
      "bf2",
      "sbf",
      "name",
      "col",
      "cvl",
    ]);
    const full = struct(target, "tgt");
    for (const m of struct(min, "tgt").members) {
      const real = full.members.find((x) => x.name === m.name && x.bitOffset === m.bitOffset);
      assert.ok(real, `member ${m.name || "(anon)"} at bit ${m.bitOffset}`);
      assert.equal(m.bitfieldSize, real.bitfieldSize);
    }
    assert.equal(struct(min, "tgt").size, full.size);
    // the anonymous union keeps u1 and the anonymous struct, which keeps s2 only
    const anon = min.type(struct(min, "tgt").members[1]?.type as number) as BtfComposite;
    assert.equal(anon.kind, "UNION");
    assert.deepEqual(
      anon.members.map((m) => m.name),
      ["u1", ""],
    );
    assert.deepEqual(
      (min.type(anon.members[1]?.type as number) as BtfComposite).members.map((m) => m.name),
      ["s2"],
    );
    assert.deepEqual(members(min, "inner"), ["a", "b", "c"]);
  });

  it("keeps what the field and type rules read: modifiers, enums' names, a pointer's pointee only when needed", () => {
    const cvl = struct(min, "tgt").members.find((m) => m.name === "cvl");
    assert.equal(min.cName(cvl?.type as number), "const volatile long");
    const col = min.type(struct(min, "tgt").members.find((m) => m.name === "col")?.type as number);
    assert.equal(col.kind, "ENUM");
    assert.equal(col.name, "color");
    // color's GREEN is asked for (ORANGE is not in the target), with the target's value
    assert.deepEqual(col.kind === "ENUM" ? col.values : [], [{ name: "GREEN", value: 5 }]);
    // a pointer member: the field rules take any two pointers, so nothing it points to is kept
    const p = struct(min, "holder").members.find((m) => m.name === "p");
    assert.equal(min.cName(p?.type as number), "void *");
    assert.equal(min.findByName("lonely"), undefined);
    // the function pointer typedef: prototype and parameters (the type rules look through pointers)
    assert.equal(min.cName(min.findByName("fnptr", "TYPEDEF") as number), "fnptr");
    assert.equal(
      min.cName(min.resolve(min.findByName("fnptr", "TYPEDEF") as number)),
      "int (*)(struct inner *, int)",
    );
  });

  it("keeps every candidate, flavored ones included, and a zero-length array's not being last", () => {
    assert.deepEqual(members(min, "twin"), ["x"]);
    assert.deepEqual(members(min, "twin___a"), ["x", "y"]);
    assert.deepEqual(members(min, "flexy"), ["items"]);
    assert.deepEqual(members(min, "notflex"), ["z", "after"]);
  });

  it("names the local types with no candidate (libbpf would search the modules for them)", () => {
    assert.deepEqual(unresolved, [{ kind: "STRUCT", name: "nothere" }]);
  });

  it("refuses what it cannot reproduce: the kernel's type ids", () => {
    const core = readObjectCore(compileBpf(dir, "tid", TYPE_ID_TARGET_C));
    assert.ok(core.relos.some((r) => r.kind === CORE_RELO_KIND.TYPE_ID_TARGET));
    assert.throws(() => minimizeCoreBtf(core.btf as Btf, core.relos, target), MinCoreUnsupported);
  });
});

describe("coreBtfFor (the cache)", {
  skip: !existsSync("/sys/kernel/btf/vmlinux") && "no kernel BTF",
}, () => {
  let saved: string | undefined;
  before(() => {
    saved = process.env.TSBPF_CACHE_DIR;
    process.env.TSBPF_CACHE_DIR = join(dir, "cache");
  });
  after(() => {
    if (saved === undefined) delete process.env.TSBPF_CACHE_DIR;
    else process.env.TSBPF_CACHE_DIR = saved;
  });
  const tool = (name: string) => readFileSync(join(repoRoot, `dist/tools/${name}.bpf.o`));

  it("writes a minimized BTF once, then reads the decision back", () => {
    const first = coreBtfFor(tool("execsnoop"));
    assert.equal(first.cached, false);
    assert.ok(first.path, first.why);
    const min = Btf.parse(readFileSync(first.path));
    assert.ok(min.findByName("task_struct", "STRUCT") !== undefined);
    const again = coreBtfFor(tool("execsnoop"));
    assert.deepEqual(again, { ...first, cached: true });
  });

  it("keeps the decision not to use one as well (no CO-RE relocations)", () => {
    const elf = tool("funccount");
    assert.equal(readObjectCore(elf).relos.length, 0);
    assert.deepEqual(coreBtfFor(elf), { path: undefined, why: "no CO-RE relocations", cached: false });
    assert.equal(coreBtfFor(elf).cached, true);
  });

  it("decides again when the kept decision is not for this object, kernel or format", () => {
    const elf = tool("opensnoop");
    const first = coreBtfFor(elf);
    const metaPath = (first.path as string).replace(/\.btf$/, ".json");
    const meta = JSON.parse(readFileSync(metaPath, "utf8")) as Record<string, unknown>;
    for (const [field, value] of [
      ["kernel", "another"],
      ["size", 1],
      ["format", 0],
    ] as const) {
      writeFileSync(metaPath, JSON.stringify({ ...meta, [field]: value }));
      assert.equal(coreBtfFor(elf).cached, false, field);
    }
    writeFileSync(metaPath, "{ not json");
    assert.equal(coreBtfFor(elf).cached, false);
    rmSync(first.path as string);
    const again = coreBtfFor(elf);
    assert.equal(again.cached, false, "the BTF file is gone: decided again");
    assert.ok(again.path && existsSync(again.path));
  });

  it("is off with TSBPF_MIN_CORE_BTF=0", () => {
    process.env.TSBPF_MIN_CORE_BTF = "0";
    try {
      assert.equal(coreBtfFor(tool("execsnoop")).path, undefined);
    } finally {
      delete process.env.TSBPF_MIN_CORE_BTF;
    }
  });
});

describe("NativeObject: btfCustomPath and programInsns", () => {
  it("takes the option object (or none), checks it, and copies a program's instructions", () => {
    const elf = readFileSync(join(repoRoot, "dist/tools/execsnoop.bpf.o"));
    const N = native();
    for (const opts of [undefined, {}, { btfCustomPath: undefined }, { btfCustomPath: "/nonexistent.btf" }]) {
      const obj = new N.NativeObject(elf, "opts", opts);
      const [p] = obj.programs();
      assert.ok(p);
      const insns = obj.programInsns(p.name);
      assert.equal(insns.byteLength, p.insnCount * 8);
      assert.deepEqual(insns, obj.programInsns(p.name), "a copy each time");
      obj.close();
    }
    assert.throws(
      () => new N.NativeObject(elf, "opts", { btfCustomPath: 5 } as unknown as { btfCustomPath: string }),
      /btfCustomPath must be a string/,
    );
    assert.throws(
      () => new N.NativeObject(elf, "opts", "x" as unknown as { btfCustomPath: string }),
      /options must be an object/,
    );
  });
});

describe("objectDigest", () => {
  it("depends on every byte, not on the buffer's alignment", () => {
    const a = new Uint8Array(1001).map((_, i) => i * 7);
    const shifted = new Uint8Array(1002);
    shifted.set(a, 1);
    assert.equal(objectDigest(a), objectDigest(shifted.subarray(1)));
    for (const i of [0, 500, 999, 1000]) {
      const b = a.slice();
      b[i] = (b[i] as number) ^ 1;
      assert.notEqual(objectDigest(b), objectDigest(a), `byte ${i}`);
    }
    assert.notEqual(objectDigest(a.subarray(0, 1000)), objectDigest(a));
  });
});
