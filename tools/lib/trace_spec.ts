/**
 * bcc trace's probe grammar, parsed without touching the kernel:
 *
 *   [p|r]:[lib]:func[+off][(signature)] [(filter)] ["format"[, arg…]]
 *   t:category:event [(filter)] ["format"[, arg…]]
 *   u:lib:[provider:]probe [(filter)] ["format"[, arg…]]
 *
 * `func` alone is `p::func`, `lib:func` is `p:lib:func`. The filter and the
 * arguments are C expressions (bcc's, with argN, retval, $pid…, STRCMP);
 * they are kept as text here and turned into C by trace_codegen.ts.
 */
import { UsageError } from "./args.js";

export type ProbeType = "p" | "r" | "t" | "u";

/** One conversion of the format string. */
export interface FormatSpec {
  /** The conversion letter as bcc names the type: d u x X c s K U (with its length: "lld" → "d"). */
  conv: "d" | "u" | "x" | "X" | "c" | "s" | "K" | "U";
  /** Width in bits of the C type the argument is cast to (8, 16, 32, 64); 64 for s, K, U. */
  bits: number;
  /** The C type the argument is cast to ("long long", "char *" for s). */
  ctype: string;
  /** printf flags and width before the conversion ("-8", "08"). */
  flags: string;
}

/** A piece of the message: literal text, or the index of an argument and how to print it. */
export type FormatPiece = string | { arg: number; spec: FormatSpec };

/** A parsed probe. */
export interface ProbeSpec {
  /** The text as typed. */
  raw: string;
  type: ProbeType;
  /** Library or executable of a uprobe or USDT probe ("c" is libc); "" for the kernel. */
  library: string;
  /** p/r: the function; t: the event; u: the probe name. */
  function: string;
  /** p: bytes past the function's start (0 when not given). */
  offset: number;
  /** t: the tracepoint's category. */
  category: string;
  /** u: the probe's provider, when given. */
  provider: string | undefined;
  /** The signature's parameters without the parentheses ("size_t size"), when given. */
  signature: string | undefined;
  /** The filter as typed, without its outer parentheses; undefined: every call. */
  filter: string | undefined;
  /** The format string's text between the quotes (C escapes decoded); "" when there is no action. */
  format: string;
  /** The format's pieces, literal text and conversions. */
  pieces: FormatPiece[];
  /** The conversions, one per argument. */
  specs: FormatSpec[];
  /** The arguments' C expressions as typed. */
  args: string[];
}

/** bcc's error form: the probe quoted, then what is wrong with it. */
function bail(raw: string, message: string): never {
  throw new UsageError(`error in probe '${raw}': ${message}`);
}

/** Index just past a C string or char literal that starts at text[i] (a quote), or -1 when it does not end. */
function skipLiteral(text: string, i: number): number {
  const q = text[i];
  for (let k = i + 1; k < text.length; k++) {
    if (text[k] === "\\") k++;
    else if (text[k] === q) return k + 1;
  }
  return -1;
}

/**
 * Index of the ")" that closes the "(" at text[open], skipping string and
 * char literals; -1 when it is not closed.
 */
export function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      const end = skipLiteral(text, i);
      if (end < 0) return -1;
      i = end - 1;
    } else if (c === "(") depth++;
    else if (c === ")") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Splits at the commas outside brackets and literals; each part trimmed. */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      const end = skipLiteral(text, i);
      if (end < 0) break;
      i = end - 1;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}

const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "\\": "\\",
  '"': '"',
  "'": "'",
  "0": "\0",
};

/** The text of a C string literal's body with its simple escapes decoded. */
function decodeEscapes(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === "x") return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    if (/^[0-7]+$/.test(e)) return String.fromCharCode(Number.parseInt(e, 8));
    return ESCAPES[e] ?? e;
  });
}

