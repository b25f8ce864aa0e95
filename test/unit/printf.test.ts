import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatFloatBody, printf, sprintf } from "../../src/format/printf.js";

describe("sprintf integers", () => {
  it("formats %d %i %u with width, flags and precision", () => {
    assert.equal(sprintf("%d", 42), "42");
    assert.equal(sprintf("%i", -42), "-42");
    assert.equal(sprintf("%u", 7), "7");
    assert.equal(sprintf("%-6d|", 123), "123   |");
    assert.equal(sprintf("%6d|", 123), "   123|");
    assert.equal(sprintf("%06d", -123), "-00123");
    assert.equal(sprintf("%+d %+d", 5, -5), "+5 -5");
    assert.equal(sprintf("% d|% d", 5, -5), " 5|-5");
    assert.equal(sprintf("%.3d", 7), "007");
    assert.equal(sprintf("%08.3d|", 7), "     007|", "0 flag ignored with a precision");
    assert.equal(sprintf("%.0d|", 0), "|", "C prints nothing for %.0d of 0");
    assert.equal(sprintf("%-06d|", 5), "5     |", "- overrides 0");
  });

  it("accepts and ignores length modifiers", () => {
    assert.equal(sprintf("%-18ld|", 123), `123${" ".repeat(15)}|`);
    assert.equal(sprintf("%lld %hd %hhd %zd %jd %lu %llu %zu", 1, 2, 3, 4, 5, 6, 7, 8), "1 2 3 4 5 6 7 8");
  });

  it("truncates floats toward zero for integer conversions", () => {
    assert.equal(sprintf("%d", 3.99), "3");
    assert.equal(sprintf("%d", -3.99), "-3");
    assert.equal(sprintf("%d", -0.5), "0");
    assert.equal(sprintf("%x", 255.9), "ff");
  });

  it("formats bigints exactly", () => {
    assert.equal(sprintf("%d", 18446744073709551615n), "18446744073709551615");
    assert.equal(sprintf("%llu", 2n ** 64n - 1n), "18446744073709551615");
    assert.equal(sprintf("%d", -(2n ** 63n)), "-9223372036854775808");
    assert.equal(sprintf("%-22d|", 9007199254740993n), "9007199254740993      |");
    assert.equal(sprintf("%x", 0xdeadbeefcafebaben), "deadbeefcafebabe");
    assert.equal(sprintf("%d", 123456789012345678901234567890n), "123456789012345678901234567890");
  });

  it("formats hex and octal with # and case", () => {
    assert.equal(sprintf("%x %X", 0xabc, 0xabc), "abc ABC");
    assert.equal(sprintf("%#x %#X %#o", 255, 255, 8), "0xff 0XFF 010");
    assert.equal(sprintf("%#x %#o", 0, 0), "0 0", "C adds no prefix for zero");
    assert.equal(sprintf("%o", 8), "10");
    assert.equal(sprintf("%08x", 0xbeef), "0000beef");
    assert.equal(sprintf("%#010x", 0xbeef), "0x0000beef");
    assert.equal(sprintf("%-#8x|", 16), "0x10    |");
    assert.equal(sprintf("%16llx", 0xffffffff81000000n), "ffffffff81000000");
  });

  it("wraps negative values for unsigned conversions like C", () => {
    assert.equal(sprintf("%x", -1), "ffffffff");
    assert.equal(sprintf("%X", -255), "FFFFFF01");
    assert.equal(sprintf("%lx", -1), "ffffffffffffffff");
    assert.equal(sprintf("%llx", -1n), "ffffffffffffffff");
    assert.equal(sprintf("%zx", -2), "fffffffffffffffe");
    assert.equal(sprintf("%hx %hhx", -1, -1), "ffff ff");
    assert.equal(sprintf("%u", -1), "4294967295");
    assert.equal(sprintf("%lu", -1n), "18446744073709551615");
    assert.equal(sprintf("%o", -1), "37777777777");
    assert.equal(sprintf("%x", -(2 ** 40)), "ffffff0000000000", "values beyond 32 bits wrap to 64");
    assert.equal(sprintf("%x", 2 ** 40), "10000000000", "non-negative values are never truncated");
  });

  it("accepts booleans as 0/1", () => {
    assert.equal(sprintf("%d %d", true, false), "1 0");
  });

  it("formats %p", () => {
    assert.equal(sprintf("%p", 0xffff888012345678n), "0xffff888012345678");
    assert.equal(sprintf("%18p|", 4096), "            0x1000|");
  });
});

