/**
 * argdist's probe specifiers, bcc's grammar:
 *
 *   {p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]
 *
 * `p`/`r` probe a function's entry/return (a library or program's, or the
 * kernel's when the library is empty), `t` a kernel tracepoint
 * (category:event), `u` a USDT probe. Expressions and the filter are C;
 * return probes may use `$retval`, `$entry(param)` (a parameter's value at
 * entry) and `$latency` (nanoseconds since entry); every probe may use
 * `$PID` (the process id) and `$COMM` (its name, as a string key).
 *
 * bcc splits the specifier on every ':' and ','; here a ':' or ',' inside
 * parentheses or brackets does not split (`(u64)f(a,b)` is one expression),
 * which accepts every specifier bcc accepts. Pure: no kernel, no I/O.
 */
import { UsageError } from "./args.js";

/** The kind of probe: function entry, function return, tracepoint, USDT. */
export type ProbeType = "p" | "r" | "t" | "u";

/** One parameter of the function's signature. */
export interface Param {
  name: string;
  /** Its C type as written ("const char *", "size_t"). */
  type: string;
}

/** A parsed specifier. */
export interface ArgdistSpec {
  /** The specifier as given (bcc's header line when there is no label). */
  raw: string;
  /** -C (a frequency count per distinct key) or -H (a log2 histogram of one value). */
  kind: "freq" | "hist";
  type: ProbeType;
  /** The library or program (p, r, u); "" for the kernel; the category for t. */
  library: string;
  /** The function, tracepoint event or USDT probe name. */
  function: string;
  /** The signature's text between the parentheses. */
  signature: string;
  params: Param[];
  /** The C types of the expressions (one per expression). */
  types: string[];
  /** The expressions, as written. */
  exprs: string[];
  /** The filter, as written ("" for none). */
  filter: string;
  label: string | undefined;
  /** No type/expr given: bcc counts calls (`1`), or `$retval` in a return probe. */
  isDefaultExpr: boolean;
  /** Parameters read through `$entry(name)` (return probes). */
  entryParams: string[];
  /** `$latency` is used (return probes). */
  latency: boolean;
}

/** Whether a type makes the expression a string (bcc: `char*` or `char *`; `const` allowed). */
export function isStringType(type: string): boolean {
  return /^(const\s+)?char\s*\*$/.test(type.trim());
}

