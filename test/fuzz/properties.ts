/**
 * Property-based fuzzing (fast-check) of everything tsbpf parses that it did
 * not write: the bcc dialect (tokenizer, conditionals, macros, map macros,
 * rewriter), the implicit-read pass's text side, tracefs format files,
 * trace_pipe lines, the printf formatter, ELF/BTF/perf-map/proc-maps
 * readers on mutated real files, USDT argument specs and the tools' probe
 * languages.
 *
 * Every property checks that only tsbpf's typed errors escape (BpfError and
 * its subclasses; for the Python/C-compatible formatters, their documented
 * errors) and that no input takes more than a second; most check more (the
 * tokenizer's tokens cover the text, the rewriter keeps lines, diagnostics
 * point at the user's line and column, a libbpf-style program comes out of
 * the rewriter byte-identical).
 *
 * test/fuzz/run.ts runs them for a while (`npm run fuzz`), and
 * test/unit/fuzz_slice.test.ts runs a fixed-seed slice of each in `npm test`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { parseUsdtArgument } from "../../src/attach/usdt.js";
import { Btf } from "../../src/btf/btf.js";
import { codecFor, decodeFromBytes } from "../../src/btf/codec.js";
import { parseDiagnostics } from "../../src/compile/clang.js";
import { type MacroEnv, resolveConditionals } from "../../src/compile/conditionals.js";
import { elfPrograms } from "../../src/compile/elf_programs.js";
import { definedFunctions } from "../../src/compile/implicit_reads/ast.js";
import { filtersFor, needsImplicitReads } from "../../src/compile/implicit_reads/index.js";
import { emitMacros, macroClosure, parseDefines } from "../../src/compile/macros.js";
import { MAP_MACROS, mapDefinition, methodCall, methodsOf } from "../../src/compile/maps_dialect.js";
import { checkTracePrintk, decodeCStringLiteral } from "../../src/compile/printk_check.js";
import { type ProgramInfo, rewriteBcc } from "../../src/compile/rewriter.js";
import { tokenize } from "../../src/compile/tokenizer.js";
import { parseTpFormat, tpArgsStruct } from "../../src/compile/tp_format.js";
import { addrToFileOffset, FunctionIndex, readElf, readElfSymbols } from "../../src/elf/elf.js";
import { ProcessSymbols, parsePerfMap, parseProcMaps } from "../../src/elf/procmaps.js";
import { sprintf } from "../../src/format/printf.js";
import { CompileError } from "../../src/kernel/errors.js";
import {
  formatTraceFields,
  isLostEvents,
  parseTraceLine,
  type TraceLine,
} from "../../src/kernel/trace_line.js";
import { generateProgram as argdistProgram } from "../../tools/lib/argdist_codegen.js";
import { parseSpec } from "../../tools/lib/argdist_spec.js";
import { parsePattern } from "../../tools/lib/patterns.js";
import { generateProgram as traceProgram } from "../../tools/lib/trace_codegen.js";
import { parseFormat, parseProbe, splitTopLevel } from "../../tools/lib/trace_spec.js";
import { documented, expect, guarded } from "./guard.js";
import { btfSeeds, elfSeeds, type Mutation, mutate, mutations } from "./seeds.js";

/** One fuzz target: a named property (made on demand: seeds are read then). */
export interface FuzzTarget {
  name: string;
  /** What it covers, for the runner's table. */
  covers: string;
  property: () => fc.IProperty<never> | fc.IProperty<unknown>;
  /** Runs in the fixed-seed slice of `npm test` (default 60). */
  sliceRuns?: number;
  /** The runner's share of the time, relative to the others (default 1). */
  weight?: number;
}

/** What the targets leave in /tmp (a mutated ELF's directory, this process's perf map). */
const leftovers = new Set<string>();

/** Removes what the targets wrote; the runner and the slice call it when done. */
export function cleanup(): void {
  for (const p of leftovers) rmSync(p, { recursive: true, force: true });
  leftovers.clear();
}

// --- text generators -----------------------------------------------------

const EOL = fc.constantFrom("\n", "\r\n", "\n", "\n");

