import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MapType } from "../../src/compile/maps_dialect.js";
import { rewriteBcc } from "../../src/compile/rewriter.js";
import { CompileError } from "../../src/kernel/errors.js";

const lines = (s: string): number => s.split("\n").length;

describe("map declarations", () => {
  it("translates the short forms with bcc's defaults", () => {
    const r = rewriteBcc(
      [
        "BPF_HASH(a);",
        "BPF_HASH(b, struct key_t, u32, 100);",
        "BPF_ARRAY(c);",
        "BPF_HISTOGRAM(d);",
        "BPF_HISTOGRAM(e, struct hist_key);",
        "BPF_PERCPU_ARRAY(f, long, 1);",
        "BPF_LPM_TRIE(g, struct lpm_key, u64, 16);",
        "BPF_PERF_OUTPUT(h);",
        "BPF_RINGBUF_OUTPUT(i, 16);",
        'BPF_TABLE("lru_hash", u32, u64, j, 64);',
        "BPF_QUEUE(k, u32, 8);",
        "BPF_STACK_TRACE(l, 1024);",
      ].join("\n"),
    );
    const by = Object.fromEntries(r.maps.map((m) => [m.name, m]));
    assert.deepEqual(
      [by.a?.keyType, by.a?.leafType, by.a?.maxEntries, by.a?.mapType],
      ["u64", "u64", "10240", MapType.HASH],
    );
    assert.deepEqual([by.b?.keyType, by.b?.leafType, by.b?.maxEntries], ["struct key_t", "u32", "100"]);
    assert.deepEqual([by.c?.keyType, by.c?.mapType, by.c?.maxEntries], ["int", MapType.ARRAY, "10240"]);
    assert.deepEqual([by.d?.mapType, by.d?.maxEntries], [MapType.ARRAY, "64"]);
    assert.equal(by.e?.mapType, MapType.HASH, "a histogram keyed by a struct is a hash");
    assert.equal(by.f?.mapType, MapType.PERCPU_ARRAY);
    assert.match(by.g?.flags ?? "", /^1/);
    assert.equal(by.h?.mapType, MapType.PERF_EVENT_ARRAY);
    assert.deepEqual([by.i?.mapType, by.i?.maxEntries], [MapType.RINGBUF, "((16) * 4096)"]);
    assert.equal(by.j?.mapType, MapType.LRU_HASH);
    assert.equal(by.k?.mapType, MapType.QUEUE);
    assert.equal(by.l?.leafType, "struct bpf_stacktrace");
    assert.match(
      r.code,
      /^struct \{ __uint\(type, 1\); __uint\(max_entries, 10240\); __type\(key, u64\); __type\(value, u64\); \} a SEC\("\.maps"\);$/m,
    );
    assert.match(
      r.code,
      /struct \{ __uint\(type, 4\); __uint\(key_size, sizeof\(int\)\); __uint\(value_size, sizeof\(u32\)\); \} h SEC/,
    );
    assert.deepEqual(r.ringbufs, ["i"]);
  });

  it("reads every form current bcc has of the map-in-map, queue, XSK map and cgroup storage macros", () => {
    const r = rewriteBcc(
      [
        "BPF_ARRAY(inner, u64, 4);",
        'BPF_HASH_OF_MAPS(m2, "inner");',
        'BPF_HASH_OF_MAPS(m3, struct key_t, "inner");',
        'BPF_HASH_OF_MAPS(m4, u32, "inner", 8);',
        'BPF_HASH_OF_MAPS(old, "inner", 16);',
        "BPF_QUEUE(q, u32, 8, BPF_F_NO_PREALLOC);",
        'BPF_QUEUESTACK_PINNED("stack", s, u64, 4, 0, "/sys/fs/bpf/s");',
        'BPF_QUEUESTACK_PUBLIC("queue", pq, u64, 4, 0);',
        'BPF_XSKMAP(x, 4, "/sys/fs/bpf/x");',
        "BPF_CGROUP_STORAGE(cs, u64);",
        "BPF_PERCPU_CGROUP_STORAGE(pcs, struct v);",
        'BPF_XDP_REDIRECT_MAP("devmap_hash", int, dh, 8);',
      ].join("\n"),
    );
    const m = new Map(r.maps.map((d) => [d.name, d]));
    const pick = (n: string) => {
      const d = m.get(n);
      return [d?.mapType, d?.keyType, d?.maxEntries, d?.inner ?? d?.flags ?? d?.pinnedPath ?? d?.shared];
    };
    assert.deepEqual(pick("m2"), [MapType.HASH_OF_MAPS, "int", "10240", "inner"]);
    assert.deepEqual(pick("m3"), [MapType.HASH_OF_MAPS, "struct key_t", "10240", "inner"]);
    assert.deepEqual(pick("m4"), [MapType.HASH_OF_MAPS, "u32", "8", "inner"]);
    assert.deepEqual(pick("old"), [MapType.HASH_OF_MAPS, "int", "16", "inner"]);
    assert.deepEqual(pick("q"), [MapType.QUEUE, undefined, "8", "BPF_F_NO_PREALLOC"]);
    assert.deepEqual([m.get("s")?.mapType, m.get("s")?.pinnedPath], [MapType.STACK, "/sys/fs/bpf/s"]);
    assert.deepEqual([m.get("pq")?.mapType, m.get("pq")?.shared], [MapType.QUEUE, "public"]);
    assert.deepEqual([m.get("x")?.mapType, m.get("x")?.pinnedPath], [MapType.XSKMAP, "/sys/fs/bpf/x"]);
    assert.deepEqual(pick("cs"), [MapType.CGROUP_STORAGE, "struct bpf_cgroup_storage_key", "0", undefined]);
    assert.equal(m.get("pcs")?.mapType, MapType.PERCPU_CGROUP_STORAGE);
    assert.deepEqual(pick("dh"), [MapType.DEVMAP_HASH, "int", "8", undefined]);
    assert.throws(() => rewriteBcc('BPF_HASH_OF_MAPS(m, "inner", 1, 2, 3);'), /takes 2 to 4 arguments/);
  });

  it("keeps line numbers for declarations spread over lines", () => {
    const src = "BPF_HASH(counts,\n         struct key_t,\n         u64);\nint x;\n";
    const r = rewriteBcc(src);
    assert.equal(lines(r.code), lines(src));
    assert.match(r.code, /\nint x;\n$/);
  });

  it("rejects a wrong argument count, a duplicate name and an unknown table type at the user's line", () => {
    assert.throws(
      () => rewriteBcc("\nBPF_HASH(a, u32, u64, 10, 5);"),
      (e: unknown) =>
        e instanceof CompileError &&
        e.diagnostics[0]?.line === 2 &&
        /BPF_HASH takes 1 to 4 arguments, got 5/.test(e.message),
    );
    assert.throws(() => rewriteBcc("BPF_HASH(a);\nBPF_ARRAY(a);"), /declared twice/);
    assert.throws(() => rewriteBcc('BPF_TABLE("nope", u32, u64, a, 1);'), /unknown table type "nope"/);
  });

  it("says where a map declaration misses its ';' (the line of the declaration, not the next one)", () => {
    assert.throws(
      () => rewriteBcc("BPF_STACK_TRACE(stack_traces, 1024)\nBPF_PERF_OUTPUT(events);\n"),
      (e: unknown) =>
        e instanceof CompileError &&
        e.diagnostics[0]?.line === 1 &&
        /^<text>:1:36: error: expected ';' after BPF_STACK_TRACE\(\.\.\.\)$/.test(e.message),
    );
    // A ';' after a comment or on the next line is a ';'.
    assert.equal(rewriteBcc("BPF_HASH(a) /* counts */\n  ;\n").maps.length, 1);
  });

  it("expands a BPF_TABLE type given as a macro: a -D flag, or the program's own #define", () => {
    const decl = "BPF_TABLE(MAPTYPE, u32, long, cnt, 256);";
    const fromFlag = rewriteBcc(decl, "t.c", new Map([["MAPTYPE", '"percpu_array"']]));
    assert.equal(fromFlag.maps[0]?.mapType, 6, "BPF_MAP_TYPE_PERCPU_ARRAY");
    const fromSource = rewriteBcc(`#define KIND "hash"\n#define MAPTYPE KIND\n${decl}`);
    assert.equal(fromSource.maps[0]?.mapType, 1, "BPF_MAP_TYPE_HASH, through two macros");
    const undone = `#define MAPTYPE "hash"\n#undef MAPTYPE\n${decl}`;
    assert.throws(() => rewriteBcc(undone), /unknown table type "MAPTYPE"/);
  });

  it("accepts one declaration per #if/#else branch, but not two in the same branch", () => {
    const r = rewriteBcc(
      '#ifdef USE_ARRAY\nBPF_ARRAY(cnt, u64, 2);\n#elif defined(X)\nBPF_TABLE("array", int, u64, cnt, 2);\n#else\nBPF_HASH(cnt, int, u64);\n#endif\n',
    );
    assert.equal(r.code.split("\n").length, 8, "line numbers kept");
    assert.equal((r.code.match(/\bcnt SEC\("\.maps"\)/g) ?? []).length, 3, "every branch is translated");
    assert.throws(() => rewriteBcc("#ifdef A\nBPF_HASH(a);\nBPF_ARRAY(a);\n#endif\n"), /declared twice/);
    assert.throws(() => rewriteBcc("#ifdef A\nBPF_HASH(a);\n#endif\nBPF_ARRAY(a);\n"), /declared twice/);
  });
});

