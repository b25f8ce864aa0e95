// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * bcc's histogram printers — `print_log2_hist`, `print_linear_hist` and
 * `print_json_hist` from `bcc/table.py` — reproduced character for character
 * as pure functions over already-read map contents.
 *
 * The input is the histogram map's entries. A plain integer key is the slot
 * (bucket index). An object key is bcc's "struct key": its first field is the
 * section (for example a disk name) and its second field is the slot, unless a
 * field is named `slot`, in which case that is the slot and the first other
 * field is the section (this agrees with bcc for the usual
 * `struct { section; u64 slot; }` layout). `splitKey` handles any other shape.
 *
 * Deliberately reproduced bcc behaviours:
 * - log2 slot 0 is never printed, but its count still takes part in the star
 *   scaling (bcc computes `val_max` over every slot);
 * - the log2 header is printed only when a slot above 0 holds a positive
 *   count, the linear header when any slot does; an empty histogram prints
 *   nothing at all;
 * - when the highest positive log2 slot is above 32 the wide layout is used
 *   (`%20d -> %-20d`, a 20-star bar);
 * - rows stop at the highest positive slot; zero rows before it are printed
 *   unless `stripLeadingZero` is set, which drops only the zero rows before
 *   the first non-zero one;
 * - sections appear in the order their first entry appears (bcc's dict
 *   insertion order), not sorted, unless a sort is given;
 * - entries mapped to the same section and slot overwrite each other (bcc's
 *   `vals[slot] = v.value`), they are not summed;
 * - section headers use Python's `%r` of the section value when no
 *   `sectionPrintFn` is given (`'sda'`, `b'sda'`, `(1, 2)`, `5`);
 * - the "JSON" histogram is printed as Python prints a dict (single quotes,
 *   `'ts': 'YYYY-mm-dd HH:MM:SS'` in local time), one line per section;
 * - star counts use Python's true division (correctly rounded to a double)
 *   even for bigint counts, so they match bcc exactly.
 *
 * @module
 */
import { PyList, pyFloatRepr, pyRepr, pyStr, pyStrRepr } from "../format/pyrepr.js";

export { pyRepr };

/** A histogram map key: the slot itself, or a struct key holding a section and a slot. */
export type HistKey = number | bigint | Record<string, unknown>;

/** A histogram count (per-CPU counters summed by the caller may be bigint). */
export type HistValue = number | bigint;

/** One histogram map entry, as read from the map. */
export interface HistEntry {
  /** The map key: a slot index, or a struct key with a section and a slot. */
  key: HistKey;
  /** The count stored in that slot. */
  value: HistValue;
}

/**
 * Options shared by all histogram printers, mirroring bcc's keyword
 * arguments for histograms with a secondary (section) key.
 */
export interface HistSectionOptions {
  /** Label printed before each section (bcc's `section_header`); default `"Bucket ptr"`. */
  sectionHeader?: string;
  /**
   * Formats a section value for its header (bcc's `section_print_fn`); the
   * result is printed with Python's `%s`. In the JSON printer the result is
   * stored as the section field's value.
   */
  sectionPrintFn?(section: unknown): unknown;
  /**
   * Maps the key's section field to the section value to group by (bcc's
   * `bucket_fn`, which receives the first field of the key struct, not the
   * whole key). Arrays returned here behave like Python tuples.
   */
  bucketFn?(sectionField: unknown): unknown;
  /**
   * Reorders the list of section values (bcc's `bucket_sort_fn`: it receives
   * the list and returns the list to iterate). Takes precedence over `bucketSort`.
   */
  bucketSortFn?(sections: unknown[]): Iterable<unknown>;
  /** A comparator to sort section values with (a convenience beside `bucketSortFn`). */
  bucketSort?(a: unknown, b: unknown): number;
  /**
   * Splits a key into `[section, slot]`, for keys whose layout the default
   * rule (first field = section, `slot` or second field = slot) does not fit.
   * Its section still goes through `bucketFn`. Implies the sectioned layout.
   */
  splitKey?(key: HistKey): readonly [section: unknown, slot: number | bigint];
  /**
   * Forces the sectioned (struct key) layout on or off. By default it is used
   * when the first key is an object; this only matters for an empty histogram
   * with the JSON printer, where bcc prints one empty record for a plain key
   * and nothing for a struct key.
   */
  sectioned?: boolean;
}