/** Fragments of bcc-dialect C, the awkward lexical cases among them. */
const C_FRAGMENTS = [
  "\n",
  "\r\n",
  "\t",
  " ",
  "// 日本語のコメント\n",
  "/* コメント\n   複数行 */",
  "/* unterminated",
  "*/",
  "// continued \\\n still a comment\n",
  "// crlf continued \\\r\n still\r\n",
  '"文字列 %d\\n"',
  '"unterminated',
  "'a'",
  "'\\''",
  "'",
  '"\\"',
  'u8"x"',
  "L'x'",
  "😀",
  "é",
  "\\\n",
  "\\",
  "#",
  "##",
  "#include <linux/sched.h>\n",
  '#include "vmlinux.h"\n',
  "#include <bcc/proto.h>\n",
  "#define FOO 1\n",
  "#define BAR(x) ((x) + FOO)\n",
  "#define BAZ BAR(BAR(FOO))\n",
  "#define CAT(a, b) a##b\n",
  "#define STR(a) #a\n",
  "#define LONG \\\n  1\n",
  "#define LONG2 \\\r\n  2\r\n",
  '#define KBUILD_MODNAME "x"\n',
  "#undef FOO\n",
  "#if FOO\n",
  "#ifdef BAR\n",
  "#ifndef BAZ\n",
  "#elif BAZ > 1\n",
  "#else\n",
  "#endif\n",
  "#if defined(FOO) && BAR(2) == 3\n",
  "#if 1 << 70\n",
  "#if (((1)))\n",
  "#if __has_include(<x.h>)\n",
  "#if /* c */ 1 // d\n",
  "BPF_HASH(counts, u32, u64);\n",
  "BPF_ARRAY(arr, u64, 16);\n",
  "BPF_PERF_OUTPUT(events);\n",
  "BPF_RINGBUF_OUTPUT(rb, 8);\n",
  "BPF_HASH(",
  'BPF_TABLE("hash", u32, u64, t, 1024);\n',
  'BPF_TABLE("nosuch", u32, u64, t2, 1024);\n',
  "BPF_HASH(counts);\n",
  'BPF_ARRAY_OF_MAPS(aom, "arr", 4);\n',
  "BPF_STACK_TRACE(st, 128);\n",
  "BPF_HASH(1bad, u32);\n",
  "int kprobe__do_sys_open(struct pt_regs *ctx, int dfd, const char __user *filename) {",
  "int trace_entry(struct pt_regs *ctx) {",
  "int many(struct pt_regs *ctx, int a, int b, int c, int d, int e, int f, int g) {",
  "static int helper(int x) {",
  "static __always_inline int inl(int x) {",
  "TRACEPOINT_PROBE(sched, sched_switch) {",
  "TRACEPOINT_PROBE(sched) {",
  "RAW_TRACEPOINT_PROBE(sys_enter) {",
  "KFUNC_PROBE(do_unlinkat, int dfd) {",
  "KRETFUNC_PROBE(\n do_unlinkat, int dfd, long ret) {",
  "MODULE_KFUNC_PROBE(mod, fn, int a) {",
  "BPF_ITER(task) {",
  "BPF_ITER() {",
  "LSM_PROBE(bpf, int cmd) {",
  'SEC("kprobe/x") int x(void *ctx) {',
  "int syscall__execve(struct pt_regs *ctx, const char *filename) {",
  "int f(struct pt_regs *ctx, char buf[16]) {",
  "int g(int) {",
  "}",
  "{",
  "(",
  ")",
  "[",
  "]",
  ";",
  ",",
  ".",
  "->",
  "u32 key = 0; u64 *v = counts.lookup(&key);",
  "counts.increment(key);",
  "counts.atomic_increment(key, 2);",
  "counts.lookup(",
  "counts.nosuchmethod(1);",
  "events.perf_submit(ctx, &data, sizeof(data));",
  "rb.ringbuf_output(&data, sizeof(data), 0);",
  "struct data_t *e = rb.ringbuf_reserve(sizeof(*e));",
  "st.get_stackid(ctx, 0);",
  'bpf_trace_printk("hello %d\\n", 1);',
  'bpf_trace_printk("%s %s %s %s\\n", a, b, c, d);',
  'bpf_trace_printk("%d" "%d", 1, 2);',
  'bpf_trace_printk("unterminated);',
  "bpf_trace_printk(",
  "nosuchmap.lookup(&k);",
  "arr.ringbuf_output(1);",
  "x.y.lookup(1);",
  "return 0;",
  "struct data_t { u32 pid; char comm[16]; };",
  "typedef struct { int a; } t_t;",
  "struct data_t data = {};",
  "bpf_get_current_comm(&data.comm, sizeof(data.comm));",
  "bpf_ringbuf_output(&lrb, &data, sizeof(data), 0);",
];

const cFragment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...C_FRAGMENTS) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 4 }) },
);

/** Free-form dialect text: fragments in any order (mostly unbalanced, which must give a CompileError). */
const dialectSoup = fc.array(cFragment, { maxLength: 50 }).map((a) => a.join(""));

/** A well-formed bcc program, in some layout (LF or CRLF, tabs, Japanese comments between tokens). */
const dialectProgram = fc
  .record({
    eol: EOL,
    indent: fc.constantFrom("  ", "\t", "    ", ""),
    comment: fc.constantFrom("", " /* 日本語 */", " // メモ", " /* a\n b */", " // x \\\n y"),
    maps: fc.subarray(
      [
        "BPF_HASH(counts, u32, u64);",
        "BPF_ARRAY(arr, u64, 16);",
        "BPF_PERF_OUTPUT(events);",
        "BPF_RINGBUF_OUTPUT(rb, 8);",
        "BPF_STACK_TRACE(st, 128);",
        "BPF_HISTOGRAM(hist);",
      ],
      { minLength: 1 },
    ),
    conditional: fc.boolean(),
    heads: fc.subarray(
      [
        "int kprobe__do_sys_open(struct pt_regs *ctx, int dfd, const char __user *filename)",
        "int trace_entry(struct pt_regs *ctx)",
        "TRACEPOINT_PROBE(sched, sched_switch)",
        "RAW_TRACEPOINT_PROBE(sys_enter)",
        "KFUNC_PROBE(do_unlinkat, int dfd)",
        "int syscall__execve(struct pt_regs *ctx, const char *filename)",
        "static int helper(int x)",
        'SEC("kprobe/do_nanosleep") int sleeper(void *ctx)',
      ],
      { minLength: 1 },
    ),
    statements: fc.array(
      fc.constantFrom(
        "u32 key = 0;",
        "u64 zero = 0, *v = counts.lookup_or_try_init(&key, &zero);",
        "counts.increment(key);",
        "u64 *a = arr.lookup(&key);",
        'bpf_trace_printk("日本 %d\\n", key);',
        "struct data_t data = {};",
        "events.perf_submit(ctx, &data, sizeof(data));",
        "rb.ringbuf_output(&data, sizeof(data), 0);",
        "hist.increment(bpf_log2l(key));",
        "if (key) {\n    return 1;\n  }",
        "/* 句読点。 */",
      ),
      { maxLength: 6 },
    ),
  })
  .map((p) => {
    const nl = p.eol;
    const lines = [
      `#include <uapi/linux/ptrace.h>${p.comment}`,
      "struct data_t { u32 pid; char comm[16]; };",
      ...p.maps.map((m) => `${m}${p.comment}`),
    ];
    if (p.conditional)
      lines.push("#ifdef FOO", "BPF_HASH(dup, u32);", "#else", "BPF_ARRAY(dup, u32, 1);", "#endif");
    for (const h of p.heads) {
      lines.push(`${h}${p.comment}`, "{");
      for (const s of p.statements) {
        const usesMissingMap = !p.maps.some((m) => s.includes(`${/\((\w+)/.exec(m)?.[1]}.`));
        if (/\b(counts|arr|events|rb|hist)\./.test(s) && usesMissingMap) continue;
        lines.push(`${p.indent}${s}`);
      }
      lines.push(`${p.indent}return 0;`, "}");
    }
    return lines.join(nl) + nl;
  });

