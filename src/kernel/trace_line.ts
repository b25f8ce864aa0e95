// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Parser for lines of tracefs `trace_pipe` (as bcc's `BPF.trace_fields()`
 * reads them) and a Python `str.format`-compatible formatter for
 * `trace_print(fmt=...)`.
 *
 * A `trace_pipe` line, with the default `context-info` option, looks like
 *
 * ```text
 *            <...>-12345   [001] d..31  5678.123456: bpf_trace_printk: hello world
 *             bash-1234    (   1230) [000] d..3.     1.000000: bpf_trace_printk: x
 *             bash-1234    [000] ....  1234.567890: 0: hello
 * ```
 *
 * i.e. `%16s-%-Nd` (task, pid), an optional `(tgid)` column when the
 * `record-tgid` option is on (`(-------)` when unknown), `[cpu]`, optional
 * irq/preempt flags when `irq-info` is on (4 characters on older kernels,
 * 5 or more on newer ones), the timestamp (`secs.usecs`, or a raw integer
 * with counter clocks), then `event: message`. Kernels before 5.x printed
 * `bpf_trace_printk` output through `trace_printk`, so the event column is
 * an instruction address or `0` instead of `bpf_trace_printk`.
 *
 * @module
 */

import { formatFloatBody } from "../format/printf.js";
import { pyFloatRepr, pyStrRepr } from "../format/pyrepr.js";

/** One parsed `trace_pipe` line. */
export interface TraceLine {
  /** Task (comm) name; `<...>` when the kernel did not save it. May contain spaces and dashes. */
  task: string;
  /** Thread id of the task that emitted the event. */
  pid: number;
  /** Thread-group id, present only with the `record-tgid` option and when known. */
  tgid?: number;
  /** CPU the event was recorded on. */
  cpu: number;
  /** irq/preempt flags column (e.g. `d..31`), or `""` when the `irq-info` option is off. */
  flags: string;
  /** Timestamp in seconds (raw counter value for non-nanosecond trace clocks). */
  ts: number;
  /**
   * Event name column: `bpf_trace_printk` on current kernels, `0` or an
   * address/symbol on older kernels, another event name (e.g. `sched_switch`)
   * for other tracers, or `""` when the line has no `name: ` column.
   */
  event: string;
  /** Message text after `event: `, with internal and trailing spacing kept (final newline removed). */
  msg: string;
}

/** A `CPU:N [LOST M EVENTS]` marker emitted when the ring buffer overflowed. */
export interface LostEvents {
  /** Number of lost events, or -1 when the kernel printed `[LOST EVENTS]` without a count. */
  lostEvents: number;
  /** CPU whose buffer lost the events. */
  cpu: number;
}

const LOST_RE = /^\s*CPU:(\d+) \[LOST (?:(\d+) )?EVENTS\]\s*$/;

// task-pid, optional (tgid), [cpu], optional flags, timestamp, rest.
// The task is matched lazily so the pid is the first "-digits" that is
// followed by whitespace and the tgid or cpu column: task names may contain
// dashes, spaces, digits and parentheses, but not that whole sequence.
const LINE_RE =
  /^\s*(.*?)-(\d+)\s+(?:\(\s*(\d+|-+)\s*\)\s+)?\[(\d+)\]\s+(?:([^\s:]+)\s+)?(\d+(?:\.\d+)?):(?: (.*))?$/s;

const EVENT_RE = /^([^\s:]+):(?: (.*))?$/s;

/**
 * Parse one `trace_pipe` line.
 *
 * Returns a {@link LostEvents} for lost-event markers, a {@link TraceLine}
 * for event lines (of any event; callers wanting only `bpf_trace_printk`
 * output filter on `event`), and `null` for header lines starting with `#`,
 * blank lines and anything else that does not parse.
 */