/** Options of {@link formatLog2Hist} (bcc's `print_log2_hist` keyword arguments). */
export interface Log2HistOptions extends HistSectionOptions {
  /** Omit the zero rows before the first non-zero row (bcc's `strip_leading_zero`). */
  stripLeadingZero?: boolean;
}

/** Options of {@link formatLinearHist} (bcc's `print_linear_hist` keyword arguments). */
export interface LinearHistOptions extends HistSectionOptions {
  /** Omit the zero rows before the first non-zero row (bcc's `strip_leading_zero`). */
  stripLeadingZero?: boolean;
}

/** Options of {@link formatJsonHist} and {@link jsonHist}. */
export interface JsonHistOptions extends HistSectionOptions {
  /** Clock for the `ts` field (local time is printed); default `() => new Date()`. */
  now?: () => Date;
  /**
   * Text style of {@link formatJsonHist}: `"python"` (default) prints each
   * record exactly as bcc does (`print(dict)`, Python's repr); `"json"` prints
   * real JSON laid out like Python's `json.dumps` (`", "` and `": "`
   * separators, non-ASCII escaped).
   */
  style?: "python" | "json";
}

/** Where the `print*` functions write; default `process.stdout`. */
export interface HistWriteOption {
  /** Receives the whole formatted text in one call. */
  write?: (text: string) => void;
}

/** An integer in a JSON histogram: a number when it is a safe integer, else a bigint. */
export type HistInt = number | bigint;

/** One row of a JSON histogram's `data`: a log2 bucket's interval and count. */
export interface JsonHistRow {
  /** First value of the bucket's interval. */
  "interval-start": HistInt;
  /** Last value of the bucket's interval. */
  "interval-end": HistInt;
  /** The bucket's count. */
  count: HistInt;
}

/**
 * One record printed by bcc's `print_json_hist`: `ts`, `val_type`, `data`,
 * and for a sectioned histogram a field named after the section header
 * holding the section (or `sectionPrintFn`'s result).
 */
export interface JsonHistRecord {
  /** Local time, `YYYY-mm-dd HH:MM:SS` (Python's `strftime("%Y-%m-%d %H:%M:%S")`). */
  ts: string;
  /** The `valType` argument. */
  val_type: string;
  /** One row per log2 bucket from slot 1 to the highest non-zero slot. */
  data: JsonHistRow[];
  /** The section field, named after `sectionHeader`. */
  [sectionHeader: string]: unknown;
}

/** bcc's `stars_max`: the width of the distribution bar. */
const STARS_MAX = 40;
/** bcc's `log2_index_max`: slots 0..64, enough for any 64-bit value. */
const LOG2_INDEX_MAX = 65;
/** bcc's `linear_index_max`. */
const LINEAR_INDEX_MAX = 1025;
const DEFAULT_SECTION_HEADER = "Bucket ptr";
const DEFAULT_VAL_TYPE = "value";

// ---------------------------------------------------------------------------
// Python-compatible helpers
// ---------------------------------------------------------------------------

/** Number of code points, which is what Python's `%-Ns` pads by. */
function pyLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function ljust(s: string, width: number): string {
  const len = pyLen(s);
  return len >= width ? s : s + " ".repeat(width - len);
}

