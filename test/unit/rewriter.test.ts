import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { autoAttachFor, rewriteBcc } from "../../src/compile/rewriter.js";
import { tokenize } from "../../src/compile/tokenizer.js";
import { CompileError } from "../../src/kernel/errors.js";

const lines = (s: string): number => s.split("\n").length;

describe("tokenizer", () => {
  it("keeps every character and classifies comments, strings and directives", () => {
    const src = "#include <linux/sched.h>\n/* a { */ int f(void) { return \"}\"[0] + '{'; } // }\n";
    const toks = tokenize(src);
    assert.equal(toks.map((t) => t.text).join(""), src);
    assert.deepEqual(
      toks.filter((t) => t.kind === "pp").map((t) => t.text),
      ["#include <linux/sched.h>"],
    );
    assert.equal(toks.filter((t) => t.kind === "comment").length, 2);
    assert.deepEqual(
      toks.filter((t) => t.kind === "string" || t.kind === "char").map((t) => t.text),
      ['"}"', "'{'"],
    );
  });

  it("joins directive continuation lines and tracks line numbers", () => {
    const toks = tokenize("#define A \\\n  1\nint x;\n");
    assert.equal(toks[0]?.kind, "pp");
    assert.equal(toks[0]?.text, "#define A \\\n  1");
    const x = toks.find((t) => t.text === "x");
    assert.equal(x?.line, 3);
    assert.equal(x?.column, 5);
  });
});

describe("tokenizer on fuzzed input", () => {
  it("counts columns in characters in linear time on a long line of a file with astral characters", () => {
    // Each token's column was counted from the start of its line: 20000 tokens took over a second.
    const t0 = performance.now();
    const toks = tokenize(`x ${"! ".repeat(100000)}😀 y\n`);
    assert.ok(performance.now() - t0 < 1000, "linear");
    assert.equal(toks.find((t) => t.text === "y")?.column, 200000 + 3 + 2);
    // a one-unit token cut inside a surrogate pair (the tokenizer's last resort) keeps the count right
    assert.equal(tokenize("😀😀 z").find((t) => t.text === "z")?.column, 4);
  });

  it("ends an unterminated literal before the newline, and counts the lines of a prefixed one", () => {
    // `'` then a newline made a char token holding the newline, which the rewriter copied
    // into a generated program (moving every later line); u8"a\<newline>b" did not count its line.
    const toks = tokenize("'\nint x;");
    assert.deepEqual(
      toks.slice(0, 2).map((t) => [t.kind, t.text]),
      [
        ["char", "'"],
        ["space", "\n"],
      ],
    );
    assert.equal(tokenize('u8"a\\\nb" x').find((t) => t.text === "x")?.line, 2);
    const src = "'\nint syscall__execve(struct pt_regs *ctx, const char *filename) {}";
    assert.equal(lines(rewriteBcc(src).code), lines(src));
  });
});