export function parseTraceLine(line: string): TraceLine | LostEvents | null {
  let text = line;
  if (text.endsWith("\n")) text = text.slice(0, text.endsWith("\r\n") ? -2 : -1);
  if (text.trim() === "" || text.trimStart().startsWith("#")) return null;

  const lost = LOST_RE.exec(text);
  if (lost) {
    return { lostEvents: lost[2] === undefined ? -1 : Number(lost[2]), cpu: Number(lost[1]) };
  }

  const m = LINE_RE.exec(text);
  if (!m) return null;
  const rest = m[7] ?? "";
  const ev = EVENT_RE.exec(rest);
  const result: TraceLine = {
    task: m[1] ?? "",
    pid: Number(m[2]),
    cpu: Number(m[4]),
    flags: m[5] ?? "",
    ts: Number(m[6]),
    event: ev ? (ev[1] ?? "") : "",
    msg: ev ? (ev[2] ?? "") : rest,
  };
  const tgid = m[3];
  if (tgid !== undefined && /^\d+$/.test(tgid)) result.tgid = Number(tgid);
  return result;
}

/** True when `x` is a {@link LostEvents} marker rather than a {@link TraceLine}. */
export function isLostEvents(x: TraceLine | LostEvents): x is LostEvents {
  return "lostEvents" in x;
}

/** A value handed to the formatter; `float` marks Python floats (the timestamp). */
interface FieldValue {
  v: string | number;
  float: boolean;
}

/**
 * Format a trace line like bcc's `trace_print(fmt=...)`, i.e. Python's
 * `fmt.format(task, pid, cpu, flags, ts, msg)`.
 *
 * Placeholders are `{0}`..`{5}` (or `{}` for automatic numbering, or the
 * names `{task} {pid} {tgid} {cpu} {flags} {ts} {event} {msg}`), optionally
 * with a `!s`/`!r` conversion and a format spec
 * `[[fill]align][sign][#][0][width][,|_][.precision][type]` where align is
 * one of `< > ^ =` and type one of `s d b o x X c e E f F g G %`.
 * `{{` and `}}` are literal braces. As in Python, strings align left and
 * numbers right by default, and the timestamp without a type prints like
 * Python's `repr(float)` (e.g. `5678.0`).
 *
 * @throws RangeError for an out-of-range index or unknown field name;
 *   Error for a malformed format or a type code that does not fit the field.
 */
export function formatTraceFields(line: TraceLine, fmt: string): string {
  const str = (v: string): FieldValue => ({ v, float: false });
  const int = (v: number): FieldValue => ({ v, float: false });
  const positional: FieldValue[] = [
    str(line.task),
    int(line.pid),
    int(line.cpu),
    str(line.flags),
    { v: line.ts, float: true },
    str(line.msg),
  ];
  const named: Record<string, FieldValue> = {
    task: str(line.task),
    pid: int(line.pid),
    tgid: line.tgid === undefined ? str("") : int(line.tgid),
    cpu: int(line.cpu),
    flags: str(line.flags),
    ts: { v: line.ts, float: true },
    event: str(line.event),
    msg: str(line.msg),
  };
  let out = "";
  let auto = 0;
  let i = 0;
  while (i < fmt.length) {
    const ch = fmt[i] as string;
    if (ch === "}") {
      if (fmt[i + 1] === "}") {
        out += "}";
        i += 2;
        continue;
      }
      throw new Error(`formatTraceFields: single '}' at index ${i} of ${JSON.stringify(fmt)}`);
    }
    if (ch !== "{") {
      out += ch;
      i++;
      continue;
    }
    if (fmt[i + 1] === "{") {
      out += "{";
      i += 2;
      continue;
    }
    const close = fmt.indexOf("}", i + 1);
    if (close < 0) {
      throw new Error(`formatTraceFields: unmatched '{' at index ${i} of ${JSON.stringify(fmt)}`);
    }
    const field = fmt.slice(i + 1, close);
    i = close + 1;
    const fm = /^([^!:]*)(?:!([sr]))?(?::(.*))?$/s.exec(field);
    if (!fm) throw new Error(`formatTraceFields: bad replacement field {${field}}`);
    const key = fm[1] ?? "";
    let value: FieldValue;
    if (key === "" || /^\d+$/.test(key)) {
      const idx = key === "" ? auto++ : Number(key);
      const v = positional[idx];
      if (v === undefined) {
        throw new RangeError(
          `formatTraceFields: replacement index ${idx} out of range; ` +
            "fields are {0}=task {1}=pid {2}=cpu {3}=flags {4}=ts {5}=msg",
        );
      }
      value = v;
    } else {
      const v = named[key];
      if (v === undefined) throw new RangeError(`formatTraceFields: unknown field name {${key}}`);
      value = v;
    }
    if (fm[2] !== undefined) {
      const text =
        typeof value.v === "string" ? value.v : value.float ? pyFloatRepr(value.v) : String(value.v);
      value = str(fm[2] === "r" && typeof value.v === "string" ? pyStrRepr(text) : text);
    }
    out += formatValue(value, fm[3] ?? "");
  }
  return out;
}

