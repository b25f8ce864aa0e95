import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateProgram } from "../../tools/lib/argdist_codegen.js";
import {
  displayExpr,
  histLabel,
  parseSignature,
  parseSpec,
  specTitle,
  splitTop,
} from "../../tools/lib/argdist_spec.js";
import { UsageError } from "../../tools/lib/args.js";

const bad = (spec: string, kind: "freq" | "hist", why: RegExp): void => {
  assert.throws(
    () => parseSpec(spec, kind),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message.startsWith(`error parsing probe '${spec}': `) &&
      why.test(e.message.slice(`error parsing probe '${spec}': `.length)),
  );
};

describe("argdist specifiers", () => {
  it("a user function's parameter with a filter (-C)", () => {
    const s = parseSpec("p:c:malloc(size_t size):size_t:size:size==16", "freq");
    assert.deepEqual(
      {
        type: s.type,
        library: s.library,
        function: s.function,
        params: s.params,
        types: s.types,
        exprs: s.exprs,
        filter: s.filter,
        label: s.label,
        isDefaultExpr: s.isDefaultExpr,
      },
      {
        type: "p",
        library: "c",
        function: "malloc",
        params: [{ name: "size", type: "size_t" }],
        types: ["size_t"],
        exprs: ["size"],
        filter: "size==16",
        label: undefined,
        isDefaultExpr: false,
      },
    );
    assert.equal(specTitle(s), "p:c:malloc(size_t size):size_t:size:size==16");
  });

  it("signatures: the type up to the last '*', else the last space", () => {
    assert.deepEqual(parseSignature("int fd, const void *buf, size_t count"), [
      { type: "int", name: "fd" },
      { type: "const void *", name: "buf" },
      { type: "size_t", name: "count" },
    ]);
    assert.deepEqual(parseSignature("char* buf, struct timespec *req"), [
      { type: "char*", name: "buf" },
      { type: "struct timespec *", name: "req" },
    ]);
    assert.deepEqual(parseSignature(""), []);
    assert.deepEqual(parseSignature("void"), []);
  });

  it("a kernel function's histogram, several types and expressions, a label", () => {
    const h = parseSpec("p::__kmalloc(u64 size):u64:size", "hist");
    assert.equal(h.library, "");
    assert.equal(histLabel(h), "size");
    const c = parseSpec(
      "p:c:write(int fd, char* buf, size_t len):int,char*:fd,buf:fd==1#stdout writes",
      "freq",
    );
    assert.deepEqual(c.types, ["int", "char*"]);
    assert.deepEqual(c.exprs, ["fd", "buf"]);
    assert.equal(c.filter, "fd==1");
    assert.equal(specTitle(c), "stdout writes");
  });

  it("return probes: $retval, $entry(param), $latency; a bare r: counts $retval", () => {
    const l = parseSpec(
      "r::__vfs_read(void *file, void *buf, size_t count):size_t:$entry(count):$latency > 1000000",
      "hist",
    );
    assert.deepEqual(l.entryParams, ["count"]);
    assert.equal(l.latency, true);
    assert.equal(histLabel(l), "count");
    const r = parseSpec("r:c:read()", "hist");
    assert.deepEqual(
      { types: r.types, exprs: r.exprs, def: r.isDefaultExpr },
      { types: ["int"], exprs: ["$retval"], def: true },
    );
    assert.equal(histLabel(r), "retval");
    const p = parseSpec("p:c:fork()#fork calls", "freq");
    assert.deepEqual(
      { types: p.types, exprs: p.exprs, label: p.label },
      { types: ["u64"], exprs: ["1"], label: "fork calls" },
    );
    const ns = parseSpec("r::__kmalloc(size_t size):u64:$latency/$entry(size)#ns per byte", "hist");
    assert.equal(histLabel(ns), "ns per byte");
    assert.equal(displayExpr("$latency/$entry(size)"), "$latency/size");
  });

  it("tracepoints: the category in the library's place, args->field", () => {
    const t = parseSpec("t:block:block_rq_complete():u32:args->nr_sector", "hist");
    assert.deepEqual(
      { type: t.type, library: t.library, function: t.function },
      {
        type: "t",
        library: "block",
        function: "block_rq_complete",
      },
    );
    assert.equal(histLabel(t), "args->nr_sector");
  });

  it("a ':' or ',' inside parentheses does not split (bcc's split would)", () => {
    assert.deepEqual(splitTop("a,f(b,c),d[1,2]", ","), ["a", "f(b,c)", "d[1,2]"]);
    const s = parseSpec("p:c:write(int fd, const void *buf, size_t n):u64,int:(u64)max(n,1),fd", "freq");
    assert.deepEqual(s.exprs, ["(u64)max(n,1)", "fd"]);
  });

  it("refuses malformed specifiers with bcc's messages", () => {
    bad("p:c", "freq", /at least the probe type, library, and function signature must be specified/);
    bad("p:c:f():int:x:x>1:extra", "freq", /extraneous ':'-separated parts detected/);
    bad("x:c:malloc(size_t n)", "freq", /probe type must be 'p', 'r', 't', or 'u' but got 'x'/);
    bad("p:c:malloc", "freq", /function signature 'malloc' has an invalid format/);
    bad("p:c:malloc(size_t n):size_t,int:n", "freq", /mismatched # of exprs and types/);
    bad("p:c:malloc(size_t n):size_t:n,n", "freq", /mismatched # of exprs and types/);
    bad("p:c:f(int a, int b):int,int:a,b", "hist", /histograms can only have 1 expr/);
    bad("p:c:malloc(size_t n)", "hist", /histograms must have expr/);
    bad("p:c:malloc(size_t n)::n", "freq", /no expr types specified/);
    bad("p:c:malloc(size_t n):size_t:", "freq", /no exprs specified/);
    bad("r:c:read(int fd):int:$entry(count)", "freq", /\$entry\(count\): no such param/);
    bad("t::sched_switch()", "freq", /needs its category/);
    bad("p:c:malloc(size_t n):int:$pid", "freq", /unknown alias \$pid \(argdist has \$retval/);
    bad(
      "p:c:malloc(size_t n):char*:$COMM:$COMM == 0",
      "freq",
      /\$COMM is the process name: a whole expression/,
    );
  });

  it("$latency, $entry and $retval only in return probes", () => {
    bad(
      "p:c:malloc(size_t n):u64:$latency",
      "hist",
      /\$latency is only known in a return probe .*'p' probe has no latency/,
    );
    bad("p:c:read(int fd):int:$entry(fd)", "freq", /\$entry is only known in a return probe/);
    bad("t:syscalls:sys_enter_read():int:$retval", "freq", /\$retval is only known in a return probe/);
  });

  it("generates the probe, its map, and the entry probe a return probe needs", () => {
    const specs = [
      parseSpec("r:c:read(int fd, void *buf, size_t n):size_t:$entry(n):$latency > 1000", "freq"),
      parseSpec("t:syscalls:sys_enter_openat():char*:args->filename", "freq"),
      parseSpec("p:c:malloc(size_t size):size_t:size", "hist"),
    ];
    const text = generateProgram(specs, {
      pid: 42,
      stringSize: 120,
      includes: ["linux/fs.h"],
      cgroup: false,
    });
    assert.match(text, /^struct __string_t \{ char s\[120\]; \};/);
    assert.match(text, /#include <linux\/fs.h>/);
    // the entry probe keeps the parameter and the time per thread
    assert.match(text, /int argdist_probe0_entry\(struct pt_regs \*ctx, int fd, void \*buf, size_t n\) \{/);
    assert.match(text, /__e\.n = n;/);
    assert.match(text, /if \(!\(\(bpf_ktime_get_ns\(\) - __entry\.__ts\) > 1000\)\) return 0;/);
    assert.match(text, /__key\.v0 = \(__entry\.n\);/);
    assert.match(text, /int argdist_probe0\(struct pt_regs \*ctx\) \{/);
    assert.match(text, /int argdist_probe1\(struct tracepoint__syscalls__sys_enter_openat \*args\) \{/);
    assert.match(
      text,
      /bpf_probe_read_user_str\(&__key\.v0\.s, sizeof\(__key\.v0\.s\), \(void \*\)\(args->filename\)\)/,
    );
    assert.match(text, /BPF_HISTOGRAM\(argdist_hash2\);/);
    assert.match(text, /size_t __v = size;\n {2}argdist_hash2\.atomic_increment\(bpf_log2l\(__v\)\);/);
    assert.equal(text.match(/if \(__tgid != 42\) return 0;/g)?.length, 4);
  });

  it("USDT probes: argN read with the note's type before the filter and the keys use them", () => {
    bad("u::tick()", "freq", /needs its library or program/);
    bad("u:app:tick(int n):int:n", "freq", /a USDT probe takes no signature: its arguments are arg1, arg2/);
    const s = parseSpec("u:app:tick():int,char*:arg1,arg3:arg1 > 2", "freq");
    const text = generateProgram([s], {
      stringSize: 80,
      includes: [],
      cgroup: false,
      usdtArgType: (i, n) => (i === 0 && n === 1 ? "int32_t" : "uint64_t"),
    });
    assert.match(text, /int argdist_probe0\(struct pt_regs \*ctx\) \{/);
    assert.match(
      text,
      /int32_t arg1 = 0;\n {2}bpf_usdt_readarg\(1, ctx, &arg1\);\n {2}uint64_t arg3 = 0;\n {2}bpf_usdt_readarg\(3, ctx, &arg3\);\n {2}if \(!\(arg1 > 2\)\) return 0;/,
    );
    assert.doesNotMatch(text, /arg2 = 0/);
    // a USDT probe's pointers are the traced process's: read as user memory
    assert.match(
      text,
      /bpf_probe_read_user_str\(&__key\.v1\.s, sizeof\(__key\.v1\.s\), \(void \*\)\(arg3\)\);\n/,
    );
  });

  it('bcc\'s STRCMP("literal", expr) becomes a generated comparison', () => {
    const s = parseSpec(
      'p:c:open(char *path, int flags):int:flags:STRCMP("/etc/a:b", path) && flags',
      "freq",
    );
    assert.equal(s.filter, 'STRCMP("/etc/a:b", path) && flags');
    const text = generateProgram([s], { stringSize: 80, includes: [], cgroup: false });
    assert.match(
      text,
      /static __always_inline int argdist_streq0\(const void \*p\) \{\n {2}char s\[10\] = \{\};/,
    );
    assert.match(
      text,
      /if \(s\[0\] != 47\) return 0;[\s\S]*if \(s\[7\] != 98\) return 0;\n {2}return s\[8\] == 0;/,
    );
    assert.match(text, /if \(!\(argdist_streq0\(\(const void \*\)\(path\)\) && flags\)\) return 0;/);
  });
});
