/**
 * Compile-time checks of `bpf_trace_printk()` calls, so that mistakes the
 * kernel would only report as a bare `-EINVAL` at run time (or the verifier
 * at load time) are explained when the program is compiled.
 *
 * The rules follow the kernel's format checker (`bpf_bprintf_prepare()` in
 * kernel/bpf/helpers.c) plus the documented limits of `bpf_trace_printk`:
 * at most 3 arguments after the format and at most one string conversion.
 *
 * @module
 */

import { BpfError } from "../kernel/errors.js";

/** Maximum number of arguments after the format string that bpf_trace_printk accepts. */
export const TRACE_PRINTK_MAX_ARGS = 3;

const SUPPORTED =
  "%d %i %u %x %X (optionally with l or ll), %p (also %pK %px %ps %pS %pB %pi4 %pI4 %pi6 %pI6 %pks %pus), " +
  "%s, %c and %%, with optional flags 0 + - space and a width (no precision)";

/** One conversion found in a bpf_trace_printk format. */
interface Conversion {
  text: string;
  isString: boolean;
}

/**
 * Check the format and argument count of a `bpf_trace_printk(fmt, ...)` call.
 *
 * `fmt` is the decoded contents of the C string literal (see
 * {@link decodeCStringLiteral}); like the kernel, checking stops at the first
 * NUL. `argCount` is the number of arguments after the format.
 *
 * Returns `null` when the call is fine, otherwise a user-facing message
 * explaining the first problem found.
 */
export function checkTracePrintk(fmt: string, argCount: number): string | null {
  if (argCount > TRACE_PRINTK_MAX_ARGS) {
    return (
      `bpf_trace_printk takes at most ${TRACE_PRINTK_MAX_ARGS} arguments after the format, got ${argCount}; ` +
      "use BPF_PERF_OUTPUT or BPF_RINGBUF_OUTPUT to send more data to user space, or split the message into several calls"
    );
  }
  const nul = fmt.indexOf("\0");
  const text = nul < 0 ? fmt : fmt.slice(0, nul);
  const convs: Conversion[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    const isSpace = c === 0x20 || (c >= 0x09 && c <= 0x0d);
    if (!isSpace && (c < 0x20 || c > 0x7e)) {
      return (
        `bpf_trace_printk format contains the character ${describeChar(text, i)} at offset ${i}; ` +
        "the kernel accepts only printable ASCII and whitespace in formats"
      );
    }
    if (text[i] !== "%") {
      i++;
      continue;
    }
    const r = scanConversion(text, i);
    if ("error" in r) return r.error;
    i = r.end;
    if (r.conv) convs.push(r.conv);
  }

  const strings = convs.filter((c) => c.isString);
  if (strings.length > 1) {
    return (
      `bpf_trace_printk supports at most one %s (string) conversion per call, found ${strings.length} ` +
      `(${strings.map((c) => c.text).join(", ")}); split the message into several calls`
    );
  }
  if (convs.length !== argCount) {
    const list = convs.length > 0 ? ` (${convs.map((c) => c.text).join(" ")})` : "";
    return (
      `bpf_trace_printk format has ${convs.length} conversion${convs.length === 1 ? "" : "s"}${list} ` +
      `but ${argCount} argument${argCount === 1 ? " was" : "s were"} given`
    );
  }
  return null;
}

function describeChar(s: string, i: number): string {
  const cp = s.codePointAt(i) ?? 0;
  const hex = cp.toString(16).padStart(2, "0");
  return cp > 0x7e ? `U+${hex.toUpperCase().padStart(4, "0")} (${String.fromCodePoint(cp)})` : `\\x${hex}`;
}

type ScanResult = { end: number; conv?: Conversion } | { error: string };