/** A libbpf-style program: nothing for the rewriter to do. */
const libbpfProgram = fc
  .record({
    eol: EOL,
    indent: fc.constantFrom("  ", "\t", "\t\t", ""),
    comment: fc.constantFrom("", " /* 日本語 */", " // コメント", " /* a\r\n b */", "\t// tab"),
    includes: fc.subarray([
      '#include "vmlinux.h"',
      "#include <bpf/bpf_helpers.h>",
      "#include <bpf/bpf_tracing.h>",
      "#include <bpf/bpf_core_read.h>",
    ]),
    maps: fc.subarray([
      'struct {\n\t__uint(type, BPF_MAP_TYPE_HASH);\n\t__uint(max_entries, 1024);\n\t__type(key, u32);\n\t__type(value, u64);\n} counts SEC(".maps");',
      'struct {\n\t__uint(type, BPF_MAP_TYPE_ARRAY);\n\t__uint(max_entries, 1);\n\t__type(key, u32);\n\t__type(value, u64);\n} arr SEC(".maps");',
    ]),
    progs: fc.subarray(
      [
        'SEC("tracepoint/syscalls/sys_enter_execve")\nint handle_exec(struct trace_event_raw_sys_enter *ctx)\n{\n\tu32 key = 0;\n\tbpf_printk("exec 日本 %d", key);\n\treturn 0;\n}',
        'SEC("kprobe/do_unlinkat")\nint BPF_KPROBE(do_unlinkat, int dfd, struct filename *name)\n{\n\tpid_t pid = bpf_get_current_pid_tgid() >> 32;\n\treturn 0;\n}',
        'SEC("fentry/do_unlinkat")\nint BPF_PROG(fentry_unlink, int dfd, struct filename *name)\n{\n\treturn 0;\n}',
        'SEC("xdp") int xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }',
      ],
      { minLength: 1 },
    ),
    helpers: fc.subarray([
      "static __always_inline int helper(int x) { return x * 2; }",
      "static inline int helper2(int x) { return x + 1; }",
      "static int helper3(int x) { return x - 1; }",
      'const volatile int filter_pid = 0;\nchar comm[16] SEC(".data.comm");',
    ]),
    license: fc.boolean(),
  })
  .map((p) => {
    const fix = (s: string) => s.replace(/\n/g, p.eol).replace(/\t/g, p.indent);
    const parts = [
      ...p.includes.map((i) => `${i}${p.comment}`),
      ...p.maps.map(fix),
      ...p.helpers.map((x) => `${fix(x)}${p.comment}`),
      ...p.progs.map((x) => `${fix(x)}${p.comment}`),
      ...(p.license ? ['char LICENSE[] SEC("license") = "Dual BSD/GPL";'] : []),
    ];
    return parts.join(p.eol) + p.eol;
  });

// --- helpers -------------------------------------------------------------

const newlines = (s: string): number => {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
};

/** The rewriter's output without the type anchors it appends at the end. */
function withoutAnchors(code: string): string {
  const m = /\n(?:[^\n]*__tsbpf_type__[^\n]*section\("\.tsbpf\.types"\), used\)\);\n)+$/.exec(code);
  return m ? code.slice(0, m.index) : code;
}

/** Checks that a CompileError's diagnostics point at a token on a line of `src`, as the message says. */
function checkDiagnostics(err: unknown, src: string, file: string): void {
  if (!(err instanceof CompileError)) return;
  const lines = src.split("\n");
  for (const d of err.diagnostics) {
    expect(d.file === file, () => `diagnostic names ${d.file}, not ${file}`);
    const line = lines[d.line - 1];
    expect(line !== undefined, () => `diagnostic line ${d.line} is past the end (${lines.length} lines)`);
    const chars = [...(line as string)];
    const at = chars[d.column - 1];
    expect(
      at !== undefined && !/\s/.test(at),
      () => `diagnostic ${d.line}:${d.column} does not point at a token (line ${JSON.stringify(line)})`,
    );
    expect(
      err.message.includes(`${file}:${d.line}:${d.column}:`),
      () => `message ${JSON.stringify(err.message)} does not give ${d.line}:${d.column}`,
    );
  }
}

/** Checks the rewriter's output for src: lines kept, programs on their lines, only CompileErrors. */
function checkRewrite(src: string): void {
  const file = "prog.c";
  const r = guarded(src, () => rewriteBcc(src, file), { onTyped: (e) => checkDiagnostics(e, src, file) });
  if (!r) return;
  const body = withoutAnchors(r.code);
  expect(
    newlines(body) === newlines(src),
    () => `the rewrite moved lines: ${newlines(src)} newlines in, ${newlines(body)} out`,
  );
  const nLines = newlines(src) + 1;
  for (const p of r.programs)
    expect(p.line >= 1 && p.line <= nLines, () => `program ${p.name} on line ${p.line} of ${nLines}`);
}

// --- the targets ---------------------------------------------------------

const tokenizerTarget: FuzzTarget = {
  name: "tokenizer",
  covers: "src/compile/tokenizer.ts: tokens cover the text, lines and columns as an editor counts",
  sliceRuns: 150,
  property: () =>
    fc.property(
      fc.oneof(dialectSoup, dialectProgram, fc.string({ unit: "grapheme", maxLength: 80 })),
      (src) => {
        const toks = guarded(src, () => tokenize(src));
        if (!toks) return;
        let pos = 0;
        let line = 1;
        let lineStart = 0;
        for (const t of toks) {
          expect(
            t.start === pos && t.end > t.start,
            () => `token ${JSON.stringify(t)} does not start at ${pos}`,
          );
          expect(t.text === src.slice(t.start, t.end), () => `token text differs at ${t.start}`);
          const column = [...src.slice(lineStart, t.start)].length + 1;
          expect(
            t.line === line && t.column === column,
            () => `token at ${t.start} says ${t.line}:${t.column}, is at ${line}:${column}`,
          );
          for (let k = t.start; k < t.end; k++) {
            if (src[k] === "\n") {
              line++;
              lineStart = k + 1;
            }
          }
          pos = t.end;
        }
        expect(pos === src.length, () => `tokens end at ${pos} of ${src.length}`);
      },
    ),
};