/** Splits on `sep` outside parentheses and brackets. */
export function splitTop(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      cur += c;
      if (c === "\\" && i + 1 < text.length) cur += text[++i];
      else if (c === quote) quote = "";
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === "(" || c === "[") depth++;
    else if ((c === ")" || c === "]") && depth > 0) depth--;
    else if (c === sep && depth === 0) {
      out.push(cur);
      cur = "";
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

/** bcc's signature parsing: the type is everything up to the last `*`, else the last space. */
export function parseSignature(signature: string): Param[] {
  const text = signature.trim();
  if (text === "" || text === "void") return [];
  return text.split(",").map((p) => {
    const param = p.trim();
    let at = param.lastIndexOf("*");
    if (at < 0) at = param.lastIndexOf(" ");
    return { type: param.slice(0, at + 1).trim(), name: param.slice(at + 1).trim() };
  });
}

const ENTRY_RE = /\$entry\((\w+)\)/g;

/** Parses one -C (freq) or -H (hist) specifier; throws UsageError with bcc's wording. */
export function parseSpec(raw: string, kind: "freq" | "hist"): ArgdistSpec {
  const bail = (why: string): never => {
    throw new UsageError(`error parsing probe '${raw}': ${why}`);
  };
  const hash = raw.indexOf("#");
  const body = (hash < 0 ? raw : raw.slice(0, hash)).trim();
  const label = hash < 0 ? undefined : raw.slice(hash + 1);
  const parts = splitTop(body, ":");
  if (parts.length < 3) bail("at least the probe type, library, and function signature must be specified");
  if (parts.length > 6) bail("extraneous ':'-separated parts detected");
  const type = parts[0] as ProbeType;
  if (!["p", "r", "t", "u"].includes(type))
    bail(`probe type must be 'p', 'r', 't', or 'u' but got '${type}'`);
  const fm = /^\s*([^\s(]+)\s*\((.*)\)\s*$/s.exec(parts[2] as string);
  if (!fm) bail(`function signature '${parts[2]}' has an invalid format`);
  const [, fn, signature] = fm as unknown as [string, string, string];
  const library = (parts[1] as string).trim();
  if (type === "t" && library === "") bail("a tracepoint needs its category (t:category:event())");
  if (type === "u" && library === "") bail("a USDT probe needs its library or program (u:lib:probe())");
  let params: Param[] = [];
  try {
    params = parseSignature(signature);
  } catch {
    bail(`signature '${signature}' has an invalid format`);
  }
  for (const p of params)
    if (!/^[A-Za-z_]\w*$/.test(p.name)) bail(`bad parameter '${p.type} ${p.name}' in the signature`);

  const isDefaultExpr = parts.length < 5;
  let types: string[];
  let exprs: string[];
  if (!isDefaultExpr) {
    if ((parts[3] as string).trim() === "") bail("no expr types specified");
    if ((parts[4] as string).trim() === "") bail("no exprs specified");
    types = splitTop(parts[3] as string, ",").map((s) => s.trim());
    exprs = splitTop(parts[4] as string, ",").map((s) => s.trim());
    if (types.length !== exprs.length) bail("mismatched # of exprs and types");
    if (kind === "hist" && exprs.length > 1) bail("histograms can only have 1 expr");
    if (types.some((t) => t === "") || exprs.some((e) => e === "")) bail("empty type or expr");
  } else {
    if (parts.length === 4) bail("a type needs an expression (type:expr)");
    if (type !== "r" && kind === "hist") bail("histograms must have expr");
    types = [type === "r" ? "int" : "u64"];
    exprs = [type === "r" ? "$retval" : "1"];
  }
  if (kind === "hist" && isStringType(types[0] as string))
    bail("a histogram needs a numeric expr, not a string");
  const filter = parts.length === 6 ? (parts[5] as string).trim() : "";

  const texts = [...exprs, filter];
  const entryParams = [
    ...new Set(texts.flatMap((t) => [...t.matchAll(ENTRY_RE)].map((m) => m[1] as string))),
  ];
  const latency = texts.some((t) => t.includes("$latency"));
  if (type !== "r") {
    for (const [word, what] of [
      ["$retval", "return value"],
      ["$entry(", "entry values"],
      ["$latency", "latency"],
    ] as const) {
      if (texts.some((t) => t.includes(word)))
        bail(
          `${word.replace("(", "")} is only known in a return probe (r:...): a '${type}' probe has no ${what}`,
        );
    }
  }
  for (const t of texts) {
    for (const m of t.matchAll(/\$(\w*)/g)) {
      if (!["retval", "entry", "latency", "PID", "COMM"].includes(m[1] as string))
        bail(`unknown alias $${m[1]} (argdist has $retval, $entry(param), $latency, $PID, $COMM)`);
    }
  }
  if ([...exprs.filter((e) => e !== "$COMM"), filter].some((t) => t.includes("$COMM")))
    bail("$COMM is the process name: a whole expression (a string key), not part of one");
  for (const p of entryParams)
    if (!params.some((q) => q.name === p))
      bail(`$entry(${p}): no such param in the signature (${signature})`);
  if (type === "t" && params.length > 0) bail("a tracepoint takes no signature: its fields are args->name");
  if (type === "u" && params.length > 0)
    bail("a USDT probe takes no signature: its arguments are arg1, arg2, … (typed by the probe's note)");
  return {
    raw,
    kind,
    type,
    library,
    function: fn.trim(),
    signature: signature.trim(),
    params,
    types,
    exprs,
    filter,
    label,
    isDefaultExpr,
    entryParams,
    latency,
  };
}

/** An expression as bcc shows it: `$entry(x)` as `x`, the rest as written. */
export function displayExpr(expr: string): string {
  return expr.replace(ENTRY_RE, "$1");
}

/** The header of a probe's output: its label, else the specifier. */
export function specTitle(s: ArgdistSpec): string {
  return s.label ?? s.raw;
}

/** The value column of a histogram: the label, else the expression ("retval" for a bare r: probe). */
export function histLabel(s: ArgdistSpec): string {
  return s.label ?? (s.isDefaultExpr ? "retval" : displayExpr(s.exprs[0] as string));
}