describe("sprintf strings and chars", () => {
  it("pads and truncates %s", () => {
    assert.equal(sprintf("%s", "bash"), "bash");
    assert.equal(sprintf("%-16s|", "bash"), "bash            |");
    assert.equal(sprintf("%16s|", "bash"), "            bash|");
    assert.equal(sprintf("%-12.12s|", "a_very_long_command_name"), "a_very_long_|");
    assert.equal(sprintf("%.3s", "abcdef"), "abc");
    assert.equal(sprintf("%.0s|", "abc"), "|");
    assert.equal(sprintf("%05s|", "ab"), "   ab|", "0 flag ignored for strings");
  });

  it("uses String(v) for non-strings", () => {
    assert.equal(sprintf("%s %s %s %s", 1, 2n, null, undefined), "1 2 null undefined");
    assert.equal(sprintf("%s", { toString: () => "obj" }), "obj");
    assert.equal(sprintf("%-5s|", true), "true |");
  });

  it("counts width in code points", () => {
    assert.equal(sprintf("%-4s|", "é€"), "é€  |");
    assert.equal(sprintf("%3s|", "😀"), "  😀|");
    assert.equal(sprintf("%.1s|", "😀x"), "😀|");
  });

  it("formats %c from a code or a one-character string", () => {
    assert.equal(sprintf("%c%c%c", 72, 105, "!"), "Hi!");
    assert.equal(sprintf("%3c|%-3c|", 65, 66), "  A|B  |");
    assert.throws(() => sprintf("%c", "ab"), TypeError);
    assert.throws(() => sprintf("%c", -1), TypeError);
  });

  it("handles %% and text without conversions", () => {
    assert.equal(sprintf("100%%"), "100%");
    assert.equal(sprintf("%d%%", 50), "50%");
    assert.equal(sprintf("plain"), "plain");
    assert.equal(sprintf(""), "");
  });
});