function rjust(s: string, width: number): string {
  const len = pyLen(s);
  return len >= width ? s : " ".repeat(width - len) + s;
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** Multiply by 2**exp without overflowing or underflowing the scale factor itself. */
function scaleByPow2(x: number, exp: number): number {
  let r = x;
  let e = exp;
  while (e > 1000) {
    r *= 2 ** 1000;
    e -= 1000;
  }
  while (e < -1000) {
    r *= 2 ** -1000;
    e += 1000;
  }
  return r * 2 ** e;
}

/** Python's `a / b` on ints: the exact quotient correctly rounded to a double. */
function pyTrueDiv(a: bigint, b: bigint): number {
  if (b === 0n) throw new RangeError("histogram: division by zero");
  const negative = a < 0n !== b < 0n;
  const n = a < 0n ? -a : a;
  const d = b < 0n ? -b : b;
  let result: number;
  const exact = 1n << 53n;
  if (n <= exact && d <= exact) {
    result = Number(n) / Number(d);
  } else {
    // Keep at least 55 quotient bits plus a sticky bit, so that Number()'s
    // round-half-even conversion rounds the exact quotient correctly.
    const shift = 55 - (bitLength(n) - bitLength(d));
    const num = shift >= 0 ? n << BigInt(shift) : n;
    const den = shift >= 0 ? d : d << BigInt(-shift);
    const q = num / den;
    const sticky = num % den === 0n ? 0n : 1n;
    result = scaleByPow2(Number((q << 1n) | sticky), -(shift + 1));
  }
  return negative ? -result : result;
}

function toCount(v: HistValue, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  throw new TypeError(`histogram: ${what} must be an integer number or a bigint, got ${String(v)}`);
}

function toSafe(v: bigint): HistInt {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Marks an array that Python holds as a list (printed `[...]`), not a tuple. */
/** Python's `json.dumps()` string literal (`ensure_ascii=True`). */
function jsonStr(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i] ?? "";
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Python's `json.dumps()` layout (`", "` / `": "` separators) of a JavaScript value. */
function pyJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (Number.isInteger(value) && !Object.is(value, -0)) return BigInt(value).toString();
    if (Number.isNaN(value)) return "NaN";
    if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
    return pyFloatRepr(value);
  }
  if (typeof value === "string") return jsonStr(value);
  if (value instanceof Uint8Array) return `[${[...value].join(", ")}]`;
  if (value instanceof PyList) return pyJson(value.items);
  if (Array.isArray(value)) return `[${value.map(pyJson).join(", ")}]`;
  if (value instanceof Map) {
    return `{${[...value].map(([k, v]) => `${jsonStr(pyStr(k))}: ${pyJson(v)}`).join(", ")}}`;
  }
  if (typeof value === "object") {
    return `{${Object.entries(value)
      .map(([k, v]) => `${jsonStr(k)}: ${pyJson(v)}`)
      .join(", ")}}`;
  }
  return jsonStr(String(value));
}

/** Python's `strftime("%Y-%m-%d %H:%M:%S")` in local time. */
function strftimeLocal(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}

// ---------------------------------------------------------------------------
// Stars and the per-histogram printers (bcc's _stars, _print_log2_hist,
// _print_linear_hist, _get_json_hist)
// ---------------------------------------------------------------------------

/**
 * bcc's `_stars(val, val_max, width)`: a bar of `floor(width * val / val_max)`
 * stars (Python float division), at most `width` long; when `val` exceeds
 * `valMax` the last character becomes `+`. The printers never hit that case,
 * because they take `valMax` from the same histogram.
 *
 * @throws RangeError when `valMax` is zero (Python's ZeroDivisionError).
 */
export function stars(val: HistValue, valMax: HistValue, width: number): string {
  const v = toCount(val, "val");
  const m = toCount(valMax, "valMax");
  const x = pyTrueDiv(BigInt(Math.trunc(width)) * v, m);
  let text = "";
  for (let i = 0; !(i > x - 1 || i > width - 1); i++) text += "*";
  if (v > m) text = `${text.slice(0, -1)}+`;
  return text;
}

function maxima(vals: readonly bigint[]): { idxMax: number; valMax: bigint } {
  let idxMax = -1;
  let valMax = 0n;
  vals.forEach((v, i) => {
    if (v > 0n) idxMax = i;
    if (v > valMax) valMax = v;
  });
  return { idxMax, valMax };
}

function log2Lines(vals: readonly bigint[], valType: string, stripLeadingZero: boolean): string {
  const { idxMax, valMax } = maxima(vals);
  const wide = idxMax > 32;
  const numWidth = wide ? 20 : 10;
  const barWidth = wide ? Math.trunc(STARS_MAX / 2) : STARS_MAX;
  let out = "";
  if (idxMax > 0) {
    out += wide
      ? `${" ".repeat(15)}${ljust(valType, 29)} : count     distribution\n`
      : `${" ".repeat(5)}${ljust(valType, 19)} : count     distribution\n`;
  }
  let strip = stripLeadingZero;
  for (let i = 1; i <= idxMax; i++) {
    let low = (1n << BigInt(i)) >> 1n;
    const high = (1n << BigInt(i)) - 1n;
    if (low === high) low -= 1n;
    const val = vals[i] ?? 0n;
    if (strip && val === 0n) continue;
    strip = false;
    out +=
      `${rjust(low.toString(), numWidth)} -> ${ljust(high.toString(), numWidth)} : ` +
      `${ljust(val.toString(), 8)} |${ljust(stars(val, valMax, barWidth), barWidth)}|\n`;
  }
  return out;
}