const rewriterTarget: FuzzTarget = {
  name: "rewriter",
  covers:
    "src/compile/rewriter.ts, maps_dialect.ts, printk_check.ts: only CompileError, lines kept, diagnostics on the user's line",
  sliceRuns: 150,
  weight: 3,
  property: () => fc.property(fc.oneof(dialectSoup, dialectProgram), (src) => checkRewrite(src)),
};

const rewriterIdentityTarget: FuzzTarget = {
  name: "rewriter-identity",
  covers: "src/compile/rewriter.ts: libbpf-style C (SEC, BTF-defined maps) comes out byte-identical",
  sliceRuns: 60,
  property: () =>
    fc.property(libbpfProgram, (src) => {
      const r = guarded(src, () => rewriteBcc(src, "prog.c"));
      expect(r !== undefined, () => "the rewriter rejected a libbpf-style program");
      expect(r?.code === src, () => `libbpf-style program changed:\n${JSON.stringify(r?.code)}`);
      for (const p of r?.programs ?? [])
        expect(!p.section.startsWith("tsbpf/"), () => `${p.name} was given a section (${p.section})`);
    }),
};

/** #if expressions: numbers, operators, macros, defined(), parentheses (some deep, some huge). */
const ppExpr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(
      "0",
      "1",
      "0x7fffffffffffffff",
      "18446744073709551615",
      "-1",
      "'a'",
      "'\\n'",
      "FOO",
      "BAR(2)",
      "FN(FOO)",
      "defined(FOO)",
      "defined BAR",
      "MAYBE",
      "UNDEF",
      "1u",
      "077",
      "0b101",
      "LINUX_VERSION_CODE",
      "KERNEL_VERSION(5, 8, 0)",
      "BIG",
      "__has_include(<x.h>)",
    ),
    fc
      .tuple(
        tie("e"),
        fc.constantFrom(
          "+",
          "-",
          "*",
          "/",
          "%",
          "<<",
          ">>",
          "<",
          "<=",
          "==",
          "!=",
          "&",
          "|",
          "^",
          "&&",
          "||",
        ),
        tie("e"),
      )
      .map(([a, op, b]) => `${a} ${op} ${b}`),
    tie("e").map((a) => `(${a})`),
    tie("e").map((a) => `!${a}`),
    tie("e").map((a) => `~${a}`),
    fc.tuple(tie("e"), tie("e"), tie("e")).map(([c, a, b]) => `${c} ? ${a} : ${b}`),
    fc.nat({ max: 20000 }).map((n) => `${"(".repeat(n)}1${")".repeat(n)}`),
    fc.nat({ max: 20000 }).map((n) => `${"!".repeat(n)}1`),
    fc.bigInt({ min: 0n, max: 1n << 70n }).map((n) => `1 << ${n}`),
  ),
})).e;

const conditionalEnv = (): MacroEnv => ({
  macros: new Map([
    ["FOO", { body: "1" }],
    ["BAR", { params: ["x"], body: "((x) + FOO)" }],
    ["FN", { params: ["a"], body: "BAR(a) * BAR(a)" }],
    ["LINUX_VERSION_CODE", { body: "393216" }],
    ["KERNEL_VERSION", { params: ["a", "b", "c"], body: "(((a) << 16) + ((b) << 8) + (c))" }],
    ["BIG", { body: "(0x7fffffffffffffff * 0x7fffffffffffffff)" }],
    ["CAT", { params: ["a", "b"], body: "a##b" }],
  ]),
  unknown: new Set(["MAYBE"]),
});

const conditionalsTarget: FuzzTarget = {
  name: "conditionals",
  covers: "src/compile/conditionals.ts: #if/#elif/#else evaluated or left undecided, lines kept",
  sliceRuns: 100,
  property: () =>
    fc.property(
      fc.array(
        fc.oneof(
          ppExpr.map((e) => `#if ${e}\n`),
          ppExpr.map((e) => `#elif ${e}\n`),
          fc.constantFrom(
            "#else\n",
            "#endif\n",
            "#ifdef FOO\n",
            "#ifndef MAYBE\n",
            "#define FOO 2\n",
            "#undef FOO\n",
          ),
          fc.constantFrom(
            "#define X(a) X(a) + 1\n",
            "#define R R\n",
            "#if R\n",
            "#if X(1)\n",
            "#if CAT(F, OO)\n",
          ),
          cFragment,
        ),
        { maxLength: 20 },
      ),
      fc.constantFrom("\n", "\r\n"),
      (parts, eol) => {
        const src = parts.join("").replace(/\n/g, eol);
        const r = guarded(src, () => resolveConditionals(src, conditionalEnv()));
        if (!r) return;
        expect(newlines(r.text) === newlines(src), () => "resolveConditionals moved lines");
      },
    ),
};

const macrosTarget: FuzzTarget = {
  name: "macros",
  covers: "src/compile/macros.ts: #define tables parse, close over their uses and print back",
  sliceRuns: 100,
  property: () =>
    fc.property(fc.array(cFragment, { maxLength: 40 }), (parts) => {
      const src = parts.join("");
      const defs = guarded(src, () => parseDefines(src, "fuzz.h"));
      if (!defs) return;
      const table = new Map(defs.map((d) => [d.name, d]));
      const closed = guarded(src, () => macroClosure(table, table.keys()));
      const text = guarded(src, () => emitMacros(closed ?? []));
      const again = guarded(text, () => parseDefines(text ?? "", "again.h"));
      expect(
        (again ?? []).length === (closed ?? []).length,
        () => `emitMacros→parseDefines: ${closed?.length} macros became ${again?.length}`,
      );
    }),
};