describe("sprintf floats", () => {
  it("formats %f with default and explicit precision", () => {
    assert.equal(sprintf("%f", 1.5), "1.500000");
    assert.equal(sprintf("%.2f", 7.12345), "7.12");
    assert.equal(sprintf("%-18.9f|", 1234.5678), "1234.567800000    |");
    assert.equal(sprintf("%05.1f", 2.25), "002.2");
    assert.equal(sprintf("%05.1f", -2.5), "-02.5");
    assert.equal(sprintf("%7.2f|", 12.345), "  12.35|", "12.345 is stored slightly above .345");
    assert.equal(sprintf("%.0f", 2.5), "2");
    assert.equal(sprintf("%#.0f", 3), "3.");
    assert.equal(sprintf("%+.1f % .1f", 1, 1), "+1.0  1.0");
    assert.equal(sprintf("%.3f", -0), "-0.000");
    assert.equal(sprintf("%f", 5), "5.000000");
  });

  it("rounds exact ties to even like C (not like toFixed)", () => {
    assert.equal(sprintf("%.2f", 0.125), "0.12");
    assert.equal(sprintf("%.2f", 0.375), "0.38");
    assert.equal(sprintf("%.0f %.0f %.0f", 0.5, 1.5, 2.5), "0 2 2");
    assert.equal(sprintf("%.1f", 0.25), "0.2");
  });

  it("formats huge and tiny values exactly", () => {
    assert.equal(sprintf("%.0f", 1e21), "1000000000000000000000");
    assert.equal(sprintf("%.0f", 1e22), "10000000000000000000000");
    assert.equal(sprintf("%.2f", 2 ** 70), "1180591620717411303424.00");
    assert.equal(sprintf("%.3f", 1e-7), "0.000");
    assert.equal(sprintf("%.20f", 0.1), "0.10000000000000000555");
  });

  it("formats %e", () => {
    assert.equal(sprintf("%e", 12345.678), "1.234568e+04");
    assert.equal(sprintf("%.2e", 0.000123), "1.23e-04");
    assert.equal(sprintf("%E", 1e100), "1.000000E+100");
    assert.equal(sprintf("%.0e", 5e-324), "5e-324");
    assert.equal(sprintf("%e", 0), "0.000000e+00");
    assert.equal(sprintf("%.2e", 9.999), "1.00e+01");
    assert.equal(sprintf("%12.3e|", -1234), "  -1.234e+03|");
  });

  it("formats %g", () => {
    assert.equal(sprintf("%g", 100000), "100000");
    assert.equal(sprintf("%g", 1000000), "1e+06");
    assert.equal(sprintf("%g", 0.0001), "0.0001");
    assert.equal(sprintf("%g", 0.00001), "1e-05");
    assert.equal(sprintf("%g", 7.12345), "7.12345");
    assert.equal(sprintf("%.3g", 7.12345), "7.12");
    assert.equal(sprintf("%.3g", 1234), "1.23e+03");
    assert.equal(sprintf("%g", 0), "0");
    assert.equal(sprintf("%#g", 1), "1.00000");
    assert.equal(sprintf("%G", 1e-10), "1E-10");
    assert.equal(sprintf("%.0g", 0.5), "0.5");
    assert.equal(sprintf("%g", 99999.95), "99999.9", "99999.95 is stored slightly below .95");
  });

  it("formats infinities and NaN", () => {
    assert.equal(sprintf("%f %f %f", Infinity, -Infinity, Number.NaN), "inf -inf nan");
    assert.equal(sprintf("%F %E", Infinity, Number.NaN), "INF NAN");
    assert.equal(sprintf("%08.2f|", Infinity), "     inf|", "no zero padding for inf");
  });

  it("accepts bigints for float conversions", () => {
    assert.equal(sprintf("%.1f", 10n), "10.0");
  });

  it("exposes the float body formatter", () => {
    assert.equal(formatFloatBody(1.5, "f", 3), "1.500");
    assert.equal(formatFloatBody(1234.5, "e", 2), "1.23e+03");
    assert.equal(formatFloatBody(0.5, "G", 6), "0.5");
    assert.equal(formatFloatBody(Number.POSITIVE_INFINITY, "F", 2), "INF");
  });
});

describe("sprintf * width and precision", () => {
  it("takes width and precision from the arguments", () => {
    assert.equal(sprintf("%*d|", 5, 42), "   42|");
    assert.equal(sprintf("%-*d|", 5, 42), "42   |");
    assert.equal(sprintf("%*d|", -5, 42), "42   |", "negative width means left-justify");
    assert.equal(sprintf("%.*f", 2, 7.12345), "7.12");
    assert.equal(sprintf("%*.*s|", 6, 2, "abcdef"), "    ab|");
    assert.equal(sprintf("%.*f", -1, 1.5), "1.500000", "negative precision is ignored");
    assert.equal(sprintf("%*d", 3n, 1), "  1");
  });
});