function linearLines(vals: readonly bigint[], valType: string, stripLeadingZero: boolean): string {
  const { idxMax, valMax } = maxima(vals);
  let out = "";
  if (idxMax >= 0) out += `${" ".repeat(5)}${ljust(valType, 13)} : count     distribution\n`;
  let strip = stripLeadingZero;
  for (let i = 0; i <= idxMax; i++) {
    const val = vals[i] ?? 0n;
    if (strip && val === 0n) continue;
    strip = false;
    out +=
      `${" ".repeat(8)}${ljust(String(i), 10)} : ${ljust(val.toString(), 8)} ` +
      `|${ljust(stars(val, valMax, STARS_MAX), STARS_MAX)}|\n`;
  }
  return out;
}

/** A record as ordered fields, so an integer-like section header keeps its place. */
type OrderedRecord = Array<[string, unknown]>;

function jsonRecord(
  vals: readonly bigint[],
  valType: string,
  ts: string,
  section: readonly [string, unknown] | undefined,
): OrderedRecord {
  let maxNonzero = 0;
  vals.forEach((v, i) => {
    if (v !== 0n) maxNonzero = i;
  });
  const data: JsonHistRow[] = [];
  let index = 1n;
  let prev = 0n;
  for (let i = 1; i <= maxNonzero; i++) {
    index *= 2n;
    data.push({
      "interval-start": toSafe(prev),
      "interval-end": toSafe(index - 1n),
      count: toSafe(vals[i] ?? 0n),
    });
    prev = index;
  }
  const rec: OrderedRecord = [
    ["ts", ts],
    ["val_type", valType],
    ["data", new PyList(data)],
  ];
  if (section) {
    const existing = rec.find(([k]) => k === section[0]);
    if (existing) existing[1] = section[1];
    else rec.push([section[0], section[1]]);
  }
  return rec;
}

// ---------------------------------------------------------------------------
// Grouping entries into sections (bcc's decode_c_struct)
// ---------------------------------------------------------------------------

interface Grouped {
  /** Whether the struct-key (sectioned) layout applies. */
  sectioned: boolean;
  /** Sections in print order; a single unnamed one when not sectioned. */
  sections: Array<{ section: unknown; vals: bigint[] }>;
}

function slotIndex(slot: unknown, indexMax: number, fn: string): number {
  let n: number;
  if (typeof slot === "bigint") {
    n = slot >= 0n && slot < BigInt(indexMax) ? Number(slot) : -1;
  } else if (typeof slot === "number" && Number.isInteger(slot)) {
    n = slot;
  } else {
    throw new TypeError(`histogram: ${fn}() slot must be an integer, got ${pyRepr(slot)}`);
  }
  if (n < 0 || n >= indexMax) {
    throw new RangeError(`Index in ${fn}() of ${pyRepr(slot)} exceeds max of ${indexMax}.`);
  }
  return n;
}

/** bcc's field choice: section = first field, slot = second (skipping `__pad_1`), or the `slot` field. */
function defaultSplit(key: HistKey): readonly [unknown, unknown] {
  if (typeof key !== "object" || key === null) {
    throw new TypeError(`histogram: cannot split key ${pyRepr(key)} into a section and a slot`);
  }
  const names = Object.keys(key);
  if (Object.hasOwn(key, "slot")) {
    const sectionName = names.find((n) => n !== "slot" && !n.startsWith("__pad"));
    if (sectionName === undefined) {
      throw new TypeError("histogram: a struct key needs a section field besides `slot`");
    }
    return [key[sectionName], key.slot];
  }
  const f1 = names[0];
  let f2 = names[1];
  if (f2 === "__pad_1" && names.length === 3) f2 = names[2];
  if (f1 === undefined || f2 === undefined) {
    throw new TypeError("histogram: a struct key needs a section field and a slot field");
  }
  return [key[f1], key[f2]];
}

