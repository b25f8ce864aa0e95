/**
 * bcc's packet headers (src/compile/packet_headers.ts): the fields' places
 * are clang's own layout of the packed structs, and the translation of reads
 * and assignments keeps every line where it was.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { findClang, runClang } from "../../src/compile/clang.js";
import { HEADERS_DIR } from "../../src/compile/headers_dir.js";
import { packetStructs, rewritePacketHeaders, usesPacketHeaders } from "../../src/compile/packet_headers.js";

function clangOrSkip(): string | false {
  try {
    findClang();
    return false;
  } catch {
    return "no clang on this machine";
  }
}

describe("packet header layouts", { skip: clangOrSkip() }, () => {
  it("every field of <bcc/proto.h> is where clang lays it out", async () => {
    const proto = readFileSync(join(HEADERS_DIR, "bcc", "proto.h"), "utf8");
    const structs = packetStructs(proto);
    assert.ok(structs.size >= 12, [...structs.keys()].join(" "));
    // The header alone (without the prelude it includes), every struct laid out.
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-proto-"));
    try {
      writeFileSync(join(dir, "proto.h"), proto.replace(/#include "tsbpf\/prelude.h"/, ""));
      const uses = [...structs.keys()].map((s) => `sizeof(struct ${s})`).join(" + ");
      writeFileSync(join(dir, "t.c"), `#include "proto.h"\nint all = ${uses};\n`);
      const r = await runClang(findClang(), [
        "-target",
        "bpf",
        "-fsyntax-only",
        "-Xclang",
        "-fdump-record-layouts",
        join(dir, "t.c"),
      ]);
      assert.equal(r.code, 0, r.stderr);
      let checked = 0;
      for (const dump of r.stdout.split("*** Dumping AST Record Layout").slice(1)) {
        const tag = /^\s*0 \| struct (\w+)$/m.exec(dump)?.[1] as string;
        const fields = structs.get(tag);
        assert.ok(fields, `struct ${tag} was parsed`);
        for (const m of dump.matchAll(/^\s*(\d+)(?::(\d+)-(\d+))? \| {3}.* (\w+)$/gm)) {
          const [, byte, from, to, name] = m as unknown as [
            string,
            string,
            string | undefined,
            string | undefined,
            string,
          ];
          const f = fields.get(name);
          assert.ok(f, `${tag}.${name}`);
          assert.equal(f.bit, Number(byte) * 8 + Number(from ?? 0), `${tag}.${name}'s first bit`);
          if (from !== undefined)
            assert.equal(f.bits, Number(to) - Number(from) + 1, `${tag}.${name}'s width`);
          checked++;
        }
      }
      assert.ok(checked >= 80, `${checked} fields checked`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("rewritePacketHeaders", () => {
  const prog = (body: string): string => `#include <bcc/proto.h>
struct pair_t { unsigned short a; unsigned char hi : 4, lo : 4; } BPF_PACKET_HEADER;
int f(struct __sk_buff *skb)
{
    u8 *cursor = 0;
    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));
    struct pair_t *p = cursor_advance(cursor, sizeof(*p));
${body}
    return 0;
}
`;

  it("reads, assignments and compound assignments, multi-line values keeping their lines", () => {
    const src = prog(`    u32 n = sizeof(ip->ttl) + p->lo;
    ip->ttl = ip->ttl -
        1;
    p->hi |= 3;
    u64 at = (u64)&ip->hchecksum;`);
    assert.equal(usesPacketHeaders(src), true);
    const r = rewritePacketHeaders(src, HEADERS_DIR, "t.c");
    assert.equal(r.rewrites, 4, "a read inside an assignment counts too");
    const lines = r.code.split("\n");
    assert.equal(lines.length, src.split("\n").length);
    assert.equal(lines[7], "    u32 n = sizeof(ip->ttl) + bpf_dext_pkt(skb, (u64)p + 2, 4, 4);");
    assert.equal(
      lines[8],
      "    bpf_dins_pkt(skb, (u64)ip + 8, 0, 8, (bpf_dext_pkt(skb, (u64)ip + 8, 0, 8) -",
    );
    assert.equal(lines[9], "        1));");
    assert.equal(
      lines[10],
      "    bpf_dins_pkt(skb, (u64)p + 2, 0, 4, bpf_dext_pkt(skb, (u64)p + 2, 0, 4) | (3));",
    );
    assert.equal(lines[11], "    u64 at = (u64)&ip->hchecksum;", "an address is the field's offset");
  });

  it("leaves other pointers, other structs' members and comments alone", () => {
    const src = prog(`    struct ip_t copy = {};
    struct ip_t *q = &copy; // a stack copy is not a cursor pointer, but bcc translates it too
    u32 t = copy.ttl; /* ip->ttl in a comment */
    struct bpf_sock *sk = skb->sk;`);
    const r = rewritePacketHeaders(src, HEADERS_DIR, "t.c");
    const lines = r.code.split("\n");
    assert.equal(lines[9], "    u32 t = copy.ttl; /* ip->ttl in a comment */");
    assert.equal(lines[10], "    struct bpf_sock *sk = skb->sk;");
  });
});
