/**
 * trace's probe grammar (bcc's trace): the specifier, signature, filter,
 * format and arguments of probes as bcc's man page writes them, the C the
 * codegen makes of bcc's aliases, the message formatting, and the errors.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../tools/lib/args.js";
import { functionName, generateProgram, HEADER, recordLayout } from "../../tools/lib/trace_codegen.js";
import { parseProbe, splitTopLevel } from "../../tools/lib/trace_spec.js";
import { formatMessage } from "../../tools/trace.js";

const pick = (raw: string) => {
  const p = parseProbe(raw);
  return {
    type: p.type,
    library: p.library,
    function: p.function,
    offset: p.offset,
    signature: p.signature,
    filter: p.filter,
    format: p.format,
    args: p.args,
  };
};

const GEN = {
  stringSize: 80,
  cgroup: false,
  kernelStack: false,
  userStack: false,
  includes: [],
  binCmp: false,
  ringPages: 64,
};

describe("trace probe specifiers", () => {
  it("a bare function is p::func, lib:func is p:lib:func", () => {
    assert.deepEqual(pick("do_sys_open"), {
      type: "p",
      library: "",
      function: "do_sys_open",
      offset: 0,
      signature: undefined,
      filter: undefined,
      format: "",
      args: [],
    });
    assert.deepEqual(
      { ...pick("c:malloc"), format: undefined },
      { ...pick("p:c:malloc"), format: undefined },
    );
    assert.equal(parseProbe("c:malloc").library, "c");
    assert.equal(parseProbe("::do_sys_open").type, "p");
    assert.equal(parseProbe("r::do_sys_open").type, "r");
  });

  it("offsets in decimal and hexadecimal", () => {
    assert.equal(parseProbe("kfree_skb+0x12").offset, 0x12);
    assert.equal(parseProbe("p::kfree_skb+56").function, "kfree_skb");
    assert.equal(parseProbe("p::kfree_skb+56").offset, 56);
    assert.throws(() => parseProbe("kfree_skb+zz"), /invalid offset format 'zz'/);
    assert.throws(() => parseProbe("r::kfree_skb+4"), /return probe cannot have an offset/);
  });

  it("a filter, a format and its arguments", () => {
    assert.deepEqual(pick('sys_read (arg3 > 20000) "read %d bytes", arg3'), {
      type: "p",
      library: "",
      function: "sys_read",
      offset: 0,
      signature: undefined,
      filter: "arg3 > 20000",
      format: "read %d bytes",
      args: ["arg3"],
    });
    const w = parseProbe('p:c:write (arg1 == 1) "writing %d bytes to STDOUT", arg3');
    assert.deepEqual([w.library, w.function, w.filter, w.args], ["c", "write", "arg1 == 1", ["arg3"]]);
    const r = parseProbe('r::__kmalloc (retval == 0) "kmalloc failed!"');
    assert.deepEqual([r.type, r.filter, r.format, r.args], ["r", "retval == 0", "kmalloc failed!", []]);
    const o = parseProbe('c:open (arg2 == 42) "%s %d", arg1, arg2');
    assert.deepEqual(
      o.specs.map((s) => [s.conv, s.ctype]),
      [
        ["s", "char *"],
        ["d", "int"],
      ],
    );
  });

  it("a signature names the arguments; nested parentheses in the filter", () => {
    const m = parseProbe('p:c:malloc(size_t size) (size > 1000) "%d", size');
    assert.deepEqual([m.signature, m.filter, m.args], ["size_t size", "size > 1000", ["size"]]);
    const n = parseProbe('p::SyS_nanosleep(struct timespec *ts) "sleep for %lld ns", ts->tv_nsec');
    assert.deepEqual(
      [n.function, n.signature, n.filter, n.args],
      ["SyS_nanosleep", "struct timespec *ts", undefined, ["ts->tv_nsec"]],
    );
    assert.equal(n.specs[0]?.ctype, "long long");
    const f = parseProbe('c:open ((arg2 & (1 | 2)) != 0 && STRCMP("a)b", arg1)) "%s", arg1');
    assert.equal(f.filter, '(arg2 & (1 | 2)) != 0 && STRCMP("a)b", arg1)');
  });

  it("tracepoints and USDT probes", () => {
    const t = parseProbe('t:block:block_rq_complete "sectors=%d", args->nr_sector');
    assert.deepEqual(
      [t.type, t.category, t.function, t.args],
      ["t", "block", "block_rq_complete", ["args->nr_sector"]],
    );
    const u = parseProbe("u:pthread:pthread_create (arg4 != 0)");
    assert.deepEqual(
      [u.type, u.library, u.provider, u.function, u.filter],
      ["u", "pthread", undefined, "pthread_create", "arg4 != 0"],
    );
    const up = parseProbe("u:pthread:libpthread:pthread_create (arg4 != 0)");
    assert.deepEqual([up.library, up.provider, up.function], ["pthread", "libpthread", "pthread_create"]);
  });

  it("arguments split at top-level commas only", () => {
    assert.deepEqual(splitTopLevel('a, f(b, c), "x,y", s[1,2]'), ["a", "f(b, c)", '"x,y"', "s[1,2]"]);
    const p = parseProbe('c:write "%d %d", max(arg1, 2), arg3');
    assert.deepEqual(p.args, ["max(arg1, 2)", "arg3"]);
  });

  it("format conversions: lengths, %%, escapes", () => {
    const p = parseProbe(
      'p:c:f "%%%lld %llu %hd %hu %x %lx %c %K %U %-5d|\\t", a, b, c, d, e, f, g, h, i, j',
    );
    assert.deepEqual(
      p.specs.map((s) => `${s.conv}${s.bits}`),
      ["d64", "u64", "d16", "u16", "x32", "x64", "c8", "K64", "U64", "d32"],
    );
    assert.equal(p.specs[9]?.flags, "-5");
    assert.equal(p.pieces[0], "%");
    assert.equal(p.pieces.at(-1), "|\t");
  });

  it("errors are UsageErrors that say what is wrong", () => {
    const bad: Array<[string, RegExp]> = [
      ["q:c:malloc", /probe type must be '', 'p', 't', 'r', or 'u', but got 'q'/],
      ['c:malloc (arg1 > 5 "%d", arg1', /unmatched end of predicate/],
      ["p:c:malloc(size_t size", /unmatched \( in the function signature/],
      ['c:malloc "%d %d", arg1', /the format has 2 placeholders but 1 argument follows it/],
      ['c:malloc "%d", arg1, arg2', /the format has 1 placeholder but 2 arguments follow it/],
      ['c:malloc "size = %d, arg1', /closing " is missing/],
      ['c:malloc "%q", arg1', /unrecognized format specifier %q/],
      ["c:malloc arg1", /expected a filter in \(…\) or a format string/],
      ['c:malloc "%d" arg1', /expected "," and arguments after the format string/],
      ['c:malloc "%d", (arg1))', /unbalanced parentheses in '\(arg1\)\)'/],
      ['c:malloc "%d",', /an empty argument/],
      ["t:sched:", /a tracepoint is t:category:event/],
      ["t:sched:sched_switch(int x)", /can't have a function signature/],
      ["u:pthread:", /USDT probe is u:library:probe/],
      ['c:malloc "%d", retval', /retval is only known in a return probe/],
      ["c:malloc ()", /empty filter/],
    ];
    for (const [raw, re] of bad) {
      assert.throws(
        () => parseProbe(raw),
        (e: unknown) => e instanceof UsageError && re.test(e.message) && e.message.includes(`'${raw}'`),
        raw,
      );
    }
  });
});

describe("trace codegen", () => {
  it("bcc's aliases become C: argN, retval, $pid…, a syscall wrapper's arguments", () => {
    const probes = [
      parseProbe('p:c:write (arg1 == 1 && $uid == 0) "%d %u", arg3, $tgid'),
      parseProbe('r:c:malloc (retval != 0) "%llx", retval'),
      parseProbe('p::__x64_sys_openat "%s", arg2'),
    ];
    const { text, layouts } = generateProgram(probes, { ...GEN, pid: 42 });
    assert.match(
      text,
      /if \(!\(\(\(u64\)PT_REGS_PARM1\(ctx\)\) == 1 && \(\(u32\)\(bpf_get_current_uid_gid\(\) & 0xffffffff\)\) == 0\)\) return 0;/,
    );
    assert.match(text, /__data->v0 = \(u64\)\(int\)\(\(\(u64\)PT_REGS_PARM3\(ctx\)\)\);/);
    assert.match(text, /__data->v0 = \(u64\)\(unsigned long long\)\(PT_REGS_RC\(ctx\)\);/);
    assert.match(text, /__TSBPF_SYSCALL_ARG2\(ctx\)/);
    assert.match(text, /if \(__tgid != 42\) return 0;/);
    assert.deepEqual(
      layouts.map((l) => l.fnName),
      ["probe_write_1", "probe_malloc_2", "syscall____x64_sys_openat_3"],
    );
    // a string of a user probe is read from user memory; of a kernel probe, kernel then user
    assert.match(
      text,
      /bpf_probe_read_kernel_str\(__data->v0, sizeof\(__data->v0\), __p\) < 0\) bpf_probe_read_user_str/,
    );
  });

  it("tracepoints: args->field, their own function names; argN is refused", () => {
    const { text } = generateProgram([parseProbe('t:sched:sched_switch "%s", args->next_comm')], GEN);
    assert.match(text, /int probe_sched_switch_1\(struct tracepoint__sched__sched_switch \*args\)/);
    assert.throws(
      () => generateProgram([parseProbe('t:sched:sched_switch "%d", arg1')], GEN),
      /a tracepoint has no arg1; use its fields, args->name/,
    );
  });

  it("STRCMP: the literal with its terminator; -B without; literals are not rewritten", () => {
    const p = parseProbe('c:open (STRCMP("arg1", arg1)) "%s", "arg2"');
    const { text } = generateProgram([p], GEN);
    assert.match(text, /const char needle\[5\] = \{97, 114, 103, 49, 0\};/);
    assert.match(text, /streq_0\(\(unsigned long\)\(\(\(u64\)PT_REGS_PARM1\(ctx\)\)\)\)/);
    assert.ok(text.includes(`(unsigned long)("arg2")`), text);
    const b = generateProgram([parseProbe('c:f (STRCMP("\\x01\\x00", arg1))')], { ...GEN, binCmp: true });
    assert.match(b.text, /const char needle\[2\] = \{1, 0\};/);
    assert.throws(
      () => generateProgram([parseProbe("c:f (STRCMP(arg1, arg2))")], GEN),
      /STRCMP takes a quoted string/,
    );
    assert.throws(() => generateProgram([parseProbe("c:f ($foo)")], GEN), /unknown \$foo/);
  });

  it("USDT arguments are read into locals of the probe's types", () => {
    const { text } = generateProgram([parseProbe('u:/bin/x:tick (arg1 > 3) "%d", arg2')], {
      ...GEN,
      usdtArgType: (_i, n) => (n === 1 ? "int32_t" : "int64_t"),
    });
    assert.match(text, /int32_t __usdt_arg1 = 0;\n {2}bpf_usdt_readarg\(1, ctx, &__usdt_arg1\);/);
    assert.match(text, /int64_t __usdt_arg2 = 0;/);
    assert.match(text, /if \(!\(__usdt_arg1 > 3\)\) return 0;/);
  });

  it("record layout: a 56-byte header, 8 bytes a number, the string size rounded up", () => {
    const p = parseProbe('c:f "%d %s %c", a, b, c');
    assert.deepEqual(recordLayout(p, functionName(p, 0), 20), {
      fnName: "probe_f_1",
      offsets: [HEADER.size, HEADER.size + 8, HEADER.size + 8 + 24],
      size: HEADER.size + 8 + 24 + 8,
    });
  });
});

describe("trace messages", () => {
  it("Python's % formatting of bcc's conversions, with the C types' widths", () => {
    const p = parseProbe('c:f "%d|%u|%x|%X|%c|%s|%5d|%-4u|%03d|%hd|%lld", a, b, c, d, e, f, g, h, i, j, k');
    const msg = formatMessage(p.pieces, [
      0xffffffffn,
      0xffffffffn,
      255n,
      255n,
      65n,
      "str",
      42n,
      7n,
      5n,
      0x18000n,
      -1n & 0xffffffffffffffffn,
    ]);
    assert.equal(msg, "-1|4294967295|ff|FF|A|str|   42|7   |005|-32768|-1");
  });

  it("%K and %U through the symbolizer", () => {
    const p = parseProbe('c:f "%K %U", a, b');
    assert.equal(
      formatMessage(p.pieces, [0x10n, 0x20n], (c, a) => `${c}:${a}`),
      "K:16 U:32",
    );
  });
});
