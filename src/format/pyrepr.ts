// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Python's repr() and str() of JavaScript values, as bcc's tools print them
 * (`%r`, `print(dict)`, `str.format`'s `!r`): used by the histogram printers
 * and the trace_pipe line formatter.
 */

/** A list (Python prints `[…]`; a JavaScript array stands for a tuple). */
export class PyList {
  constructor(readonly items: readonly unknown[]) {}
}

/** Python's `repr()` of a str, including its choice of quote and escapes. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch !== " " && /[\p{C}\p{Z}]/u.test(ch)) {
      if (cp <= 0xff) out += `\\x${cp.toString(16).padStart(2, "0")}`;
      else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, "0")}`;
      else out += `\\U${cp.toString(16).padStart(8, "0")}`;
    } else out += ch;
  }
  return out + quote;
}

/** Python's `repr()` of a bytes object. */
export function pyBytesRepr(b: Uint8Array): string {
  const quote = b.includes(0x27) && !b.includes(0x22) ? '"' : "'";
  const q = quote.charCodeAt(0);
  let out = `b${quote}`;
  for (const byte of b) {
    if (byte === q || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte === 0x09) out += "\\t";
    else if (byte === 0x0a) out += "\\n";
    else if (byte === 0x0d) out += "\\r";
    else if (byte < 0x20 || byte >= 0x7f) out += `\\x${byte.toString(16).padStart(2, "0")}`;
    else out += String.fromCharCode(byte);
  }
  return out + quote;
}

/** Python's `repr()` of a float (`float_repr_style = 'short'`). */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant = "", expStr = "0"] = x.toExponential().split("e");
  const exp = Number(expStr);
  const sign = mant.startsWith("-") ? "-" : "";
  const digits = mant.replace("-", "").replace(".", "");
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, "0");
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${e}`;
  }
  let body: string;
  if (exp < 0) body = `0.${"0".repeat(-exp - 1)}${digits}`;
  else if (digits.length > exp + 1) body = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  else body = `${digits}${"0".repeat(exp + 1 - digits.length)}.0`;
  return sign + body;
}

/**
 * Python's `repr()` (bcc's `%r`) of a JavaScript value: integers as digits,
 * strings as Python str literals, `Uint8Array`s as bytes literals, arrays as
 * tuples, plain objects as dicts, `null`/`undefined` as `None`.
 */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    return Number.isInteger(value) && !Object.is(value, -0) ? BigInt(value).toString() : pyFloatRepr(value);
  }
  if (typeof value === "string") return pyStrRepr(value);
  if (value instanceof Uint8Array) return pyBytesRepr(value);
  if (value instanceof PyList) return `[${value.items.map(pyRepr).join(", ")}]`;
  if (Array.isArray(value)) {
    const items = value.map(pyRepr);
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
  }
  if (value instanceof Map) {
    return `{${[...value].map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(", ")}}`;
  }
  if (typeof value === "object") {
    return `{${Object.entries(value)
      .map(([k, v]) => `${pyStrRepr(k)}: ${pyRepr(v)}`)
      .join(", ")}}`;
  }
  return String(value);
}

/** Python's `str()` (bcc's `%s`): strings as they are, anything else as its repr. */
export function pyStr(value: unknown): string {
  return typeof value === "string" ? value : pyRepr(value);
}