/** Scan the conversion starting at `start` (which holds '%'). */
function scanConversion(s: string, start: number): ScanResult {
  let i = start + 1;
  if (s[i] === "%") return { end: i + 1 };
  while (s[i] === "0" || s[i] === "+" || s[i] === "-" || s[i] === " ") i++;
  const c0 = s[i];
  if (c0 !== undefined && c0 >= "1" && c0 <= "9") {
    i++;
    while (s[i] !== undefined && (s[i] as string) >= "0" && (s[i] as string) <= "9") i++;
  }
  const conv = (end: number, isString = false): ScanResult => ({
    end,
    conv: { text: s.slice(start, end), isString },
  });
  const bad = (detail: string): ScanResult => ({
    error: `bpf_trace_printk format: unsupported conversion ${JSON.stringify(s.slice(start, i + 1))} at offset ${start}${detail}; supported: ${SUPPORTED}`,
  });
  const ch = s[i];
  if (ch === undefined) {
    return {
      error: `bpf_trace_printk format ends with an incomplete conversion ${JSON.stringify(s.slice(start))}; write %% for a literal percent sign`,
    };
  }
  if (ch === ".") {
    // Show the whole conversion, e.g. "%.2d" or "%5.3s".
    let k = i + 1;
    while (s[k] !== undefined && /[0-9*l]/.test(s[k] as string)) k++;
    i = Math.min(k, s.length - 1);
    return bad(" (precision is not supported)");
  }

  const endsWord = (k: number): boolean => {
    const n = s[k];
    return n === undefined || /[\s!-/:-@[-`{-~]/.test(n);
  };

  if (ch === "p") {
    const n1 = s[i + 1];
    if ((n1 === "k" || n1 === "u") && s[i + 2] === "s") {
      if (!endsWord(i + 3)) return stringFollowed(s, start, i + 3);
      return conv(i + 3, true);
    }
    if (n1 === undefined || endsWord(i + 1)) return conv(i + 1);
    if (n1 === "K" || n1 === "x" || n1 === "s" || n1 === "S" || n1 === "B") return conv(i + 2);
    if ((n1 === "i" || n1 === "I") && (s[i + 2] === "4" || s[i + 2] === "6")) return conv(i + 3);
    i += 1;
    return bad(" (unsupported pointer extension)");
  }
  if (ch === "s") {
    if (!endsWord(i + 1)) return stringFollowed(s, start, i + 1);
    return conv(i + 1, true);
  }
  if (ch === "c") return conv(i + 1);
  let j = i;
  if (s[j] === "l") j++;
  if (s[j] === "l") j++;
  const t = s[j];
  if (t === "d" || t === "i" || t === "u" || t === "x" || t === "X") return conv(j + 1);
  i = j;
  if (t === "h" || t === "z" || t === "j" || t === "t" || t === "L" || t === "q") {
    return bad(` (length modifier '${t}' is not supported; use no modifier, l or ll)`);
  }
  if (t === "l") return bad(" (at most two l's)");
  if (t === "f" || t === "e" || t === "g" || t === "F" || t === "E" || t === "G" || t === "a" || t === "A") {
    return bad(" (BPF programs cannot use floating point)");
  }
  return bad("");
}

function stringFollowed(s: string, start: number, next: number): ScanResult {
  return {
    error:
      `bpf_trace_printk format: ${JSON.stringify(s.slice(start, next))} at offset ${start} is followed by ` +
      `${JSON.stringify(s[next])}; the kernel requires a string conversion to be followed by whitespace, ` +
      "punctuation or the end of the format",
  };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "\\": "\\",
  '"': '"',
  "'": "'",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "?": "?",
  e: "\x1b",
};

/**
 * Decode one or more adjacent C string literal tokens as written in source
 * (`"a\n" "b\t\x41\101\""`) into the string value they denote. Handles the
 * escapes `\n \t \r \0 \\ \" \' \a \b \f \v \?` (and GNU `\e`), octal
 * `\ooo` (1–3 digits) and hex `\xHH...`; octal and hex escapes give the
 * character with that code (i.e. bytes for values up to 0xff). Whitespace,
 * newlines and comments between the literals are skipped; an `L`, `u`, `U`
 * or `u8` prefix is accepted.
 *
 * @throws BpfError when `src` is not a sequence of string literals.
 */
export function decodeCStringLiteral(src: string): string {
  let out = "";
  let i = 0;
  let literals = 0;
  const fail = (msg: string): never => {
    throw new BpfError(`${msg} at offset ${i} of ${JSON.stringify(src)}`);
  };
  while (i < src.length) {
    const ch = src[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) fail("unterminated comment");
      i = end + 2;
      continue;
    }
    if (src.startsWith("//", i)) {
      const end = src.indexOf("\n", i);
      i = end < 0 ? src.length : end + 1;
      continue;
    }
    const prefix = /^(?:u8|u|U|L)?"/.exec(src.slice(i, i + 3));
    if (!prefix) fail(`expected a string literal, found ${JSON.stringify(ch)}`);
    i += (prefix as RegExpExecArray)[0].length;
    literals++;
    for (;;) {
      if (i >= src.length) fail("unterminated string literal");
      const c = src[i] as string;
      if (c === '"') {
        i++;
        break;
      }
      if (c === "\n") fail("newline inside a string literal");
      if (c !== "\\") {
        out += c;
        i++;
        continue;
      }
      const e = src[i + 1];
      if (e === undefined) fail("unterminated escape sequence");
      if (e === "\n") {
        // line continuation
        i += 2;
        continue;
      }
      if (e === "x") {
        const m = /^[0-9a-fA-F]+/.exec(src.slice(i + 2));
        if (!m) fail("\\x escape without hex digits");
        const code = Number.parseInt((m as RegExpExecArray)[0], 16);
        if (code > 0x10ffff) fail("\\x escape out of range");
        out += String.fromCodePoint(code);
        i += 2 + (m as RegExpExecArray)[0].length;
        continue;
      }
      if (e !== undefined && e >= "0" && e <= "7") {
        const m = /^[0-7]{1,3}/.exec(src.slice(i + 1)) as RegExpExecArray;
        out += String.fromCharCode(Number.parseInt(m[0], 8));
        i += 1 + m[0].length;
        continue;
      }
      if (e === "u" || e === "U") {
        const n = e === "u" ? 4 : 8;
        const hex = src.slice(i + 2, i + 2 + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) fail(`\\${e} escape needs ${n} hex digits`);
        out += String.fromCodePoint(Number.parseInt(hex, 16));
        i += 2 + n;
        continue;
      }
      const simple = SIMPLE_ESCAPES[e as string];
      if (simple === undefined) fail(`unknown escape sequence \\${e}`);
      out += simple;
      i += 2;
    }
  }
  if (literals === 0) fail("no string literal");
  return out;
}
