import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkTracePrintk,
  decodeCStringLiteral,
  TRACE_PRINTK_MAX_ARGS,
} from "../../src/compile/printk_check.js";
import { BpfError } from "../../src/kernel/errors.js";

describe("checkTracePrintk: accepted formats", () => {
  const ok: [string, number][] = [
    ["Hello, World!\\n", 0],
    ["hello\n", 0],
    ["", 0],
    ["pid %d\n", 1],
    ["%d %i %u\n", 3],
    ["%x %X", 2],
    ["%ld %li %lu", 3],
    ["%lx %lX", 2],
    ["%lld %llu %llx", 3],
    ["%s\n", 1],
    ["comm %s pid %d\n", 2],
    ["%c%c", 2],
    ["100%%\n", 0],
    ["%d%%", 1],
    ["%5d|%-5d|%05d", 3],
    ["%+d|% d|%- 08d", 3],
    ["%-16s|", 1],
    ["%10llx", 1],
    ["%p", 1],
    ["%pK %px", 2],
    ["%ps %pS", 2],
    ["%pB", 1],
    ["%pi4 %pI4", 2],
    ["%pi6 %pI6", 2],
    ["%pI6c", 1],
    ["%pks", 1],
    ["%pus\n", 1],
    ["%s, %d.", 2],
    ["addr=%p.", 1],
    ["%s", 1],
    ["tab\there", 0],
  ];
  for (const [fmt, n] of ok) {
    it(`accepts ${JSON.stringify(fmt)} with ${n} args`, () => {
      assert.equal(checkTracePrintk(fmt, n), null);
    });
  }

  it("stops at the first NUL like the kernel", () => {
    assert.equal(checkTracePrintk("%d\0%d %d %d", 1), null);
  });
});