const mapMacrosTarget: FuzzTarget = {
  name: "map-macros",
  covers: "src/compile/maps_dialect.ts: every BPF_* map macro and method with any arguments",
  sliceRuns: 100,
  property: () => {
    const arg = fc.oneof(
      fc.constantFrom(
        "u32",
        "u64",
        "struct key_t",
        "16",
        "0",
        "-1",
        '"hash"',
        '"array"',
        '"nosuch"',
        "",
        "name",
        "1024",
        "BPF_F_NO_PREALLOC",
        "4294967296",
        "char[16]",
      ),
      fc.string({ maxLength: 6 }),
    );
    return fc.property(
      fc.constantFrom(...Object.keys(MAP_MACROS)),
      fc.array(arg, { maxLength: 7 }),
      fc.array(arg, { maxLength: 5 }),
      fc.nat(),
      (macro, args, callArgs, pick) => {
        const input = { macro, args, callArgs, pick };
        const built = guarded(input, () => (MAP_MACROS[macro] as (a: string[]) => unknown)(args));
        if (!built || typeof built === "string") return;
        const decl = built as Parameters<typeof mapDefinition>[0];
        guarded(input, () => mapDefinition(decl, new Map([[decl.name, decl]])));
        const methods = methodsOf(decl.mapType);
        const method = methods[pick % Math.max(1, methods.length)] ?? "lookup";
        guarded(input, () => methodCall(decl, method, callArgs, () => 0));
      },
    );
  },
};

const printkTarget: FuzzTarget = {
  name: "printk-check",
  covers: "src/compile/printk_check.ts: bpf_trace_printk format checks and C string literal decoding",
  sliceRuns: 100,
  property: () =>
    fc.property(
      fc.array(
        fc.oneof(
          fc.constantFrom(
            "%d",
            "%s",
            "%llu",
            "%-5.3lx",
            "%p",
            "%pK",
            "%%",
            "%",
            "\\n",
            "\\x4",
            "\\777",
            "\\",
            '\\"',
            "日本",
            "%*d",
            "%.*s",
          ),
          fc.string({ maxLength: 4 }),
        ),
        { maxLength: 12 },
      ),
      fc.nat({ max: 5 }),
      (parts, n) => {
        const lit = `"${parts.join("")}"`;
        const fmt = guarded(lit, () => decodeCStringLiteral(lit));
        if (fmt !== undefined) guarded(lit, () => checkTracePrintk(fmt, n));
      },
    ),
};

const implicitReadsTarget: FuzzTarget = {
  name: "implicit-reads-text",
  covers: "src/compile/implicit_reads/: the text side (defined functions, the pre-check, clang filters)",
  sliceRuns: 60,
  property: () =>
    fc.property(
      fc.oneof(dialectSoup, dialectProgram),
      fc.array(fc.stringMatching(/^[a-z_][a-z0-9_]{0,40}$/), { maxLength: 60 }),
      (src, extraNames) => {
        const names = guarded(src, () => definedFunctions(src)) ?? [];
        const programs: ProgramInfo[] = names.map((name) => ({
          name,
          line: 1,
          declaredArgs: name.includes("k") ? ["a"] : [],
          autoAttach: undefined,
          variants: {},
          section: `tsbpf/${name}`,
        }));
        guarded(src, () => needsImplicitReads(src, programs));
        const all = [...names, ...extraNames];
        const filters = guarded(all, () => filtersFor(all)) ?? [];
        for (const n of all)
          expect(
            filters.some((f) => n.includes(f)),
            () => `filtersFor(${JSON.stringify(all)}) = ${JSON.stringify(filters)} misses ${n}`,
          );
      },
    ),
};

/** A user source line with multi-byte text and clang's byte column of a token on it. */
const diagnosticsTarget: FuzzTarget = {
  name: "clang-diagnostics",
  covers: "src/compile/clang.ts, offsets.ts: clang's byte columns map to the user's character columns",
  sliceRuns: 100,
  property: () =>
    fc.property(
      fc.array(
        fc.oneof(
          fc.constantFrom("日本", "😀", "é", "\t", " ", "x", "/* コメント */", '"文字"', "\r"),
          fc.string({ unit: "grapheme", maxLength: 3 }),
        ),
        {
          maxLength: 12,
        },
      ),
      fc.nat({ max: 5 }),
      fc.constantFrom("\n", "\r\n"),
      (before, lineNo, eol) => {
        const prefix = before.join("").replace(/[\r\n]/g, " ");
        const line = `${prefix}TOKEN rest`;
        const src = [...Array(lineNo).fill("int a; // 前"), line, "}"].join(eol);
        const byteCol = Buffer.byteLength(prefix) + 1;
        const stderr = `prog.c:${lineNo + 1}:${byteCol}: error: use of undeclared identifier 'TOKEN'\n`;
        const d = guarded(src, () => parseDiagnostics(stderr, "prog.c", "user.c", src));
        const want = [...prefix].length + 1;
        expect(d?.[0]?.column === want, () => `column ${d?.[0]?.column}, want ${want}`);
        expect(
          d?.[0]?.line === lineNo + 1 && d?.[0]?.file === "user.c",
          () => `bad line/file ${JSON.stringify(d)}`,
        );
      },
    ),
};

// tracefs formats

const TP_FORMAT = [
  "name: sys_enter_openat",
  "ID: 639",
  "format:",
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
  "",
  "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;",
  "\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;",
  "\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;",
  "\tfield:__data_loc char[] name;\toffset:32;\tsize:4;\tsigned:1;",
  "\tfield:__rel_loc u8[] buf;\toffset:36;\tsize:4;\tsigned:0;",
  "\tfield:char comm[16];\toffset:40;\tsize:16;\tsigned:1;",
  "\tfield:u32 matrix[2][3];\toffset:56;\tsize:24;\tsigned:0;",
  "\tfield special:struct list_head list;\toffset:80;\tsize:16;",
  "",
  'print fmt: "dfd: 0x%08lx, filename: 0x%08lx", ((unsigned long)(REC->dfd)), ((unsigned long)(REC->filename))',
];

