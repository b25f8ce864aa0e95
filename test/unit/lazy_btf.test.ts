/**
 * Btf.parseLazy: the same answers as Btf.parse (types, lookups by name,
 * enumerators, what clashes with a name), whether a lookup searches the raw
 * strings (the first few) or uses the hash index (the rest), in both byte
 * orders, and on the running kernel's BTF when there is one.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { BTF_KIND, Btf } from "../../src/btf/btf.js";

/** Raw BTF from type words built with `s` (a string's offset; strings may be placed by hand with `raw`). */
function buildBtf(
  build: (s: (name: string) => number, raw: (bytes: string) => number) => number[],
  le = true,
  pad = 0,
): Uint8Array {
  const strs = new Map<string, number>([["", 0]]);
  let strBytes = [0];
  const raw = (bytes: string): number => {
    const off = strBytes.length;
    strBytes = strBytes.concat([...Buffer.from(bytes, "utf8")], [0]);
    return off;
  };
  const s = (name: string): number => {
    const hit = strs.get(name);
    if (hit !== undefined) return hit;
    const off = raw(name);
    strs.set(name, off);
    return off;
  };
  const words = build(s, raw);
  const typeLen = words.length * 4;
  // `pad` bytes before the BTF: a view that is not 4-byte aligned.
  const out = new Uint8Array(pad + 24 + typeLen + strBytes.length);
  const dv = new DataView(out.buffer, pad);
  dv.setUint16(0, 0xeb9f, le);
  dv.setUint8(2, 1);
  dv.setUint32(4, 24, le);
  dv.setUint32(8, 0, le);
  dv.setUint32(12, typeLen, le);
  dv.setUint32(16, typeLen, le);
  dv.setUint32(20, strBytes.length, le);
  words.forEach((w, i) => {
    dv.setUint32(24 + i * 4, w >>> 0, le);
  });
  out.set(strBytes, pad + 24 + typeLen);
  return out.subarray(pad);
}

const info = (kind: number, vlen = 0, kflag = false) => ((kflag ? 1 << 31 : 0) | (kind << 24) | vlen) >>> 0;

/**
 * 1 int; 2 struct task { int comm; }; 3 typedef task; 4 enum e { A = 1, TASK = -3 (signed) };
 * 5 enum64 f { A = 1 << 40, BIG }; 6 struct task (a second one); 7 a FUNC_PROTO, 8 a FUNC named
 * "sk_comm" whose name is inside another string ("task_comm").
 */
function sample(s: (name: string) => number, raw: (bytes: string) => number): number[] {
  const taskComm = raw("task_comm");
  return [
    s("int"),
    info(BTF_KIND.INT),
    4,
    (1 << 24) | 32,
    s("task"),
    info(BTF_KIND.STRUCT, 1),
    4,
    s("comm"),
    1,
    0,
    s("task"),
    info(BTF_KIND.TYPEDEF),
    2,
    s("e"),
    info(BTF_KIND.ENUM, 2, true),
    4,
    s("A"),
    1,
    s("TASK"),
    -3,
    s("f"),
    info(BTF_KIND.ENUM64, 2),
    8,
    s("A"),
    0,
    1 << 8,
    s("BIG"),
    7,
    0,
    s("task"),
    info(BTF_KIND.STRUCT, 0),
    0,
    0,
    info(BTF_KIND.FUNC_PROTO, 0),
    1,
    taskComm + 2,
    info(BTF_KIND.FUNC, 0),
    7,
  ];
}

/** Every name of a BTF: its types' and enumerators'. */
function namesOf(btf: Btf): Set<string> {
  const out = new Set<string>();
  for (const t of btf.all()) {
    if (t.name) out.add(t.name);
    if (t.kind === "ENUM" || t.kind === "ENUM64") for (const v of t.values) out.add(v.name);
  }
  return out;
}