describe("map methods", () => {
  const prelude = "BPF_HASH(counts, u32, u64);\nBPF_PERF_OUTPUT(events);\nstruct data_t { u32 pid; };\n";

  it("rewrites methods inside code but not inside strings or comments", () => {
    const r = rewriteBcc(
      `${prelude}int f(void *ctx) {\n  u32 k = 1; // counts.lookup(&k)\n  char s[] = "counts.delete(&k)";\n  counts.delete(&k);\n  return 0;\n}`,
    );
    assert.match(r.code, /\/\/ counts\.lookup\(&k\)/);
    assert.match(r.code, /"counts\.delete\(&k\)"/);
    assert.match(r.code, /bpf_map_delete_elem\(\(void \*\)&counts, \(&k\)\);/);
  });

  it("rewrites nested calls and calls inside bpf_trace_printk, keeping lines", () => {
    const src = `${prelude}int f(void *ctx) {\n  u32 k = 1;\n  u64 *v = counts.lookup(\n    &k);\n  bpf_trace_printk("%d", *counts.lookup(&k));\n  counts.update(&k, counts.lookup(&k));\n  return 0;\n}`;
    const r = rewriteBcc(src);
    assert.equal(lines(r.code.replace(/\n(struct data_t|u32) \*__tsbpf_type__.*$/s, "")), lines(src));
    assert.match(
      r.code,
      /bpf_map_update_elem\(\(void \*\)&counts, \(&k\), \(\(\(__typeof__\(counts\.value\)\)bpf_map_lookup_elem/,
    );
    assert.match(
      r.code,
      /bpf_trace_printk\(____fmt, sizeof\(____fmt\), \*\(\(__typeof__\(counts\.value\)\)bpf_map_lookup_elem/,
    );
    assert.doesNotMatch(r.code, /counts\.lookup/);
  });

  it("records the type of what a perf buffer carries, for event() decoding", () => {
    const r = rewriteBcc(
      `${prelude}int f(void *ctx) {\n  struct data_t data = {};\n  events.perf_submit(ctx, &data, sizeof(data));\n  return 0;\n}`,
    );
    assert.equal(r.maps.find((m) => m.name === "events")?.eventType, "struct data_t");
    assert.match(
      r.code,
      /\nstruct data_t \*__tsbpf_type__events __attribute__\(\(section\("\.tsbpf\.types"\), used\)\);\n$/,
    );
  });

  it("records perf_submit_skb's record type too (its data argument; the packet's bytes follow it)", () => {
    const r = rewriteBcc(
      `${prelude}int f(struct __sk_buff *skb) {\n  struct data_t m = {};\n  events.perf_submit_skb(skb, skb->len, &m, sizeof(m));\n  return 0;\n}`,
    );
    assert.equal(r.maps.find((m) => m.name === "events")?.eventType, "struct data_t");
    assert.match(
      r.code,
      /bpf_perf_event_output\(\(skb\), \(void \*\)&events, \(\(\(__u64\)\(skb->len\)\) << 32\) \| 0xffffffffULL, \(&m\), \(sizeof\(m\)\)\)/,
    );
  });

  it("finds the record type from sizeof(struct …) and from a reserved pointer", () => {
    const r = rewriteBcc(
      "BPF_RINGBUF_OUTPUT(rb, 4);\nBPF_RINGBUF_OUTPUT(rb2, 4);\nstruct ev { u64 ts; };\nint f(void *ctx) {\n  struct ev *e = rb.ringbuf_reserve(sizeof(struct ev));\n  if (e) rb.ringbuf_submit(e, 0);\n  struct ev *p = rb2.ringbuf_reserve(sizeof(*p));\n  if (p) rb2.ringbuf_discard(p, 0);\n  return 0;\n}",
    );
    assert.equal(r.maps.find((m) => m.name === "rb")?.eventType, "struct ev");
    assert.equal(r.maps.find((m) => m.name === "rb2")?.eventType, "struct ev");
    assert.match(r.code, /bpf_ringbuf_submit\(\(e\), __TSBPF_RB_FLAGS\(rb, 0, \(0\)\)\)/);
    assert.match(r.code, /struct ev \*p = __TSBPF_RB_RESERVE\(rb2, 1, \(sizeof\(\*p\)\)\);/);
  });

  it("rejects methods a map kind lacks and calls on non-maps", () => {
    assert.throws(
      () => rewriteBcc(`${prelude}int f(void *ctx) {\n  events.lookup(0);\n  return 0;\n}`),
      (e: unknown) =>
        e instanceof CompileError &&
        e.diagnostics[0]?.line === 5 &&
        /events is a perf_output map and has no method lookup\(\)/.test(e.message),
    );
    assert.throws(() => rewriteBcc("int f(void *ctx) { x.increment(1); return 0; }"), /x is not a map/);
    assert.throws(
      () => rewriteBcc(`${prelude}int f(void *ctx) { counts.lookup(); return 0; }`),
      /counts\.lookup\(\) takes 1 argument, got 0/,
    );
  });

  it("leaves member access through other structs alone", () => {
    const r = rewriteBcc(
      `${prelude}struct ops { int (*update)(int); };\nint f(struct ops *o) { return o->update(1) + s.a.update(2); }`,
    );
    assert.match(r.code, /o->update\(1\) \+ s\.a\.update\(2\)/);
  });
});
