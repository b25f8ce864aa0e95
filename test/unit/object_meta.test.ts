/** tsbpf's metadata section in compiled objects: written, read back, and invisible to ELF readers. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  embedMeta,
  META_SECTION,
  notBpfObject,
  type ObjectMeta,
  readMeta,
} from "../../src/compile/object_meta.js";
import { readElf } from "../../src/elf/elf.js";
import { ElfError } from "../../src/index.js";

/** A minimal relocatable BPF ELF: the null section, .text (8 bytes) and .shstrtab. */
function tinyBpfElf(): Uint8Array {
  const names = new TextEncoder().encode("\0.text\0.shstrtab\0");
  const text = new Uint8Array([0x95, 0, 0, 0, 0, 0, 0, 0]); // exit
  const textOff = 64;
  const namesOff = textOff + text.byteLength;
  const shoff = (namesOff + names.byteLength + 7) & ~7;
  const elf = new Uint8Array(shoff + 3 * 64);
  const v = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(0x10, 1, true); // ET_REL
  v.setUint16(0x12, 247, true); // EM_BPF
  v.setUint32(0x14, 1, true);
  v.setBigUint64(0x28, BigInt(shoff), true);
  v.setUint16(0x34, 64, true);
  v.setUint16(0x3a, 64, true);
  v.setUint16(0x3c, 3, true);
  v.setUint16(0x3e, 2, true);
  elf.set(text, textOff);
  elf.set(names, namesOff);
  const sh = (i: number, name: number, type: number, off: number, size: number) => {
    const b = shoff + i * 64;
    v.setUint32(b, name, true);
    v.setUint32(b + 4, type, true);
    v.setBigUint64(b + 0x18, BigInt(off), true);
    v.setBigUint64(b + 0x20, BigInt(size), true);
  };
  sh(1, 1, 1, textOff, text.byteLength);
  sh(2, 7, 3, namesOff, names.byteLength);
  return elf;
}

const META: ObjectMeta = {
  fileName: "execs.bpf.c",
  programs: [
    {
      name: "tracepoint__sched__sched_switch",
      line: 2,
      declaredArgs: [],
      autoAttach: { kind: "tracepoint", target: "sched:sched_switch" },
      variants: {},
      section: "tracepoint/sched/sched_switch",
    },
  ],
  maps: [],
  ringbufs: [],
  source: "// 日本語のコメント\nTRACEPOINT_PROBE(sched, sched_switch) { return 0; }\n",
  translated: "…",
};

describe("object metadata", () => {
  it("round-trips through a .tsbpf section that ELF readers see as one more section", () => {
    const elf = tinyBpfElf();
    assert.equal(readMeta(elf, "tiny.o"), undefined);
    const withMeta = embedMeta(elf, META);
    assert.deepEqual(readMeta(withMeta, "tiny.o"), META);
    const sections = readElf(Buffer.from(withMeta)).sections.map((s) => s.name);
    assert.deepEqual(sections.slice(1), [".text", ".shstrtab", META_SECTION]);
    // The original bytes are kept where they were.
    assert.deepEqual(withMeta.subarray(64, 72), elf.subarray(64, 72));
    assert.throws(() => embedMeta(withMeta, META), /already has a \.tsbpf section/);
  });

  it("tells a BPF object from other ELF files and from what is no ELF at all", () => {
    assert.equal(notBpfObject(tinyBpfElf(), "tiny.o"), undefined);
    assert.match(
      notBpfObject(readFileSync("/bin/true"), "/bin/true") ?? "",
      /its ELF machine is \d+, not BPF \(247\)/,
    );
    assert.throws(
      () => notBpfObject(new TextEncoder().encode("#!/bin/sh\n".repeat(10)), "x.sh"),
      (err: unknown) =>
        err instanceof ElfError && err.path === "x.sh" && /not a 64-bit little-endian ELF/.test(err.message),
    );
    const truncated = tinyBpfElf().subarray(0, 100);
    assert.throws(() => readMeta(truncated, "cut.o"), /section header table is truncated/);
  });
});
