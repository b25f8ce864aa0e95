/**
 * C/Python-style `printf` formatting, used to reproduce bcc's column layouts
 * (`"%-6d %-16s %s"`-style format strings) byte for byte.
 *
 * Floating-point conversions are computed exactly from the binary value of the
 * double (via BigInt) and rounded half-to-even like glibc and CPython, so
 * `sprintf("%.2f", 0.125)` gives `"0.12"` rather than JavaScript's `"0.13"`.
 *
 * Not part of the library's core: importers reach it as `tsbpf/printf`
 * (package.json "exports"), as the tutorial and the tools do.
 *
 * @module
 */

import { writeStdio } from "../stdio.js";

/** Flags and sizes parsed from one conversion specification. */
interface Spec {
  left: boolean;
  zero: boolean;
  plus: boolean;
  space: boolean;
  alt: boolean;
  width: number | undefined;
  precision: number | undefined;
  length: string;
  conv: string;
}

const SPEC_RE = /%([-+ 0#]*)(\*|\d+)?(?:\.(\*|\d*))?(hh|h|ll|l|L|q|j|z|Z|t)?([diouxXeEfFgGcsp%])/y;

const LONG_LENGTHS = new Set(["l", "ll", "L", "q", "j", "z", "Z", "t"]);

/**
 * Format `args` according to the C/Python printf-style format string `fmt`.
 *
 * Supported conversions: `%d %i %u %x %X %o %c %s %f %F %e %E %g %G %p %%`,
 * flags `- 0 + space #`, field width and precision (either may be `*`, taken
 * from the arguments), and the length modifiers `h hh l ll L q j z t`, which
 * are accepted and otherwise ignored except that a negative value under
 * `%u %x %X %o` wraps like C's two's complement output: to 64 bits with
 * `l`/`ll`/`z`/`j`/`t` (or when it does not fit 32 bits), to 16/8 bits with
 * `h`/`hh`, and to 32 bits otherwise.
 * Non-negative integers are never truncated (Python semantics).
 *
 * Integer conversions accept `number` (floats are truncated toward zero),
 * `bigint` (formatted exactly) and `boolean`; `%s` uses `String(v)` for
 * non-strings. Extra arguments are ignored, as in C.
 *
 * @throws RangeError when there are fewer arguments than conversions, or a
 *   width or precision is over 100000.
 * @throws TypeError when an argument cannot be formatted by its conversion.
 * @throws Error on a malformed conversion specification.
 */
export function sprintf(fmt: string, ...args: unknown[]): string {
  const pieces = compiledFormat(fmt);
  if (pieces === undefined) return sprintfSlow(fmt, args);
  let out = "";
  let argIndex = 0;
  let convIndex = 0;
  for (let k = 0; k < pieces.length; k++) {
    const p = pieces[k] as Piece;
    if (typeof p === "string") {
      out += p;
      continue;
    }
    convIndex++;
    let spec = p.spec;
    if (p.starWidth || p.starPrecision) {
      spec = { ...spec };
      if (p.starWidth) {
        const w = toStarInt(nextArg(fmt, args, argIndex++, convIndex, "the '*' width"), "width");
        if (w < 0) {
          spec.left = true;
          spec.width = -w;
        } else {
          spec.width = w;
        }
      }
      if (p.starPrecision) {
        const q = toStarInt(nextArg(fmt, args, argIndex++, convIndex, "the '*' precision"), "precision");
        spec.precision = q < 0 ? undefined : q;
      }
    }
    out += formatOne(spec, nextArg(fmt, args, argIndex++, convIndex, "the value"));
  }
  return out;
}

/** A format string cut into literal text and conversions, once per format. */
type Piece = string | { spec: Spec; starWidth: boolean; starPrecision: boolean };

const COMPILED = new Map<string, Piece[]>();
const COMPILED_MAX = 256;

/**
 * `fmt` as pieces (cached: tools format every row with one of a few
 * formats); undefined when a conversion is malformed, which the slow path
 * reports in the order it meets it.
 */
function compiledFormat(fmt: string): Piece[] | undefined {
  const hit = COMPILED.get(fmt);
  if (hit !== undefined) return hit;
  const pieces: Piece[] = [];
  let lit = "";
  let i = 0;
  while (i < fmt.length) {
    const pct = fmt.indexOf("%", i);
    if (pct < 0) {
      lit += fmt.slice(i);
      break;
    }
    lit += fmt.slice(i, pct);
    SPEC_RE.lastIndex = pct;
    const m = SPEC_RE.exec(fmt);
    if (!m) return undefined;
    i = SPEC_RE.lastIndex;
    const spec = parseSpec(m);
    if (spec.conv === "%") {
      lit += "%";
      continue;
    }
    if (lit !== "") pieces.push(lit);
    lit = "";
    pieces.push({ spec, starWidth: m[2] === "*", starPrecision: m[3] === "*" });
  }
  if (lit !== "") pieces.push(lit);
  if (COMPILED.size >= COMPILED_MAX) COMPILED.clear();
  COMPILED.set(fmt, pieces);
  return pieces;
}

/** A conversion's flags and its literal width and precision (a '*' is filled in per call). */
function parseSpec(m: RegExpExecArray): Spec {
  const flags = m[1] ?? "";
  return {
    left: flags.includes("-"),
    zero: flags.includes("0"),
    plus: flags.includes("+"),
    space: flags.includes(" "),
    alt: flags.includes("#"),
    width: m[2] !== undefined && m[2] !== "*" ? Number.parseInt(m[2], 10) : undefined,
    precision: m[3] === undefined || m[3] === "*" ? undefined : m[3] === "" ? 0 : Number.parseInt(m[3], 10),
    length: m[4] ?? "",
    conv: m[5] ?? "",
  };
}

function nextArg(fmt: string, args: unknown[], index: number, convIndex: number, what: string): unknown {
  if (index >= args.length) {
    throw new RangeError(
      `sprintf: not enough arguments for format ${JSON.stringify(fmt)}: ` +
        `${what} of conversion #${convIndex} needs argument #${index + 1}, ` +
        `but only ${args.length} ${args.length === 1 ? "was" : "were"} given`,
    );
  }
  return args[index];
}

/** The format read as it goes: reports a malformed conversion after the conversions before it. */
function sprintfSlow(fmt: string, args: unknown[]): string {
  let out = "";
  let argIndex = 0;
  let convIndex = 0;
  let i = 0;
  while (i < fmt.length) {
    const pct = fmt.indexOf("%", i);
    if (pct < 0) {
      out += fmt.slice(i);
      break;
    }
    out += fmt.slice(i, pct);
    SPEC_RE.lastIndex = pct;
    const m = SPEC_RE.exec(fmt);
    if (!m) {
      const bad = fmt.slice(pct, pct + 6);
      throw new Error(
        `sprintf: invalid conversion specification ${JSON.stringify(bad)} at index ${pct} of format ${JSON.stringify(fmt)}`,
      );
    }
    i = SPEC_RE.lastIndex;
    const spec = parseSpec(m);
    if (spec.conv === "%") {
      out += "%";
      continue;
    }
    convIndex++;
    if (m[2] === "*") {
      const w = toStarInt(nextArg(fmt, args, argIndex++, convIndex, "the '*' width"), "width");
      if (w < 0) {
        spec.left = true;
        spec.width = -w;
      } else {
        spec.width = w;
      }
    }
    if (m[3] === "*") {
      const q = toStarInt(nextArg(fmt, args, argIndex++, convIndex, "the '*' precision"), "precision");
      spec.precision = q < 0 ? undefined : q;
    }
    out += formatOne(spec, nextArg(fmt, args, argIndex++, convIndex, "the value"));
  }
  return out;
}

/**
 * Like {@link sprintf}, but writes the result to stdout (through
 * `process.stdout`, or, in the tsbpf CLI, to the descriptor: src/stdio.ts).
 * Returns the number of characters written.
 */
export function printf(fmt: string, ...args: unknown[]): number {
  const s = sprintf(fmt, ...args);
  writeStdio("stdout", s);
  return s.length;
}

function toStarInt(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === "bigint") return Number(v);
  throw new TypeError(`sprintf: '*' ${what} must be an integer, got ${describe(v)}`);
}

function describe(v: unknown): string {
  if (typeof v === "string") return `string ${JSON.stringify(v)}`;
  if (v === null) return "null";
  return `${typeof v} ${String(v)}`;
}

/** The widest field and the longest precision formatted (a C printf would need gigabytes past it). */
const MAX_FIELD = 100_000;

function formatOne(spec: Spec, v: unknown): string {
  for (const [what, n] of [
    ["width", spec.width],
    ["precision", spec.precision],
  ] as const) {
    if (n !== undefined && n > MAX_FIELD)
      throw new RangeError(`sprintf: ${what} ${n} of %${spec.conv} is too large (at most ${MAX_FIELD})`);
  }
  switch (spec.conv) {
    case "d":
    case "i":
    case "u":
    case "x":
    case "X":
    case "o":
      // a safe integer formats as a number (the same digits, without a BigInt)
      if (typeof v === "number" && Number.isSafeInteger(v)) return formatSafeInteger(spec, v);
      return formatInteger(spec, toBigIntArg(v, spec.conv));
    case "p":
      return formatInteger({ ...spec, conv: "x", alt: true, length: "l" }, toBigIntArg(v, "p"));
    case "f":
    case "F":
    case "e":
    case "E":
    case "g":
    case "G":
      return formatFloatSpec(spec, toNumberArg(v, spec.conv));
    case "c":
      return pad(spec, toChar(v), false, "");
    default: {
      // "s"
      let s = typeof v === "string" ? v : String(v);
      if (spec.precision !== undefined) s = truncateCodePoints(s, spec.precision);
      return pad(spec, s, false, "");
    }
  }
}

function toBigIntArg(v: unknown, conv: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) {
      throw new TypeError(`sprintf: %${conv} needs a finite number, got ${String(v)}`);
    }
    return BigInt(Math.trunc(v));
  }
  if (typeof v === "boolean") return v ? 1n : 0n;
  throw new TypeError(`sprintf: %${conv} needs a number or bigint, got ${describe(v)}`);
}