describe("rewriteBcc", () => {
  it("turns every non-static function into a program and inlines static ones, as bcc does", () => {
    const src = [
      "static int helper(int x) { return x; }",
      "int syscall__execve(struct pt_regs *ctx)",
      "{",
      "    return helper(1);",
      "}",
      "static inline int other(void) { return 0; }",
    ].join("\n");
    const r = rewriteBcc(src);
    assert.deepEqual(
      r.programs.map((p) => p.name),
      ["syscall__execve"],
    );
    assert.match(
      r.code,
      /__attribute__\(\(section\("tsbpf\/syscall__execve"\), used\)\) int syscall__execve/,
    );
    assert.match(r.code, /^__attribute__\(\(always_inline\)\) static int helper/);
    assert.match(r.code, /^__attribute__\(\(always_inline\)\) static inline int other/m);
    assert.equal(lines(r.code), lines(src));
    // An explicit noinline is the user's choice.
    const kept = rewriteBcc("static __attribute__((noinline)) int f(int x) { return x; }").code;
    assert.doesNotMatch(kept, /always_inline/);
  });

  it("ignores braces in comments, strings and struct definitions", () => {
    const src =
      'struct s { int a; };\n/* int fake(void) { } */\nint real(void *ctx) { char c[] = "{"; return 0; }\n';
    const r = rewriteBcc(src);
    assert.deepEqual(
      r.programs.map((p) => p.name),
      ["real"],
    );
  });

  it("expands TRACEPOINT_PROBE and RAW_TRACEPOINT_PROBE with auto-attach", () => {
    const src =
      "TRACEPOINT_PROBE(sched, sched_switch)\n{\n  return 0;\n}\nRAW_TRACEPOINT_PROBE(sched_wakeup) { return 0; }\n";
    const r = rewriteBcc(src);
    assert.match(
      r.code,
      /int tracepoint__sched__sched_switch\(struct tracepoint__sched__sched_switch \*args\)/,
    );
    assert.match(r.code, /int raw_tracepoint__sched_wakeup\(struct bpf_raw_tracepoint_args \*ctx\)/);
    assert.deepEqual(r.tracepointStructs, [{ category: "sched", event: "sched_switch" }]);
    assert.deepEqual(
      r.programs.map((p) => p.autoAttach),
      [
        { kind: "tracepoint", target: "sched:sched_switch" },
        { kind: "raw_tracepoint", target: "sched_wakeup" },
      ],
    );
    assert.equal(lines(r.code), lines(src));
  });

  it("maps declared kprobe arguments onto registers, and syscall__ arguments onto the tracepoint too", () => {
    const src = [
      "int syscall__execve(struct pt_regs *ctx, const char __user *filename,",
      "                    const char __user *const __user *argv)",
      "{",
      "    return 0;",
      "}",
      "int kprobe__tcp_v4_connect(struct pt_regs *ctx, struct sock *sk) { return 0; }",
    ].join("\n");
    const r = rewriteBcc(src);
    assert.equal(lines(r.code), lines(src));
    assert.match(
      r.code,
      /static __always_inline int ____syscall__execve\(struct pt_regs \*ctx, const char __user \*filename/,
    );
    assert.match(r.code, /\(const char __user \*\)__TSBPF_SYSCALL_ARG1\(ctx\)/);
    assert.match(r.code, /\(const char __user \*const __user \*\)__TSBPF_SYSCALL_ARG2\(ctx\)/);
    assert.match(r.code, /int syscall__execve__tp\(void \*ctx__raw\)/);
    assert.match(r.code, /__TSBPF_TP_SYSCALL_ARG\(ctx, 1\)/);
    assert.match(r.code, /\(struct sock \*\)__TSBPF_KPROBE_ARG1\(ctx\)/);
    const sys = r.programs.find((p) => p.name === "syscall__execve");
    assert.deepEqual(sys?.declaredArgs, ["filename", "argv"]);
    assert.deepEqual(sys?.variants, { tracepoint: "syscall__execve__tp" });
    assert.deepEqual(r.programs[1]?.autoAttach, { kind: "kprobe", target: "tcp_v4_connect" });
  });

  it("rewrites bpf_trace_printk with a literal format, keeping lines", () => {
    const src = 'int f(void *ctx) {\n  bpf_trace_printk("a %d\\n",\n    1);\n  return 0;\n}\n';
    const r = rewriteBcc(src);
    assert.match(
      r.code,
      /\(\{ char ____fmt\[\] = "a %d\\n"; bpf_trace_printk\(____fmt, sizeof\(____fmt\),\n {4}1\); \}\)/,
    );
    assert.equal(lines(r.code), lines(src));
  });

  it("rejects a bpf_trace_printk with too many arguments at the user's line", () => {
    const src = 'int f(void *ctx) {\n\n  bpf_trace_printk("%d %d %d %d", 1, 2, 3, 4);\n  return 0;\n}\n';
    assert.throws(
      () => rewriteBcc(src, "p.c"),
      (err: unknown) =>
        err instanceof CompileError &&
        err.diagnostics[0]?.line === 3 &&
        /at most 3 arguments/.test(err.message),
    );
  });

  it("rejects two %s in one bpf_trace_printk", () => {
    assert.throws(
      () => rewriteBcc('int f(void *ctx) { bpf_trace_printk("%s %s", "a", "b"); return 0; }'),
      /%s/,
    );
  });

  it("redirects kernel includes to vmlinux.h and the kernel macros, and keeps bcc's own headers", () => {
    const r = rewriteBcc(
      '#include <linux/sched.h>\n#include <linux/nsproxy.h>\n#include <bcc/proto.h>\n#include "mine.h"\n',
    );
    assert.match(
      r.code,
      /^\/\* tsbpf: <linux\/sched.h> is covered by vmlinux.h and tsbpf's kernel macros \*\//,
    );
    assert.match(r.code, /tsbpf: <linux\/nsproxy.h> is covered by vmlinux.h/);
    assert.match(r.code, /^#include <bcc\/proto.h>/m);
    assert.match(r.code, /#include "mine.h"/);
  });

  it("notices KBUILD_MODNAME and a libbpf-style license", () => {
    const r = rewriteBcc('#define KBUILD_MODNAME "x"\nchar LICENSE[] SEC("license") = "GPL";\n');
    assert.equal(r.definesKbuildModname, true);
    assert.equal(r.hasLicenseSection, true);
  });

  it("leaves libbpf-style SEC programs alone", () => {
    const src = 'SEC("tracepoint/syscalls/sys_enter_execve") int handle(void *ctx) { return 0; }';
    const r = rewriteBcc(src);
    assert.equal(r.code, src);
    assert.equal(r.programs[0]?.section, "tracepoint/syscalls/sys_enter_execve");
  });
});

describe("rewriteBcc on fuzzed input", () => {
  it("reports an unterminated bpf_trace_printk format as a CompileError at the literal", () => {
    // decodeCStringLiteral's plain Error escaped the rewriter.
    const src = 'int f(void *ctx) {\n  bpf_trace_printk("unterminated\n  , 1);\n  return 0;\n}\n';
    assert.throws(
      () => rewriteBcc(src, "p.c"),
      (e: unknown) =>
        e instanceof CompileError &&
        e.diagnostics[0]?.line === 2 &&
        e.diagnostics[0]?.column === 20 &&
        /p\.c:2:20: error: bad format string for bpf_trace_printk: unterminated string literal/.test(
          e.message,
        ),
    );
  });

  it("keeps the lines of a kernel #include continued by a backslash", () => {
    // The directive (with its comment continued onto the next line) was replaced by a one-line comment.
    const src = "#include <linux/sched.h> // x \\\n y\nint f(struct pt_regs *ctx) { return 0; }\n";
    const r = rewriteBcc(src);
    assert.equal(lines(r.code), lines(src));
    assert.equal(r.programs[0]?.line, 3);
  });

  it("keeps lines when a probe's return, ctx or argument types span lines", () => {
    // The types were copied with their newlines into the program appended on the closing brace's line.
    const src = [
      "unsigned",
      "int kprobe__f(struct pt_regs",
      "  *ctx, const char",
      "  *name) // 名前",
      "{ return 0; }",
      "int after(void *ctx) { return 0; }",
      "",
    ].join("\n");
    const r = rewriteBcc(src);
    assert.equal(lines(r.code), lines(src));
    assert.match(r.code.split("\n")[5] as string, /int after\(void \*ctx\) \{ return 0; \}$/);
    assert.match(
      r.code,
      /unsigned int kprobe__f\(struct pt_regs \*ctx\) \{ return ____kprobe__f\(ctx, \(const char \*\)__TSBPF_KPROBE_ARG1\(ctx\)\); \}/,
    );
  });

  it("leaves the static helpers of a libbpf-style file as written", () => {
    // `static inline` and plain `static` helpers got __attribute__((always_inline)): not byte-identical.
    const src = [
      "static inline int helper(int x) { return x + 1; }",
      "static int helper2(int x) { return x - 1; }",
      'SEC("xdp") int xdp_pass(struct xdp_md *ctx) { return helper(helper2(2)); }',
      'char LICENSE[] SEC("license") = "GPL";',
      "",
    ].join("\r\n");
    assert.equal(rewriteBcc(src).code, src);
    // In the bcc dialect they are still inlined, as bcc does.
    const bcc =
      "static int helper(int x) { return x; }\nint kprobe__f(struct pt_regs *ctx) { return helper(1); }\n";
    assert.match(rewriteBcc(bcc).code, /^__attribute__\(\(always_inline\)\) static int helper/);
  });
});

describe("record types of libbpf-style buffers", () => {
  it("anchors the type each libbpf helper submits, from sizeof or the variable passed", () => {
    const src = [
      "struct event { int pid; };",
      "struct big { char b[64]; };",
      'struct { int type; } rb SEC(".maps"), pb SEC(".maps"), ro SEC(".maps");',
      "int f(void *ctx) {",
      "  struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);",
      "  struct big b = {};",
      "  bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &b, sizeof(b));",
      "  bpf_ringbuf_output(&ro, &b, sizeof(struct big), 0);",
      "  u64 n = sizeof(*e) > 4 ? 4 : 8;",
      "  bpf_ringbuf_output(&rv, e, n, 0);",
      "  return 0;",
      "}",
    ].join("\n");
    const { code } = rewriteBcc(src);
    assert.match(code, /struct event \*__tsbpf_type__rb __attribute__/);
    assert.match(code, /struct big \*__tsbpf_type__pb __attribute__/);
    assert.match(code, /struct big \*__tsbpf_type__ro __attribute__/);
    // a variable size: the type of the pointer passed (past a `sizeof(*e)` use of it)
    assert.match(code, /struct event \*__tsbpf_type__rv __attribute__/);
    // the helper calls themselves are left as written
    assert.ok(code.includes("  bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &b, sizeof(b));\n"));
  });
});

describe("autoAttachFor", () => {
  it("follows bcc's name prefixes", () => {
    assert.deepEqual(autoAttachFor("kretprobe__tcp_v4_connect"), {
      kind: "kretprobe",
      target: "tcp_v4_connect",
    });
    assert.deepEqual(autoAttachFor("tracepoint__raw_syscalls__sys_enter"), {
      kind: "tracepoint",
      target: "raw_syscalls:sys_enter",
    });
    assert.equal(autoAttachFor("syscall__execve"), undefined);
  });
});