describe("checkTracePrintk: errors", () => {
  it("rejects more than 3 arguments", () => {
    const msg = checkTracePrintk("%d %d %d %d\n", 4);
    assert.ok(msg);
    assert.match(msg, /bpf_trace_printk takes at most 3 arguments after the format, got 4/);
    assert.match(msg, /BPF_PERF_OUTPUT/);
  });

  it("rejects more than one string conversion", () => {
    const msg = checkTracePrintk("%s %s\n", 2);
    assert.ok(msg);
    assert.match(msg, /at most one %s/);
    assert.match(msg, /found 2 \(%s, %s\)/);
    assert.match(checkTracePrintk("%s %pks", 2) ?? "", /at most one %s.*found 2 \(%s, %pks\)/);
    assert.match(checkTracePrintk("%-10s %pus", 2) ?? "", /\(%-10s, %pus\)/);
  });

  it("reports conversion/argument count mismatches", () => {
    assert.equal(
      checkTracePrintk("%d %d\n", 3),
      "bpf_trace_printk format has 2 conversions (%d %d) but 3 arguments were given",
    );
    assert.equal(
      checkTracePrintk("%d\n", 0),
      "bpf_trace_printk format has 1 conversion (%d) but 0 arguments were given",
    );
    assert.equal(
      checkTracePrintk("hi\n", 1),
      "bpf_trace_printk format has 0 conversions but 1 argument was given",
    );
    assert.match(
      checkTracePrintk("%d %% %s", 1) ?? "",
      /has 2 conversions \(%d %s\) but 1 argument was given/,
    );
  });

  it("names unsupported conversions and lists the supported ones", () => {
    const msg = checkTracePrintk("%f\n", 1);
    assert.ok(msg);
    assert.match(msg, /unsupported conversion "%f" at offset 0/);
    assert.match(msg, /floating point/);
    assert.match(msg, /supported: %d %i %u %x %X \(optionally with l or ll\), %p/);
    assert.match(msg, /%pks %pus/);
    assert.match(msg, /%s, %c and %%/);
    assert.match(msg, /flags 0 \+ - space and a width \(no precision\)/);
  });

  it("rejects precision, # flag, unsupported length modifiers and letters", () => {
    assert.match(
      checkTracePrintk("%.2d", 1) ?? "",
      /unsupported conversion "%\.2d" at offset 0 \(precision is not supported\)/,
    );
    assert.match(checkTracePrintk("%5.3s", 1) ?? "", /"%5\.3s".*precision/);
    assert.match(checkTracePrintk("%.", 0) ?? "", /"%\."/);
    assert.match(checkTracePrintk("%#x", 1) ?? "", /unsupported conversion "%#"/);
    assert.match(checkTracePrintk("%hd", 1) ?? "", /unsupported conversion "%h".*length modifier 'h'/);
    assert.match(checkTracePrintk("%zu", 1) ?? "", /length modifier 'z'/);
    assert.match(checkTracePrintk("%llld", 1) ?? "", /unsupported conversion "%lll".*at most two l's/);
    assert.match(checkTracePrintk("%lc", 1) ?? "", /unsupported conversion "%lc"/);
    assert.match(checkTracePrintk("%ls", 1) ?? "", /unsupported conversion "%ls"/);
    assert.match(checkTracePrintk("x %o", 1) ?? "", /unsupported conversion "%o" at offset 2/);
    assert.match(checkTracePrintk("%n", 1) ?? "", /unsupported conversion "%n"/);
  });

  it("rejects unsupported %p extensions", () => {
    assert.match(
      checkTracePrintk("%pd", 1) ?? "",
      /unsupported conversion "%pd" at offset 0 \(unsupported pointer extension\); supported: .*%pks %pus/,
    );
    assert.match(checkTracePrintk("%pI5", 1) ?? "", /unsupported conversion "%pI"/);
    assert.match(checkTracePrintk("%pM", 1) ?? "", /"%pM"/);
  });

  it("requires a string conversion to be followed by whitespace, punctuation or the end", () => {
    const msg = checkTracePrintk("%sabc", 1);
    assert.ok(msg);
    assert.match(msg, /"%s" at offset 0 is followed by "a"/);
    assert.match(checkTracePrintk("%pksx", 1) ?? "", /"%pks" at offset 0 is followed by "x"/);
    assert.equal(checkTracePrintk("%s_", 1), null, "underscore is punctuation");
    assert.notEqual(checkTracePrintk("%s1", 1), null, "digits are not punctuation");
  });

  it("rejects a lone % at the end", () => {
    assert.match(
      checkTracePrintk("100%", 0) ?? "",
      /ends with an incomplete conversion "%"; write %% for a literal percent sign/,
    );
    assert.match(checkTracePrintk("%-5", 1) ?? "", /incomplete conversion "%-5"/);
  });

  it("rejects non-ASCII and control characters", () => {
    assert.match(checkTracePrintk("caf\u00e9 %d", 1) ?? "", /character U\+00E9 \(é\) at offset 3/);
    assert.match(checkTracePrintk("bell\x07", 0) ?? "", /character \\x07 at offset 4.*printable ASCII/);
    assert.equal(checkTracePrintk("a\tb\r\n\v\f", 0), null, "whitespace is fine");
  });

  it("exports the argument limit", () => {
    assert.equal(TRACE_PRINTK_MAX_ARGS, 3);
  });

  it("checks the argument limit before anything else", () => {
    assert.match(checkTracePrintk("%f %f %f %f %f", 5) ?? "", /at most 3 arguments/);
  });
});

describe("decodeCStringLiteral", () => {
  it("decodes simple escapes", () => {
    assert.equal(decodeCStringLiteral('"a\\n"'), "a\n");
    assert.equal(
      decodeCStringLiteral('"\\n\\t\\r\\0\\\\\\"\\\'\\a\\b\\f\\v\\?"'),
      "\n\t\r\0\\\"'\x07\b\f\v?",
    );
  });

  it("concatenates adjacent literals", () => {
    assert.equal(decodeCStringLiteral('"a\\n" "b\\t\\x41\\101\\""'), 'a\nb\tAA"');
    assert.equal(decodeCStringLiteral('"one"\n   "two"\t"three"'), "onetwothree");
    assert.equal(decodeCStringLiteral('"a" /* comment */ "b" // line\n "c"'), "abc");
  });

  it("decodes octal escapes of 1 to 3 digits", () => {
    assert.equal(decodeCStringLiteral('"\\101\\1012"'), "AA2", "at most three octal digits");
    assert.equal(decodeCStringLiteral('"\\7x"'), "\x07x");
    assert.equal(decodeCStringLiteral('"\\00"'), "\0");
    assert.equal(decodeCStringLiteral('"\\377"'), "\xff");
  });

  it("decodes hex escapes greedily", () => {
    assert.equal(decodeCStringLiteral('"\\x41\\x4a\\x4A"'), "AJJ");
    assert.equal(decodeCStringLiteral('"\\x0a"'), "\n");
    assert.equal(decodeCStringLiteral('"\\x41" "B"'), "AB", "a literal boundary ends the hex escape");
  });

  it("accepts literal prefixes, universal names and line continuations", () => {
    assert.equal(decodeCStringLiteral('L"w" u8"x" u"y" U"z"'), "wxyz");
    assert.equal(decodeCStringLiteral('"\\u00e9"'), "é");
    assert.equal(decodeCStringLiteral('"ab\\\ncd"'), "abcd");
    assert.equal(decodeCStringLiteral('""'), "");
    assert.equal(decodeCStringLiteral('"%d%%"'), "%d%%");
  });

  it("throws on malformed input", () => {
    assert.throws(() => decodeCStringLiteral(""), /no string literal/);
    assert.throws(() => decodeCStringLiteral("abc"), /expected a string literal, found "a"/);
    assert.throws(() => decodeCStringLiteral('"abc'), /unterminated string literal/);
    assert.throws(() => decodeCStringLiteral('"""'), BpfError, "a BpfError (fuzzed: it was a plain Error)");
    assert.throws(() => decodeCStringLiteral('"a" b'), /expected a string literal/);
    assert.throws(() => decodeCStringLiteral('"\\q"'), /unknown escape sequence \\q/);
    assert.throws(() => decodeCStringLiteral('"\\x"'), /\\x escape without hex digits/);
    assert.throws(() => decodeCStringLiteral('"a\nb"'), /newline inside a string literal/);
    assert.throws(() => decodeCStringLiteral('"a" /* open'), /unterminated comment/);
  });

  it("feeds checkTracePrintk", () => {
    const fmt = decodeCStringLiteral('"pid %d comm %s\\n"');
    assert.equal(checkTracePrintk(fmt, 2), null);
    assert.match(checkTracePrintk(decodeCStringLiteral('"%d " "%d\\n"'), 1) ?? "", /2 conversions/);
  });
});