const tpLineMutation = fc.oneof(
  fc.constant("drop"),
  fc.constant("dup"),
  fc.constant("crlf"),
  fc.constant("swap"),
  fc.tuple(fc.constant("insert"), fc.string({ unit: "grapheme", maxLength: 8 })),
  fc.tuple(
    fc.constant("replace"),
    fc.constantFrom(
      "offset:-1;",
      "offset:99999999999999999999;",
      "size:0;",
      "signed:2;",
      "field:;",
      "field:int;",
      "field:char x[;",
      "field:__data_loc x;",
      "field:__data_loc char[] ;",
      "name:",
      "ID: x",
      "ID: 99999999999999999999999",
      "[",
      "]",
      "field:int a[99999999999999];",
      "field:struct { int a; } s;",
      "名前",
    ),
  ),
);

const tpFormatTarget: FuzzTarget = {
  name: "tp-format",
  covers:
    "src/compile/tp_format.ts: tracefs format files, mutated line by line, and the C struct made of them",
  sliceRuns: 100,
  property: () =>
    fc.property(fc.array(fc.tuple(fc.nat(), tpLineMutation), { maxLength: 6 }), fc.nat(), (muts, cut) => {
      const lines = [...TP_FORMAT];
      for (const [at, m] of muts) {
        const i = at % lines.length;
        if (m === "drop") lines.splice(i, 1);
        else if (m === "dup") lines.splice(i, 0, lines[i] ?? "");
        else if (m === "crlf") lines[i] = `${lines[i]}\r`;
        else if (m === "swap") lines.splice(i, 2, lines[i + 1] ?? "", lines[i] ?? "");
        else if (m[0] === "insert") {
          const l = lines[i] ?? "";
          const p = at % (l.length + 1);
          lines[i] = l.slice(0, p) + m[1] + l.slice(p);
        } else {
          const l = lines[i] ?? "";
          const key = /^\s*(\w+)/.exec(m[1])?.[1] ?? "";
          lines[i] = key && l.includes(key) ? l.replace(new RegExp(`${key}[^;]*;`), m[1]) : m[1];
        }
        if (lines.length === 0) break;
      }
      let text = lines.join("\n");
      if (cut % 7 === 0) text = text.slice(0, cut % (text.length + 1));
      const fmt = guarded(text, () => parseTpFormat(text));
      if (!fmt) return;
      const struct = guarded(text, () => tpArgsStruct("syscalls", "sys_enter_openat", fmt));
      if (struct !== undefined) {
        const open = struct.split("{").length;
        expect(open === struct.split("}").length, () => `unbalanced struct:\n${struct}`);
      }
    }),
};

// trace_pipe lines

const taskName = fc
  .stringMatching(/^[A-Za-z0-9_/:.()<> -]{1,15}$/)
  .filter((t) => !/-\d+\s/.test(t) && t.trim() === t && t !== "");
const traceLine = fc.record({
  task: fc.oneof(taskName, fc.constant("<...>"), fc.constant("kworker/u8:2-events")),
  pid: fc.nat({ max: 4194304 }),
  tgid: fc.option(fc.oneof(fc.nat({ max: 4194304 }), fc.constant(-1)), { nil: undefined }),
  cpu: fc.nat({ max: 511 }),
  flags: fc.constantFrom("", "d..31", "....", "d.h1.", "b..5."),
  ts: fc
    .tuple(fc.nat({ max: 999999 }), fc.nat({ max: 999999 }))
    .map(([s, us]) => `${s}.${String(us).padStart(6, "0")}`),
  event: fc.constantFrom("bpf_trace_printk", "0", "sched_switch", "0xffffffffc0a01234"),
  msg: fc.string({ unit: "grapheme", maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, " ")),
  eol: fc.constantFrom("", "\n", "\r\n"),
  pad: fc.constantFrom(" ", "  ", "            "),
});

const traceLineTarget: FuzzTarget = {
  name: "trace-line",
  covers: "src/kernel/trace_line.ts: trace_pipe lines of every kernel's layout parse back to their fields",
  sliceRuns: 150,
  property: () =>
    fc.property(traceLine, (l) => {
      const tgid = l.tgid === undefined ? "" : `(${l.tgid < 0 ? "-------" : String(l.tgid).padStart(7)}) `;
      const text = `${l.pad}${l.task}-${l.pid}     ${tgid}[${String(l.cpu).padStart(3, "0")}] ${l.flags ? `${l.flags} ` : ""}${l.ts}: ${l.event}: ${l.msg}${l.eol}`;
      const r = guarded(text, () => parseTraceLine(text));
      expect(
        r !== null && r !== undefined && !isLostEvents(r),
        () => `did not parse ${JSON.stringify(text)}`,
      );
      const t = r as TraceLine;
      expect(
        t.task === l.task &&
          t.pid === l.pid &&
          t.cpu === l.cpu &&
          t.flags === l.flags &&
          t.event === l.event &&
          t.msg === l.msg,
        () => `parsed ${JSON.stringify(text)} as ${JSON.stringify(t)}`,
      );
      expect(
        t.tgid === (l.tgid === undefined || l.tgid < 0 ? undefined : l.tgid),
        () => `tgid ${t.tgid} of ${JSON.stringify(text)}`,
      );
      expect(t.ts === Number(l.ts), () => `ts ${t.ts} of ${JSON.stringify(text)}`);
    }),
};

const traceLineJunkTarget: FuzzTarget = {
  name: "trace-line-junk",
  covers: "src/kernel/trace_line.ts: any text, and formatTraceFields with any format",
  sliceRuns: 150,
  property: () => {
    const piece = fc.oneof(
      fc.constantFrom(
        "-",
        "[",
        "]",
        "(",
        ")",
        ":",
        " ",
        "123",
        "CPU:",
        "[LOST ",
        "EVENTS]",
        "{",
        "}",
        "{0}",
        "{task!r:>20}",
        "{ts:.3f}",
        "{:,}",
        "{pid:#x}",
        "{msg:^{}}",
        "{5",
        "{6}",
        "{ts:%}",
        "{cpu:c}",
        "{pid:99999999999}",
      ),
      fc.string({ unit: "grapheme", maxLength: 4 }),
    );
    const text = fc.array(piece, { maxLength: 25 }).map((a) => a.join(""));
    return fc.property(text, text, (line, fmt) => {
      const r = guarded(line, () => parseTraceLine(line));
      if (r && !isLostEvents(r)) {
        expect(
          Number.isFinite(r.pid) && Number.isFinite(r.cpu) && Number.isFinite(r.ts),
          () => `non-finite field in ${JSON.stringify(r)}`,
        );
        guarded({ line, fmt }, () => formatTraceFields(r, fmt), {
          allowed: documented("formatTraceFields:", Error, RangeError),
        });
      }
    });
  },
};