/** C types of bcc's conversions by length modifier and letter. */
function conversion(length: string, letter: string): FormatSpec | undefined {
  const intType = (base: string): { ctype: string; bits: number } | undefined => {
    const unsigned = base === "unsigned";
    const u = unsigned ? "unsigned " : "";
    switch (length) {
      case "":
        return { ctype: `${u}int`, bits: 32 };
      case "h":
        return { ctype: `${u}short`, bits: 16 };
      case "hh":
        return { ctype: unsigned ? "unsigned char" : "signed char", bits: 8 };
      case "l":
        return { ctype: `${u}long`, bits: 64 };
      case "ll":
        return { ctype: `${u}long long`, bits: 64 };
      default:
        return undefined;
    }
  };
  let t: { ctype: string; bits: number } | undefined;
  let conv: FormatSpec["conv"];
  switch (letter) {
    case "d":
    case "i":
      t = intType("signed");
      conv = "d";
      break;
    case "u":
    case "x":
    case "X":
      t = intType("unsigned");
      conv = letter;
      break;
    case "c":
      t = length === "" ? { ctype: "char", bits: 8 } : undefined;
      conv = "c";
      break;
    case "s":
    case "K":
    case "U":
      t = length === "" ? { ctype: letter === "s" ? "char *" : "unsigned long long", bits: 64 } : undefined;
      conv = letter;
      break;
    default:
      return undefined;
  }
  return t ? { conv, ctype: t.ctype, bits: t.bits, flags: "" } : undefined;
}

/** The format string's pieces: literal text (with %% as %) and conversions, numbered in order. */
export function parseFormat(raw: string, format: string): FormatPiece[] {
  const pieces: FormatPiece[] = [];
  let text = "";
  let n = 0;
  const re = /%([-0 +#]*\d*)(hh|h|ll|l)?([a-zA-Z%])?/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    text += format.slice(last, m.index);
    last = re.lastIndex;
    const [whole, flags = "", length = "", letter] = m;
    if (letter === "%" && flags === "" && length === "") {
      text += "%";
      continue;
    }
    const spec = letter === undefined ? undefined : conversion(length, letter);
    if (!spec)
      bail(raw, `unrecognized format specifier ${whole} (trace knows %d %u %x %c %s %K %U, with h, l or ll)`);
    if (text) pieces.push(text);
    text = "";
    pieces.push({ arg: n++, spec: { ...spec, flags } });
  }
  text += format.slice(last);
  if (text) pieces.push(text);
  return pieces;
}

/** The probe specifier: type, library, function (or event, or USDT probe) and offset. */
function parseSpecifier(
  raw: string,
  spec: string,
): Pick<ProbeSpec, "type" | "library" | "function" | "offset" | "category" | "provider"> {
  let parts = spec.split(":");
  if (parts.length === 1) parts = ["p", "", parts[0] as string];
  else if (parts.length === 2) parts = ["p", parts[0] as string, parts[1] as string];
  const kind = parts[0] === "" ? "p" : (parts[0] as string);
  if (!["p", "r", "t", "u"].includes(kind))
    bail(raw, `probe type must be '', 'p', 't', 'r', or 'u', but got '${kind}'`);
  const type = kind as ProbeType;
  const out = {
    type,
    library: "",
    function: "",
    offset: 0,
    category: "",
    provider: undefined as string | undefined,
  };
  if (type === "t") {
    if (parts.length !== 3 || !parts[1] || !parts[2]) bail(raw, "a tracepoint is t:category:event");
    out.category = parts[1] as string;
    out.function = parts[2] as string;
    return out;
  }
  if (type === "u") {
    if (parts.length < 3 || parts.length > 4 || !parts[1] || !parts.at(-1))
      bail(raw, "a USDT probe is u:library:probe or u:library:provider:probe");
    out.library = parts[1] as string;
    out.function = parts.at(-1) as string;
    if (parts.length === 4) out.provider = parts[2];
    return out;
  }
  out.library = parts.slice(1, -1).join(":");
  let fn = parts.at(-1) as string;
  const plus = fn.indexOf("+");
  if (plus >= 0) {
    const off = fn.slice(plus + 1);
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(off))
      bail(raw, `invalid offset format '${off}', must be decimal or hexadecimal`);
    if (type === "r") bail(raw, "a return probe cannot have an offset");
    out.offset = Number(off);
    fn = fn.slice(0, plus);
  }
  if (!/^[A-Za-z_.$][\w.$@]*$/.test(fn)) bail(raw, `'${fn}' is not a function name`);
  out.function = fn;
  return out;
}