function toNumberArg(v: unknown, conv: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new TypeError(`sprintf: %${conv} needs a number or bigint, got ${describe(v)}`);
}

function toChar(v: unknown): string {
  if (typeof v === "number" || typeof v === "bigint") {
    const code = Number(v);
    if (!Number.isInteger(code) || code < 0 || code > 0x10ffff) {
      throw new TypeError(`sprintf: %c code point out of range: ${String(v)}`);
    }
    return String.fromCodePoint(code);
  }
  if (typeof v === "string" && [...v].length === 1) return v;
  throw new TypeError(`sprintf: %c needs a character code or a one-character string, got ${describe(v)}`);
}

function truncateCodePoints(s: string, n: number): string {
  if (s.length <= n) return s;
  return [...s].slice(0, n).join("");
}

function codePointLength(s: string): number {
  // UTF-16 units, less one for each surrogate pair
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Pad `body` (which carries no sign) to the spec's width, inserting `prefix` (sign, 0x). */
function pad(spec: Spec, body: string, zeroAllowed: boolean, prefix: string): string {
  const width = spec.width ?? 0;
  const len = prefix.length + codePointLength(body);
  if (len >= width) return prefix + body;
  const fill = width - len;
  if (spec.left) return prefix + body + " ".repeat(fill);
  if (spec.zero && zeroAllowed) return prefix + "0".repeat(fill) + body;
  return " ".repeat(fill) + prefix + body;
}

/**
 * {@link formatInteger} of a safe integer, in number arithmetic: what it
 * prints for BigInt(value), digit for digit. A negative value under an
 * unsigned conversion wraps, which takes the BigInt path.
 */
function formatSafeInteger(spec: Spec, value: number): string {
  const conv = spec.conv;
  const signed = conv === "d" || conv === "i";
  if (value < 0 && !signed) return formatInteger(spec, BigInt(value));
  let sign = "";
  let v = value;
  if (v < 0) {
    sign = "-";
    v = -v;
  } else if (signed && spec.plus) {
    sign = "+";
  } else if (signed && spec.space) {
    sign = " ";
  }
  const radix = conv === "x" || conv === "X" ? 16 : conv === "o" ? 8 : 10;
  let digits = spec.precision === 0 && v === 0 ? "" : v.toString(radix);
  if (conv === "X") digits = digits.toUpperCase();
  if (spec.precision !== undefined && digits.length < spec.precision) {
    digits = "0".repeat(spec.precision - digits.length) + digits;
  }
  let prefix = sign;
  if (spec.alt) {
    if (conv === "o" && !digits.startsWith("0")) digits = `0${digits}`;
    else if (conv === "x" && v !== 0) prefix += "0x";
    else if (conv === "X" && v !== 0) prefix += "0X";
  }
  return pad(spec, digits, spec.precision === undefined, prefix);
}

function formatInteger(spec: Spec, value: bigint): string {
  const conv = spec.conv;
  const signed = conv === "d" || conv === "i";
  let v = value;
  let sign = "";
  if (signed) {
    if (v < 0n) {
      sign = "-";
      v = -v;
    } else if (spec.plus) {
      sign = "+";
    } else if (spec.space) {
      sign = " ";
    }
  } else if (v < 0n) {
    let bits = LONG_LENGTHS.has(spec.length) || v < -(2n ** 31n) ? 64 : 32;
    if (spec.length === "h") bits = 16;
    else if (spec.length === "hh") bits = 8;
    v = BigInt.asUintN(bits, v);
  }
  const radix = conv === "x" || conv === "X" ? 16 : conv === "o" ? 8 : 10;
  let digits = spec.precision === 0 && v === 0n ? "" : v.toString(radix);
  if (conv === "X") digits = digits.toUpperCase();
  if (spec.precision !== undefined && digits.length < spec.precision) {
    digits = "0".repeat(spec.precision - digits.length) + digits;
  }
  let prefix = sign;
  if (spec.alt) {
    if (conv === "o" && !digits.startsWith("0")) digits = `0${digits}`;
    else if (conv === "x" && v !== 0n) prefix += "0x";
    else if (conv === "X" && v !== 0n) prefix += "0X";
  }
  return pad(spec, digits, spec.precision === undefined, prefix);
}

function formatFloatSpec(spec: Spec, x: number): string {
  const negative = x < 0 || Object.is(x, -0);
  const sign = negative ? "-" : spec.plus ? "+" : spec.space ? " " : "";
  const body = formatFloatBody(Math.abs(x), spec.conv, spec.precision ?? 6, spec.alt);
  return pad(spec, body, Number.isFinite(x), sign);
}

/**
 * Format the magnitude of a float (no sign) the way C's `%f`, `%e` and `%g`
 * (or upper-case `%F %E %G`) do, with exact half-to-even rounding.
 * `abs` must be non-negative (or NaN); infinities give `inf`, NaN gives `nan`.
 */
export function formatFloatBody(abs: number, conv: string, precision: number, alt = false): string {
  const upper = conv === "F" || conv === "E" || conv === "G";
  let s: string;
  if (Number.isNaN(abs)) s = "nan";
  else if (!Number.isFinite(abs)) s = "inf";
  else {
    const c = conv.toLowerCase();
    if (c === "f") s = fixedBody(abs, precision, alt);
    else if (c === "e") s = expBody(abs, precision, alt).text;
    else s = generalBody(abs, precision, alt);
  }
  return upper ? s.toUpperCase() : s;
}

/** `|x| = mant * 2^exp` exactly, for finite x. */
function decompose(x: number): { mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) return { mant: frac, exp: -1074 };
  return { mant: frac | (1n << 52n), exp: biased - 1075 };
}