// printf

const printfFormat = fc
  .array(
    fc.oneof(
      fc
        .record({
          flags: fc.constantFrom("", "-", "0", "+", " ", "#", "-0+ #", "00"),
          width: fc.constantFrom("", "1", "5", "*", "20", "999999999", "99999999999999999999", "536870912"),
          prec: fc.constantFrom("", ".", ".0", ".3", ".*", ".20", ".999999999", ".400"),
          len: fc.constantFrom("", "h", "hh", "l", "ll", "L", "q", "j", "z", "Z", "t"),
          conv: fc.constantFrom(..."diouxXeEfFgGcsp%".split(""), "y", "", "n", "a"),
        })
        .map((s) => `%${s.flags}${s.width}${s.prec}${s.len}${s.conv}`),
      fc.string({ unit: "grapheme", maxLength: 5 }),
    ),
    { maxLength: 6 },
  )
  .map((a) => a.join(""));

const printfArg = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }),
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.boolean(),
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -0,
    1e308,
    5e-324,
    2 ** 53,
    0x110000,
    -1,
    null,
    undefined,
    999999999,
    536870912,
  ),
);

const printfTarget: FuzzTarget = {
  name: "printf",
  covers: "src/format/printf.ts: any format with any arguments (documented errors only: sprintf: ...)",
  sliceRuns: 200,
  property: () =>
    fc.property(printfFormat, fc.array(printfArg, { maxLength: 8 }), (fmt, args) => {
      const out = guarded({ fmt, args }, () => sprintf(fmt, ...args), {
        allowed: documented("sprintf:", Error, RangeError, TypeError),
      });
      expect(out === undefined || typeof out === "string", () => "sprintf returned a non-string");
    }),
};

// binary readers

const elfTarget: FuzzTarget = {
  name: "elf",
  covers:
    "src/elf/elf.ts, compile/elf_programs.ts: /bin/ls, a .bpf.o and libstdc++ (USDT notes), truncated and bit-flipped",
  sliceRuns: 60,
  weight: 2,
  property: () => {
    const seeds = elfSeeds();
    return fc.property(
      mutations(seeds.length),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      (m: Mutation, addr) => {
        const { bytes } = mutate(seeds, m);
        guarded(m, () => {
          const elf = readElf(bytes, "fuzz.elf");
          for (const n of elf.usdt) for (const spec of n.args.trim().split(/\s+/)) parseUsdtArgument(spec);
          const syms = readElfSymbols(bytes, elf);
          const index = new FunctionIndex(syms);
          index.lookup(addr);
          for (const s of syms.slice(0, 20)) index.lookup(s.value);
          addrToFileOffset(elf, addr);
          elfPrograms(bytes);
        });
      },
    );
  },
};

/** The same mutations read from a file (the reader's other source, fd-based). */
const elfFileTarget: FuzzTarget = {
  name: "elf-file",
  covers: "src/elf/elf.ts: the fd-based reader on mutated files",
  sliceRuns: 30,
  property: () => {
    const seeds = elfSeeds();
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-fuzz-elf-"));
    leftovers.add(dir);
    const path = join(dir, "mutated");
    return fc.property(mutations(seeds.length), (m: Mutation) => {
      const { bytes } = mutate(seeds, m);
      writeFileSync(path, bytes);
      guarded(m, () => {
        const elf = readElf(path);
        readElfSymbols(path, elf);
      });
    });
  },
};

const btfTarget: FuzzTarget = {
  name: "btf",
  covers: "src/btf/btf.ts, codec.ts: a .bpf.o's .BTF and a slice of vmlinux BTF, truncated and bit-flipped",
  sliceRuns: 60,
  weight: 2,
  property: () => {
    const seeds = btfSeeds();
    return fc.property(mutations(seeds.length), fc.nat(), (m: Mutation, pick) => {
      const { bytes } = mutate(seeds, m);
      const btf = guarded(m, () => Btf.parse(bytes));
      if (!btf) return;
      guarded(m, () => {
        for (const name of ["task_struct", "counts", "event"]) btf.findByName(name);
      });
      const n = btf.count;
      for (let k = 0; k < Math.min(n, 40); k++) {
        const id = (pick + k * 7919) % n;
        guarded({ m, id }, () => btf.cName(id));
        guarded({ m, id }, () => btf.sizeOf(id));
        guarded({ m, id }, () => btf.alignOf(id));
        guarded({ m, id }, () => {
          const codec = codecFor(btf, id);
          if (codec.size <= 1 << 16) decodeFromBytes(codec, new Uint8Array(codec.size));
        });
      }
    });
  },
};

/** A perf map line, and whether it is well formed (then it must give an entry). */
const perfMapLine: fc.Arbitrary<{ text: string; ok: boolean }> = fc.oneof(
  fc
    .tuple(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.bigInt({ min: 0n, max: 1n << 32n }),
      fc.oneof(
        fc.string({ unit: "grapheme", maxLength: 20 }),
        fc.constantFrom("JS:*g\u2028x", "LazyCompile:~f /a b.js:1"),
      ),
      fc.boolean(),
    )
    .map(([a, s, n, ox]) => ({
      text: `${ox ? "0x" : ""}${a.toString(16)} ${ox ? "0x" : ""}${s.toString(16)} ${n}`,
      ok: !/[\r\n]/.test(n),
    })),
  fc
    .constantFrom(
      "",
      "zz 10 x",
      "ffff800000001000 10 LazyCompile:~f /x.js:1",
      "ffff800000001000\t20\tJS:*g",
      "ffff80000000100",
      "ffff800000001000 -1 neg",
      "0x 0x name",
      "ffff800000001000 10",
    )
    .map((text) => ({ text, ok: false })),
  fc.string({ unit: "grapheme", maxLength: 20 }).map((text) => ({ text, ok: false })),
);