/** Checks a lazily read BTF against the parsed one: each lookup on a fresh lazy one (searching) and all on one (indexed). */
function sameAnswers(raw: Uint8Array, extra: string[], sampleEvery = 1): void {
  const eager = Btf.parse(raw);
  const names = [...namesOf(eager)].filter((_, i) => i % sampleEvery === 0);
  for (const n of [...names, ...extra]) {
    assert.deepEqual(Btf.parseLazy(raw).findAllByName(n), eager.findAllByName(n), n);
    assert.deepEqual(Btf.parseLazy(raw).findEnumerator(n), eager.findEnumerator(n), n);
    assert.equal(Btf.parseLazy(raw).hasName(n), eager.hasName(n), n);
  }
  const indexed = Btf.parseLazy(raw);
  for (let i = 0; i < 10; i++) indexed.hasName(`warm up ${i}`); // past the searches: the index answers
  for (const n of [...namesOf(eager), ...extra]) {
    assert.deepEqual(indexed.findAllByName(n), eager.findAllByName(n), n);
    assert.deepEqual(indexed.findEnumerator(n), eager.findEnumerator(n), n);
    assert.equal(indexed.hasName(n), eager.hasName(n), n);
  }
  assert.equal(indexed.count, eager.count);
  assert.deepEqual([...indexed.all()], [...eager.all()]);
}

describe("Btf.parseLazy", () => {
  it("answers as Btf.parse does, in both byte orders and from an unaligned buffer", () => {
    for (const le of [true, false])
      for (const pad of [0, 1]) {
        const raw = buildBtf(sample, le, pad);
        sameAnswers(raw, ["", "nope", "tas", "ask", "task_comm", "comm\0"]);
        const lazy = Btf.parseLazy(raw);
        assert.deepEqual(lazy.findAllByName("task"), [2, 3, 6]);
        assert.deepEqual(lazy.findAllByName("task", "STRUCT"), [2, 6]);
        assert.equal(lazy.findByName("sk_comm", "FUNC"), 8, "a name inside another string");
        assert.deepEqual(lazy.findEnumerator("A"), { enumId: 4, value: 1 });
        assert.deepEqual(lazy.findEnumerator("TASK"), { enumId: 4, value: -3 });
        assert.deepEqual(lazy.findEnumerator("BIG"), { enumId: 5, value: 7n });
        assert.equal(lazy.findEnumerator("task"), undefined);
        assert.equal(lazy.hasName("comm"), false, "a member's name is no type's");
        assert.equal(lazy.type(3).kind, "TYPEDEF");
        assert.throws(() => lazy.type(9), /no BTF type with id 9/);
      }
  });

  it("rejects a malformed layout as Btf.parse does", () => {
    const badKind = buildBtf((s) => [s("x"), info(31), 0]);
    assert.throws(() => Btf.parseLazy(badKind), /unknown BTF kind 31/);
    const truncated = buildBtf(sample);
    new DataView(truncated.buffer, truncated.byteOffset).setUint32(12, 32, true);
    assert.throws(() => Btf.parse(truncated), /ends inside the members of struct task \(type 2\)/);
    assert.throws(() => Btf.parseLazy(truncated), /ends inside the members of struct task \(type 2\)/);
    new DataView(truncated.buffer, truncated.byteOffset).setUint32(12, 20, true);
    assert.throws(() => Btf.parse(truncated), /ends inside a type header \(type 2\)/);
    assert.throws(() => Btf.parseLazy(truncated), /ends inside a type header \(type 2\)/);
    assert.throws(() => Btf.parseLazy(new Uint8Array(10)), /too short/);
  });

  it("answers as Btf.parse does on the kernel's BTF", {
    skip: !existsSync("/sys/kernel/btf/vmlinux") && "no kernel BTF",
  }, () => {
    const raw = readFileSync("/sys/kernel/btf/vmlinux");
    sameAnswers(raw, ["task_struct", "TASK_COMM_LEN", "NAME_MAX", "comm"], 4000);
  });
});