/** round(num / den), ties to even; num, den > 0. */
function roundDiv(num: bigint, den: bigint): bigint {
  const q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && (q & 1n) === 1n)) return q + 1n;
  return q;
}

const POW10_CACHE: bigint[] = [];
function pow10(n: number): bigint {
  let p = POW10_CACHE[n];
  if (p === undefined) {
    p = 10n ** BigInt(n);
    if (n < 400) POW10_CACHE[n] = p;
  }
  return p;
}

/** round(abs * 10^k) for a finite, non-negative double, exact. */
function scaledRound(abs: number, k: number): bigint {
  const { mant, exp } = decompose(abs);
  let num = mant;
  let den = 1n;
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  if (k >= 0) num *= pow10(k);
  else den *= pow10(-k);
  return roundDiv(num, den);
}

function fixedBody(abs: number, precision: number, alt: boolean): string {
  let digits: string;
  if (Number.isSafeInteger(abs)) {
    digits = abs.toString() + "0".repeat(precision);
  } else {
    digits = scaledRound(abs, precision).toString();
  }
  if (digits.length <= precision) digits = "0".repeat(precision - digits.length + 1) + digits;
  const intPart = digits.slice(0, digits.length - precision);
  const fracPart = digits.slice(digits.length - precision);
  return precision > 0 || alt ? `${intPart}.${fracPart}` : intPart;
}