/** Parses one probe of trace's command line; throws UsageError saying what is wrong. */
export function parseProbe(raw: string): ProbeSpec {
  const text = raw.trim();
  if (text === "") bail(raw, "empty probe");
  // The specifier runs to the first blank or "(" (a "(" right after it opens the signature).
  const specEnd = text.search(/[\s(]/);
  const spec = specEnd < 0 ? text : text.slice(0, specEnd);
  const probe = parseSpecifier(raw, spec);
  let rest = specEnd < 0 ? "" : text.slice(specEnd);
  let signature: string | undefined;
  if (rest.startsWith("(")) {
    const close = closingParen(rest, 0);
    if (close < 0) bail(raw, "unmatched ( in the function signature");
    signature = rest.slice(1, close).trim();
    rest = rest.slice(close + 1);
    if (probe.type === "t" || probe.type === "u")
      bail(raw, "USDT and tracepoint probes can't have a function signature; use arg1, arg2, ... instead");
  }
  rest = rest.trimStart();
  let filter: string | undefined;
  if (rest.startsWith("(")) {
    const close = closingParen(rest, 0);
    if (close < 0) bail(raw, "unmatched end of predicate: a ( of the filter is not closed");
    filter = rest.slice(1, close).trim();
    if (filter === "") bail(raw, "empty filter ()");
    rest = rest.slice(close + 1).trimStart();
  } else if (rest.startsWith(")")) bail(raw, "unmatched ) before the filter");
  let format = "";
  let args: string[] = [];
  if (rest !== "") {
    if (!rest.startsWith('"')) bail(raw, `expected a filter in (…) or a format string in "…", got '${rest}'`);
    const end = skipLiteral(rest, 0);
    if (end < 0) bail(raw, "the format string's closing \" is missing");
    format = decodeEscapes(rest.slice(1, end - 1));
    const after = rest.slice(end).trim();
    if (after !== "") {
      if (!after.startsWith(","))
        bail(raw, `expected "," and arguments after the format string, got '${after}'`);
      args = splitTopLevel(after.slice(1));
      if (args.some((a) => a === "")) bail(raw, "an empty argument (two commas, or a comma at the end)");
    }
  }
  for (const a of [filter ?? "", ...args]) {
    let depth = 0;
    for (const c of a.replace(/"(\\.|[^"\\])*"|'(\\.|[^'\\])*'/g, "")) {
      depth += c === "(" ? 1 : c === ")" ? -1 : 0;
      if (depth < 0) break;
    }
    if (depth !== 0) bail(raw, `unbalanced parentheses in '${a}'`);
  }
  const pieces = parseFormat(raw, format);
  const specs = pieces.flatMap((p) => (typeof p === "string" ? [] : [p.spec]));
  if (specs.length !== args.length)
    bail(
      raw,
      `the format has ${specs.length} placeholder${specs.length === 1 ? "" : "s"} but ${args.length} argument${args.length === 1 ? "" : "s"} follow${args.length === 1 ? "s" : ""} it`,
    );
  if (probe.type !== "r" && [filter ?? "", ...args].some((e) => /\bretval\b/.test(stripLiterals(e))))
    bail(raw, "retval is only known in a return probe (r:)");
  return { raw, ...probe, signature, filter, format, pieces, specs, args };
}

/** The expression with its string and char literals emptied (for looking at its identifiers). */
export function stripLiterals(expr: string): string {
  return expr.replace(/"(\\.|[^"\\])*"|'(\\.|[^'\\])*'/g, '""');
}

/** What bcc prints in the FUNC column: the function, the event, or the USDT probe (with its provider when given). */
export function displayName(p: ProbeSpec): string {
  return p.type === "u" && p.provider ? `${p.provider}:${p.function}` : p.function;
}