const perfMapTarget: FuzzTarget = {
  name: "perf-map",
  covers:
    "src/elf/procmaps.ts: perf-PID.map text (parsed, and looked up through a real file) and /proc/PID/maps text",
  sliceRuns: 40,
  property: () => {
    const path = `/tmp/perf-${process.pid}.map`;
    leftovers.add(path);
    return fc.property(
      fc.array(perfMapLine, { maxLength: 30 }),
      fc.constantFrom("\n", "\r\n"),
      fc.array(fc.bigInt({ min: 0xffff800000000000n, max: 0xffff800000002000n }), { maxLength: 4 }),
      (lines, eol, addrs) => {
        const text = lines.map((l) => l.text).join(eol);
        const entries = guarded(text, () => parsePerfMap(text)) ?? [];
        for (const e of entries) expect(e.start <= e.end, () => `entry ${e.name} ends before it starts`);
        const want = lines.filter((l) => l.ok).length;
        expect(entries.length >= want, () => `${want} well-formed lines gave ${entries.length} entries`);
        writeFileSync(path, text);
        const ps = new ProcessSymbols(process.pid);
        for (const a of addrs) {
          const r = guarded({ text, a }, () => ps.lookup(a));
          expect(r === undefined || r.name === undefined || typeof r.name === "string", () => "bad lookup");
        }
        guarded(text, () => parseProcMaps(text));
      },
    );
  },
};

// USDT

const usdtSpec = fc.oneof(
  fc
    .record({
      size: fc.constantFrom("", "1@", "-1@", "2@", "-4@", "8@", "-8@", "16@", "0@", "99999999999999999999@"),
      loc: fc.oneof(
        fc.constantFrom(
          "%rdi",
          "%eax",
          "$0",
          "$-1",
          "$0x10",
          "$-0x10",
          "$99999999999999999999999",
          "-0x18(%rbp)",
          "0x18(%rbp)",
          "-24(%rbp)",
          "(%rax)",
          "8(%rax,%rbx,4)",
          "(%rax,%rbx)",
          "[sp, 16]",
          "[sp, -16]",
          "[x1]",
          "x0",
          "w3",
          "sp",
          "%",
          "()",
          "$",
          "$0x",
          "[",
          "-0x(%rbp)",
          "99999999999999999999(%rax)",
        ),
        fc.stringMatching(/^[-$%()x0-9a-fA-F,[\] @]{0,14}$/),
      ),
    })
    .map((r) => `${r.size}${r.loc}`),
  fc.string({ unit: "grapheme", maxLength: 12 }),
);

const usdtTarget: FuzzTarget = {
  name: "usdt-args",
  covers: "src/attach/usdt.ts: SystemTap argument specs (x86-64 and aarch64)",
  sliceRuns: 200,
  property: () =>
    fc.property(usdtSpec, (spec) => {
      const a = guarded(spec, () => parseUsdtArgument(spec));
      if (!a) return;
      expect([1, 2, 4, 8].includes(a.size), () => `size ${a.size} of ${spec}`);
      if (a.offset !== undefined)
        expect(Number.isSafeInteger(a.offset), () => `offset ${a.offset} of ${spec}`);
      if (a.scale !== undefined) expect(Number.isSafeInteger(a.scale), () => `scale ${a.scale} of ${spec}`);
    }),
};

// the tools' probe languages

const specPiece = fc.oneof(
  fc.constantFrom(
    "p",
    "r",
    "t",
    "u",
    ":",
    "::",
    "c",
    "malloc",
    "do_sys_open",
    "(",
    ")",
    "size_t size",
    "int fd, char *buf",
    "char *",
    "u64",
    ",",
    "size",
    "$retval",
    "$latency",
    "$entry(size)",
    "arg1",
    "==",
    "&&",
    '"str"',
    "'c'",
    '"unterminated',
    "%d",
    "%s",
    "%llx",
    "%K",
    "%-10.3s",
    "%",
    "#",
    "+0x10",
    "+99999999999999999999",
    "sched:sched_switch",
    "args->prev_pid",
    'STRCMP("a", arg1)',
    " ",
    "\\",
    "*",
    "[",
    "]",
    "{",
    "}",
    "日本",
  ),
  fc.string({ unit: "grapheme", maxLength: 4 }),
);
const specText = fc.array(specPiece, { maxLength: 16 }).map((a) => a.join(""));

const toolSpecTarget: FuzzTarget = {
  name: "tool-specs",
  covers:
    "tools/lib: argdist, trace and funccount/stackcount probe specifiers, and the C generated from them",
  sliceRuns: 200,
  weight: 2,
  property: () =>
    fc.property(
      specText,
      fc.constantFrom("freq" as const, "hist" as const),
      fc.boolean(),
      (raw, kind, regex) => {
        const a = guarded(raw, () => parseSpec(raw, kind));
        if (a) guarded(raw, () => argdistProgram([a], { stringSize: 80, includes: [], cgroup: false }));
        const p = guarded(raw, () => parseProbe(raw));
        if (p)
          guarded(raw, () =>
            traceProgram([p], {
              stringSize: 80,
              cgroup: false,
              kernelStack: false,
              userStack: false,
              includes: [],
              binCmp: false,
              ringPages: 64,
            } as Parameters<typeof traceProgram>[1]),
          );
        guarded(raw, () => splitTopLevel(raw));
        guarded(raw, () => parseFormat(raw, raw));
        guarded(raw, () => parsePattern(raw, regex));
      },
    ),
};

/** Every target, in the order the runner takes them. */
export const targets: FuzzTarget[] = [
  tokenizerTarget,
  rewriterTarget,
  rewriterIdentityTarget,
  conditionalsTarget,
  macrosTarget,
  mapMacrosTarget,
  printkTarget,
  implicitReadsTarget,
  diagnosticsTarget,
  tpFormatTarget,
  traceLineTarget,
  traceLineJunkTarget,
  printfTarget,
  elfTarget,
  elfFileTarget,
  btfTarget,
  perfMapTarget,
  usdtTarget,
  toolSpecTarget,
];