function expBody(abs: number, precision: number, alt: boolean): { text: string; exponent: number } {
  let exponent = 0;
  let digits: string;
  if (abs === 0) {
    digits = "0".repeat(precision + 1);
  } else {
    exponent = Math.floor(Math.log10(abs));
    const limit = pow10(precision + 1);
    const lower = pow10(precision);
    let n = scaledRound(abs, precision - exponent);
    // log10 may be off by one near powers of ten, and rounding may carry.
    for (let guard = 0; guard < 4 && (n >= limit || n < lower); guard++) {
      exponent += n >= limit ? 1 : -1;
      n = scaledRound(abs, precision - exponent);
    }
    digits = n.toString();
  }
  const mantissa = precision > 0 || alt ? `${digits.slice(0, 1)}.${digits.slice(1)}` : digits.slice(0, 1);
  const expAbs = Math.abs(exponent);
  const expText = `${exponent < 0 ? "-" : "+"}${expAbs < 10 ? "0" : ""}${expAbs}`;
  return { text: `${mantissa}e${expText}`, exponent };
}

function generalBody(abs: number, precision: number, alt: boolean): string {
  const p = precision === 0 ? 1 : precision;
  const e = expBody(abs, p - 1, alt);
  const x = abs === 0 ? 0 : e.exponent;
  let text: string;
  if (p > x && x >= -4) text = fixedBody(abs, p - 1 - x, alt);
  else text = e.text;
  if (!alt) {
    const ePos = text.indexOf("e");
    let mant = ePos < 0 ? text : text.slice(0, ePos);
    const tail = ePos < 0 ? "" : text.slice(ePos);
    if (mant.includes(".")) mant = mant.replace(/0+$/, "").replace(/\.$/, "");
    text = mant + tail;
  }
  return text;
}