function group(
  entries: Iterable<HistEntry>,
  opts: HistSectionOptions,
  indexMax: number,
  fn: string,
): Grouped {
  const list = [...entries];
  const first = list[0]?.key;
  const sectioned =
    opts.sectioned ??
    (opts.splitKey !== undefined || (first !== undefined && typeof first === "object" && first !== null));
  if (!sectioned) {
    const vals = new Array<bigint>(indexMax).fill(0n);
    for (const { key, value } of list) {
      vals[slotIndex(key, indexMax, fn)] = toCount(value, "histogram value");
    }
    return { sectioned, sections: [{ section: undefined, vals }] };
  }
  const byRepr = new Map<string, { section: unknown; vals: bigint[] }>();
  for (const { key, value } of list) {
    const [field, slot] = opts.splitKey ? opts.splitKey(key) : defaultSplit(key);
    const section = opts.bucketFn ? opts.bucketFn(field) : field;
    const id = pyRepr(section);
    let sec = byRepr.get(id);
    if (!sec) {
      sec = { section, vals: new Array<bigint>(indexMax).fill(0n) };
      byRepr.set(id, sec);
    }
    sec.vals[slotIndex(slot, indexMax, fn)] = toCount(value, "histogram value");
  }
  let order: unknown[] = [...byRepr.values()].map((s) => s.section);
  if (opts.bucketSortFn) order = [...opts.bucketSortFn(order)];
  else if (opts.bucketSort) order = order.sort((a, b) => opts.bucketSort?.(a, b) ?? 0);
  const sections = order.map((section) => {
    const sec = byRepr.get(pyRepr(section));
    if (!sec) throw new Error(`histogram: bucketSortFn returned unknown section ${pyRepr(section)}`);
    return sec;
  });
  return { sectioned, sections };
}

/**
 * A struct-keyed histogram's entries grouped by section: each section (the
 * key's first field through bucketFn) with its slot counts, in print order
 * (bucketSortFn's, else first seen). What bcc's TableBase.decode_c_struct
 * computes for the histogram printers.
 */
export function histogramSections(
  entries: Iterable<HistEntry>,
  opts: HistSectionOptions,
  indexMax: number,
): Map<unknown, bigint[]> {
  const g = group(entries, { ...opts, sectioned: true }, indexMax, "decodeCStruct");
  return new Map(g.sections.map((s) => [s.section, s.vals]));
}