const SPEC_RE = /^(?:([\s\S])?([<>=^]))?([-+ ])?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([sdboxXceEfFgG%])?$/;

function formatValue(value: FieldValue, spec: string): string {
  const m = SPEC_RE.exec(spec);
  if (!m) throw new Error(`formatTraceFields: invalid format spec ${JSON.stringify(spec)}`);
  let fill = m[1] ?? " ";
  let align = m[2];
  const sign = m[3] ?? "-";
  const alt = m[4] !== undefined;
  const width = m[6] === undefined ? 0 : Number(m[6]);
  const grouping = m[7];
  const precision = m[8] === undefined ? undefined : Number(m[8]);
  const type = m[9];
  if (m[5] !== undefined && align === undefined) {
    fill = "0";
    align = "=";
  }

  const v = value.v;
  if (typeof v === "string") {
    if (type !== undefined && type !== "s") {
      throw new Error(`formatTraceFields: unknown format code '${type}' for a string field`);
    }
    if (align === "=") throw new Error("formatTraceFields: '=' alignment not allowed for a string field");
    if (m[3] !== undefined) throw new Error("formatTraceFields: sign not allowed for a string field");
    const s = precision === undefined ? v : [...v].slice(0, precision).join("");
    return align3(s, "", width, fill, align ?? "<");
  }

  let negative = v < 0 || Object.is(v, -0);
  const abs = Math.abs(v);
  let body: string;
  if (type === "s") throw new Error("formatTraceFields: unknown format code 's' for a numeric field");
  if (type !== undefined && "eEfFgG%".includes(type)) {
    const p = precision ?? 6;
    body = type === "%" ? `${formatFloatBody(abs * 100, "f", p, alt)}%` : formatFloatBody(abs, type, p, alt);
    if (grouping) body = group(body, grouping);
  } else if (value.float) {
    if (type !== undefined) {
      throw new Error(`formatTraceFields: unknown format code '${type}' for the float field ts`);
    }
    if (precision === undefined) body = pyFloatRepr(abs);
    else {
      body = formatFloatBody(abs, "g", precision, alt);
      if (/^\d+$/.test(body)) body += ".0";
    }
    if (grouping) body = group(body, grouping);
  } else {
    if (precision !== undefined)
      throw new Error("formatTraceFields: precision not allowed for an integer field");
    const t = type ?? "d";
    if (t === "c") {
      body = String.fromCodePoint(v);
      negative = false;
    } else {
      const radix = t === "x" || t === "X" ? 16 : t === "o" ? 8 : t === "b" ? 2 : 10;
      body = abs.toString(radix);
      if (t === "X") body = body.toUpperCase();
      if (grouping && radix === 10) body = group(body, grouping);
      if (alt && radix !== 10) body = (t === "X" ? "0X" : t === "x" ? "0x" : t === "o" ? "0o" : "0b") + body;
    }
  }
  const signText = negative ? "-" : sign === "+" ? "+" : sign === " " ? " " : "";
  return align3(body, signText, width, fill, align ?? ">");
}

function group(body: string, sep: string): string {
  const m = /^(\d+)(.*)$/s.exec(body);
  if (!m) return body;
  const int = (m[1] ?? "").replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  return int + (m[2] ?? "");
}

function align3(body: string, sign: string, width: number, fill: string, align: string): string {
  const len = [...body].length + sign.length;
  if (len >= width) return sign + body;
  const n = width - len;
  switch (align) {
    case "<":
      return sign + body + fill.repeat(n);
    case "^": {
      const left = Math.floor(n / 2);
      return fill.repeat(left) + sign + body + fill.repeat(n - left);
    }
    case "=":
      return sign + fill.repeat(n) + body;
    default:
      return fill.repeat(n) + sign + body;
  }
}