describe("sprintf errors", () => {
  it("throws RangeError when arguments are missing", () => {
    assert.throws(
      () => sprintf("%d %d", 1),
      (e: unknown) => {
        assert.ok(e instanceof RangeError);
        assert.match(e.message, /not enough arguments/);
        assert.match(e.message, /conversion #2/);
        assert.match(e.message, /only 1 was given/);
        return true;
      },
    );
    assert.throws(() => sprintf("%s"), /only 0 were given/);
    assert.throws(() => sprintf("%*d", 5), RangeError);
  });

  it("ignores extra arguments", () => {
    assert.equal(sprintf("%d", 1, 2, 3), "1");
  });

  it("rejects malformed specifications", () => {
    assert.throws(() => sprintf("%y", 1), /invalid conversion specification "%y" at index 0/);
    assert.throws(() => sprintf("50%"), /invalid conversion specification "%" at index 2/);
    assert.throws(() => sprintf("%-"), /invalid conversion specification/);
  });

  it("rejects values of the wrong type", () => {
    assert.throws(() => sprintf("%d", "12"), /%d needs a number or bigint, got string "12"/);
    assert.throws(() => sprintf("%f", {}), TypeError);
    assert.throws(() => sprintf("%d", Number.NaN), /finite number/);
    assert.throws(() => sprintf("%d", Infinity), TypeError);
    assert.throws(() => sprintf("%*d", "5", 1), /'\*' width must be an integer/);
  });
});

describe("bcc-style column layouts", () => {
  it("reproduces an opensnoop-like line", () => {
    const line = sprintf("%-6d %-16s %4d %3d %s", 1234, "bash", 3, 0, "/etc/passwd");
    assert.equal(line, "1234   bash                3   0 /etc/passwd");
  });
  it("reproduces a biolatency-like histogram row", () => {
    assert.equal(
      sprintf("%20s : %-8s|%-40s|", "0 -> 1", "count", "distribution"),
      "              0 -> 1 : count   |distribution                            |",
    );
  });
  it("reproduces a time column", () => {
    assert.equal(
      sprintf("%-18.9f %-16s %-6d", 5678.123456789, "sshd", 77),
      "5678.123456789     sshd             77    ",
    );
  });
});

describe("printf", () => {
  it("writes the formatted text to process.stdout and returns its length", (t) => {
    const chunks: string[] = [];
    t.mock.method(process.stdout, "write", (chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    });
    const n = printf("%-5s|%d\n", "ab", 7);
    assert.deepEqual(chunks, ["ab   |7\n"]);
    assert.equal(n, 8);
  });
});

describe("sprintf's number path", () => {
  it("prints a safe integer as its BigInt prints, for every integer conversion and flag", () => {
    const values = [0, -0, 1, -1, 7, -7, 255, -255, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, -(2 ** 32 + 5)];
    values.push(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 123456789, -987654321);
    const specs = ["%d", "%i", "%u", "%x", "%X", "%o", "%#x", "%#X", "%#o", "%+d", "% d", "%08d", "%-8d|"];
    specs.push("%.0d", "%.5x", "%8.3d", "%-+6i|", "%lu", "%hx", "%hhu", "%lx", "%zd", "%#.0o", "%#08x");
    for (const fmt of specs) {
      for (const v of values) {
        const viaBigInt = sprintf(fmt, Object.is(v, -0) ? 0n : BigInt(v));
        assert.equal(sprintf(fmt, v), viaBigInt, `${fmt} of ${Object.is(v, -0) ? "-0" : v}`);
      }
    }
  });

  it("reuses a format's parse and still reports its errors in order", () => {
    for (let i = 0; i < 3; i++) assert.equal(sprintf("%-6d %s%%", 5, "x"), "5      x%");
    assert.equal(sprintf("%*d|%-*s|", 4, 7, -3, "ab"), "   7|ab |");
    assert.equal(sprintf("%*d|", -4, 7), "7   |");
    assert.throws(() => sprintf("%d %d", 1), /conversion #2 needs argument #2, but only 1 was given/);
    assert.throws(() => sprintf("%d %y", 1), /invalid conversion specification "%y"/);
    assert.throws(() => sprintf("%d %y"), /not enough arguments/);
  });

  it("pads by code points", () => {
    assert.equal(sprintf("%-4s|", "😀"), "😀   |");
    assert.equal(sprintf("%4s|", "a😀b"), " a😀b|");
    assert.equal(sprintf("%3s|", "\ud800x"), " \ud800x|");
  });
});

describe("sprintf limits (fuzzed)", () => {
  it("refuses a width or precision over 100000 with its documented RangeError", () => {
    // "%.999999999d" threw V8's "Invalid string length" from String.repeat.
    for (const [fmt, args] of [
      ["%.999999999d", [0n]],
      ["%999999999d", [1]],
      ["%*s", [999999999, "x"]],
      ["%.536870912f", [1.5]],
    ] as Array<[string, unknown[]]>) {
      assert.throws(
        () => sprintf(fmt, ...args),
        (e: unknown) =>
          e instanceof RangeError &&
          /^sprintf: (width|precision) \d+ of %\w is too large/.test((e as Error).message),
        fmt,
      );
    }
    assert.equal(sprintf("%100000d", 1).length, 100000);
  });
});