function sectionTitle(opts: HistSectionOptions, section: unknown): string {
  const header = opts.sectionHeader ?? DEFAULT_SECTION_HEADER;
  const shown = opts.sectionPrintFn ? pyStr(opts.sectionPrintFn(section)) : pyRepr(section);
  return `\n${header} = ${shown}\n`;
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * The text bcc's `print_log2_hist(val_type, section_header, section_print_fn,
 * bucket_fn, strip_leading_zero, bucket_sort_fn)` prints for these entries.
 *
 * Slot `i` (1..64) is shown as `2^(i-1) -> 2^i - 1`, slot 1 as `0 -> 1`; slot
 * 0 is never shown. Every line, including the last, ends with `"\n"`; an
 * empty (or all-zero) histogram gives `""`.
 *
 * @param entries - the histogram map's entries (slot keys or struct keys).
 * @param valType - the column label (bcc's `val_type`), default `"value"`.
 * @param opts - bcc's keyword arguments; see {@link Log2HistOptions}.
 * @throws RangeError when a slot is outside 0..64.
 * @throws TypeError when a key or count is not an integer.
 */
export function formatLog2Hist(
  entries: Iterable<HistEntry>,
  valType: string = DEFAULT_VAL_TYPE,
  opts: Log2HistOptions = {},
): string {
  const g = group(entries, opts, LOG2_INDEX_MAX, "print_log2_hist");
  const strip = opts.stripLeadingZero ?? false;
  let out = "";
  for (const { section, vals } of g.sections) {
    if (g.sectioned) out += sectionTitle(opts, section);
    out += log2Lines(vals, valType, strip);
  }
  return out;
}

/**
 * The text bcc's `print_linear_hist(val_type, section_header,
 * section_print_fn, bucket_fn, strip_leading_zero, bucket_sort_fn)` prints:
 * one row per slot from 0 to the highest non-zero slot (gaps included as
 * zero rows), slots being the values themselves.
 *
 * @param entries - the histogram map's entries (slot keys or struct keys).
 * @param valType - the column label (bcc's `val_type`), default `"value"`.
 * @param opts - bcc's keyword arguments; see {@link LinearHistOptions}.
 * @throws RangeError when a slot is outside 0..1024 (bcc's `linear_index_max`).
 * @throws TypeError when a key or count is not an integer.
 */
export function formatLinearHist(
  entries: Iterable<HistEntry>,
  valType: string = DEFAULT_VAL_TYPE,
  opts: LinearHistOptions = {},
): string {
  const g = group(entries, opts, LINEAR_INDEX_MAX, "print_linear_hist");
  const strip = opts.stripLeadingZero ?? false;
  let out = "";
  for (const { section, vals } of g.sections) {
    if (g.sectioned) out += sectionTitle(opts, section);
    out += linearLines(vals, valType, strip);
  }
  return out;
}

function jsonRecords(entries: Iterable<HistEntry>, valType: string, opts: JsonHistOptions): OrderedRecord[] {
  const g = group(entries, opts, LOG2_INDEX_MAX, "print_json_hist");
  const now = opts.now ?? (() => new Date());
  const header = opts.sectionHeader ?? DEFAULT_SECTION_HEADER;
  return g.sections.map(({ section, vals }) => {
    const ts = strftimeLocal(now());
    if (!g.sectioned) return jsonRecord(vals, valType, ts, undefined);
    const shown = opts.sectionPrintFn ? opts.sectionPrintFn(section) : section;
    return jsonRecord(vals, valType, ts, [header, shown]);
  });
}

/**
 * The records bcc's `print_json_hist(val_type, section_header,
 * section_print_fn, bucket_fn, bucket_sort_fn)` prints, as objects: one per
 * section (one in all for plain slot keys), each with `ts`, `val_type`,
 * `data` rows `{interval-start, interval-end, count}` for slots 1 up to the
 * highest non-zero slot, and the section under the `sectionHeader` name.
 *
 * @param entries - the histogram map's entries (slot keys or struct keys).
 * @param valType - bcc's `val_type`, default `"value"`.
 * @param opts - bcc's keyword arguments plus a clock; see {@link JsonHistOptions}.
 * @throws RangeError when a slot is outside 0..64.
 */
export function jsonHist(
  entries: Iterable<HistEntry>,
  valType: string = DEFAULT_VAL_TYPE,
  opts: JsonHistOptions = {},
): JsonHistRecord[] {
  return jsonRecords(entries, valType, opts).map(
    (rec) =>
      Object.fromEntries(rec.map(([k, v]) => [k, v instanceof PyList ? [...v.items] : v])) as JsonHistRecord,
  );
}

/**
 * The text bcc's `print_json_hist` prints: each record of {@link jsonHist}
 * on its own line, as Python's `print(dict)` shows it (style `"python"`, the
 * default), or as `json.dumps` would (style `"json"`).
 *
 * @param entries - the histogram map's entries (slot keys or struct keys).
 * @param valType - bcc's `val_type`, default `"value"`.
 * @param opts - bcc's keyword arguments, a clock and the text style.
 * @throws RangeError when a slot is outside 0..64.
 */
export function formatJsonHist(
  entries: Iterable<HistEntry>,
  valType: string = DEFAULT_VAL_TYPE,
  opts: JsonHistOptions = {},
): string {
  const show = opts.style === "json" ? pyJson : pyRepr;
  const key = opts.style === "json" ? jsonStr : pyStrRepr;
  return jsonRecords(entries, valType, opts)
    .map((rec) => `{${rec.map(([k, v]) => `${key(k)}: ${show(v)}`).join(", ")}}\n`)
    .join("");
}

function emit(text: string, opts: HistWriteOption): void {
  if (opts.write) opts.write(text);
  else if (text !== "") process.stdout.write(text);
}

/**
 * bcc's `print_log2_hist`: writes {@link formatLog2Hist}'s text to
 * `opts.write`, or to `process.stdout`.
 */
export function printLog2Hist(
  entries: Iterable<HistEntry>,
  valType: string = DEFAULT_VAL_TYPE,
  opts: Log2HistOptions & HistWriteOption = {},
): void {
  emit(formatLog2Hist(entries, valType, opts), opts);
}

/**
 * bcc's `print_linear_hist`: writes {@link formatLinearHist}'s text to
 * `opts.write`, or to `process.stdout`.
 */
export function printLinearHist(
  entries: Iterable<HistEntry>,
  valType: string = DEFAULT_VAL_TYPE,
  opts: LinearHistOptions & HistWriteOption = {},
): void {
  emit(formatLinearHist(entries, valType, opts), opts);
}

/**
 * bcc's `print_json_hist`: writes {@link formatJsonHist}'s text to
 * `opts.write`, or to `process.stdout`.
 */
export function printJsonHist(
  entries: Iterable<HistEntry>,
  valType: string = DEFAULT_VAL_TYPE,
  opts: JsonHistOptions & HistWriteOption = {},
): void {
  emit(formatJsonHist(entries, valType, opts), opts);
}
