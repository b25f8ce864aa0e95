// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * A flame graph writer: folded stacks in, one self-contained interactive SVG
 * out (the format that users of flamegraph.pl and speedscope know), written
 * from scratch for tsbpf.
 *
 * - Stacks are merged into a tree by common prefix under a root frame named
 *   "all"; a frame's width is proportional to its value, and the children of
 *   every frame are sorted by name (UTF-16 code-unit order), so the same input
 *   always gives the same text.
 * - Frames narrower than `minWidth` pixels are left out, with their subtree;
 *   their value still counts in their parent's width.
 * - The SVG carries its own style and script, nothing external. Hovering a
 *   frame shows "name (N samples, P%)" on the details line (each frame also has
 *   a `<title>` tooltip); clicking a frame zooms to it (its subtree fills the
 *   width, its ancestors stay, dimmed); "Reset Zoom" undoes that; "Search" (or
 *   Ctrl-F) asks for a regular expression, highlights the frames whose names
 *   match and shows the share of samples they cover; "Reset Search" (or
 *   Escape) clears it. Labels are cut to fit with "..", using a fixed
 *   character-width estimate, both here and in the script after a zoom.
 *
 * Colour is a hash of the frame name, so a function keeps its colour across
 * graphs. Palettes: "hot" (reds to yellows, the default), "io" (blues, for
 * off-CPU time) and "js", which colours by {@link frameKind}: kernel frames
 * orange, JavaScript frames green, other native frames red. In every palette
 * the root "all", the "-" delimiter that bcc puts between user and kernel
 * frames, and bcc's placeholders "[unknown]" and "[Missed User Stack]" /
 * "[Missed Kernel Stack]" are grey.
 */
import { BpfError } from "../kernel/errors.js";

/** One stack, root first (as folded output has it: "comm;outer;inner"), and its value. */
export interface FoldedStack {
  frames: readonly string[];
  value: number | bigint;
}

/** Options of {@link flameGraphSvg}. */
export interface FlameGraphOptions {
  /** The heading. Default "Flame Graph". */
  title?: string;
  /** A second line under the title (for example the command that made the profile). */
  subtitle?: string;
  /** What a value counts, shown after numbers: "samples" (the default, for profile), "us" (offcputime). */
  countName?: string;
  /** Image width in pixels. Default 1200. */
  width?: number;
  /** Height of one frame in pixels. Default 16. */
  frameHeight?: number;
  /** Frames narrower than this many pixels are omitted (with their subtree). Default 0.1. */
  minWidth?: number;
  /** Draw an icicle graph: the root at the top, stacks growing down. */
  inverted?: boolean;
  /** Palette. "hot" (default), "io" (blues), or "js" (by frame kind, see {@link frameKind}). */
  colors?: "hot" | "js" | "io";
}

/** What a frame is, for the "js" palette. */
export type FrameKind = "kernel" | "js" | "native";

const XPAD = 10;
const TITLE_FONT = 17;
const CHAR_WIDTH = 0.59; // average glyph advance of Verdana at font size 1, the label estimate
const MATCH_FILL = "rgb(230,0,230)";
const GREY = "rgb(190,190,190)";

/**
 * Parses folded stacks, one per line: frames separated by ";", root first,
 * then whitespace and a count ("bash;main;read_line 12"). Frame names may
 * contain spaces; the count is the last field and may have a fraction. Blank
 * lines are skipped. Throws a {@link BpfError} naming the line of a line that
 * has no count or no frames.
 */
export function parseFolded(text: string): Array<{ frames: string[]; value: number }> {
  const out: Array<{ frames: string[]; value: number }> = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "") continue;
    let sep = line.length - 1;
    while (sep >= 0 && !isSpace(line.charCodeAt(sep))) sep--;
    const num = line.slice(sep + 1);
    const stack = sep < 0 ? "" : line.slice(0, sep).trimEnd();
    if (stack === "" || !COUNT.test(num)) {
      const shown = line.length > 80 ? `${line.slice(0, 77)}...` : line;
      throw new BpfError(
        `folded stacks, line ${i + 1}: expected "frame;frame;... count" (frames, then a space and a number), got ${JSON.stringify(shown)}`,
      );
    }
    out.push({ frames: stack.split(";"), value: Number(num) });
  }
  return out;
}

const COUNT = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0b || c === 0x0c;
}

/**
 * The kind of a frame, for the "js" palette. The rule:
 * - "kernel": the name ends with "_[k]" (bcc's `--annotations`) or "[k]", or
 *   the frame sits below a "-" frame (bcc's `--delimited` user/kernel divider:
 *   what follows it is the kernel stack), or the name starts with "[kernel" or
 *   "[vmlinux";
 * - "js": V8's perf-map names: "JS:", "LazyCompile:", "Function:",
 *   "InterpretedFunction:", "Builtin:", "BytecodeHandler:" and "RegExp:"
 *   prefixes, or a ".js:", ".mjs:" or ".cjs:" script location in the name;
 * - "native": everything else.
 *
 * `belowDelimiter` says whether an ancestor of the frame is a "-" frame.
 */
export function frameKind(name: string, belowDelimiter = false): FrameKind {
  if (belowDelimiter || name.endsWith("[k]") || name.startsWith("[kernel") || name.startsWith("[vmlinux"))
    return "kernel";
  if (JS_FRAME.test(name)) return "js";
  return "native";
}

const JS_FRAME =
  /^(?:JS|LazyCompile|Function|InterpretedFunction|Builtin|BytecodeHandler|RegExp):|\.[mc]?js:/;

/** A stack with its frames as ranks: the index of each name in the sorted list of names. */
interface Stack {
  frames: number[];
  value: number;
}

/** A frame wide enough to draw: where it starts (in counts from the left edge), its value and depth. */
interface Placed {
  name: string;
  depth: number;
  offset: number;
  value: number;
  kernel: boolean;
}

/**
 * Renders stacks (root first) as an interactive SVG flame graph. Identical
 * stacks are summed. Values must be finite and not negative; zero values are
 * ignored, bigints are converted to numbers (exact up to 2^53). No stacks (or
 * only zero values) give a small SVG that says "no samples". Takes about a
 * second for 100k distinct stacks 17 frames deep; the output is bounded by
 * `minWidth` (at most width/minWidth frames a level), not by the input.
 */
export function flameGraphSvg(stacks: Iterable<FoldedStack>, opts: FlameGraphOptions = {}): string {
  const width = checkNumber("width", opts.width ?? 1200, 2 * XPAD + 1);
  const frameHeight = checkNumber("frameHeight", opts.frameHeight ?? 16, 2);
  const minWidth = checkNumber("minWidth", opts.minWidth ?? 0.1, 0);
  const title = opts.title ?? "Flame Graph";
  const countName = opts.countName ?? "samples";
  const palette = opts.colors ?? "hot";
  if (palette !== "hot" && palette !== "js" && palette !== "io")
    throw new BpfError(`flame graph: unknown colors ${JSON.stringify(palette)} (use "hot", "js" or "io")`);

  // Each distinct name once, as a number: comparing numbers is what makes
  // sorting 100k stacks fast.
  const list: Stack[] = [];
  const ids = new Map<string, number>();
  let names: string[] = [];
  let total = 0;
  for (const s of stacks) {
    const v = typeof s.value === "bigint" ? Number(s.value) : s.value;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
      throw new BpfError(`flame graph: a stack's value must be a finite number >= 0, got ${String(s.value)}`);
    if (v === 0) continue;
    total += v;
    const n = s.frames.length;
    const frames = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const name = s.frames[i] as string;
      let id = ids.get(name);
      if (id === undefined) {
        id = names.length;
        names.push(name);
        ids.set(name, id);
      }
      frames[i] = id;
    }
    list.push({ frames, value: v });
  }
  const byName = names.map((_, i) => i).sort((a, b) => codeUnitOrder(names[a] as string, names[b] as string));
  const rank = new Array<number>(names.length);
  for (let r = 0; r < byName.length; r++) rank[byName[r] as number] = r;
  names = byName.map((id) => names[id] as string);
  for (const s of list)
    for (let i = 0; i < s.frames.length; i++) s.frames[i] = rank[s.frames[i] as number] as number;
  if (!Number.isFinite(total))
    throw new BpfError("flame graph: the values add up to more than a number can hold");

  const fontSize = Math.max(1, Math.min(12, frameHeight - 4));
  const charWidth = fontSize * CHAR_WIDTH;
  const fw = width - 2 * XPAD; // the frames' area
  const head = opts.subtitle === undefined ? fontSize * 3 : fontSize * 5;
  const foot = fontSize * 2 + 10;
  const titleY = fontSize * 2;

  if (total === 0) {
    const h = Math.ceil(head + foot + frameHeight);
    return [
      XML_DECL,
      `<svg version="1.1" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" xmlns="http://www.w3.org/2000/svg">`,
      style(fontSize),
      `<rect width="100%" height="100%" fill="#f8f8f8"/>`,
      titles(title, opts.subtitle, width, titleY, fontSize),
      `<text class="note" x="${fmt(width / 2)}" y="${fmt(head + frameHeight / 2)}">no samples</text>`,
      "</svg>\n",
    ].join("\n");
  }

  // Pass 1: the frames wide enough to draw. The stacks are sorted by name,
  // frame by frame (a stack sorts after the longer ones it is a prefix of, so
  // children start at their parent's left edge and its own time is on the
  // right), then streamed past a path of open frames: equal prefixes merge,
  // and a frame's value is known when it closes, so only the frames that are
  // drawn are kept, whatever the number of stacks. A frame under minWidth has
  // only narrower frames above it, so dropping it drops its subtree.
  list.sort(byFrames);
  const placed: Placed[] = [];
  let maxDepth = 0;
  const scale = fw / total;
  const minValue = minWidth / scale;
  // The open path, as parallel arrays (no object per frame): the root at 0.
  const pathName: number[] = [-1]; // a rank, -1 for the root
  const pathStart: number[] = [0];
  const pathKernel: boolean[] = [false]; // below a "-" frame
  let open = 1;
  let offset = 0;
  const delimiter = ids.has("-") ? rank[ids.get("-") as number] : -2;
  const close = (keep: number): void => {
    for (; open > keep; open--) {
      const depth = open - 1;
      const start = pathStart[depth] as number;
      const value = offset - start;
      if (value < minValue && depth > 0) continue;
      if (depth > maxDepth) maxDepth = depth;
      const name = depth === 0 ? "all" : (names[pathName[depth] as number] as string);
      placed.push({ name, depth, offset: start, value, kernel: pathKernel[depth] as boolean });
    }
  };
  for (const { frames, value } of list) {
    let common = 0; // frames shared with the open path
    while (common < frames.length && common + 1 < open && pathName[common + 1] === frames[common]) common++;
    close(common + 1);
    for (let i = common; i < frames.length; i++, open++) {
      pathKernel[open] = (pathKernel[open - 1] as boolean) || pathName[open - 1] === delimiter;
      pathName[open] = frames[i] as number;
      pathStart[open] = offset;
    }
    offset += value;
  }
  close(0);
  placed.reverse(); // the root first, each frame before the frames above it

  // Pass 2: the SVG.
  const height = Math.ceil(head + foot + (maxDepth + 1) * frameHeight);
  const textDy = (frameHeight - 1) / 2 + fontSize * 0.35;
  const out: string[] = [
    XML_DECL,
    `<svg version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg"` +
      ` data-xpad="${XPAD}" data-fw="${fw}" data-cw="${charWidth}" data-total="${total}" data-match="${MATCH_FILL}">`,
    style(fontSize),
    `<defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1"><stop stop-color="#f4f4f4" offset="0"/><stop stop-color="#ecebd6" offset="1"/></linearGradient></defs>`,
    `<rect width="100%" height="100%" fill="url(#bg)"/>`,
    titles(title, opts.subtitle, width, titleY, fontSize),
    `<text id="unzoom" class="control hidden" x="${XPAD}" y="${fmt(titleY)}">Reset Zoom</text>`,
    `<text id="search" class="control" x="${fmt(width - XPAD)}" y="${fmt(titleY)}">Search</text>`,
    `<text id="details" x="${XPAD}" y="${fmt(height - foot / 2)}"> </text>`,
    `<text id="matched" x="${fmt(width - XPAD)}" y="${fmt(height - foot / 2)}"> </text>`,
    `<g id="frames">`,
  ];
  const unit = escapeXml(countName);
  for (const { name: raw, depth, offset, value, kernel } of placed) {
    const x = XPAD + offset * scale;
    const w = value * scale;
    const y = opts.inverted ? head + depth * frameHeight : height - foot - (depth + 1) * frameHeight;
    const name = escapeXml(raw);
    const fill = depth === 0 ? GREY : color(raw, palette, kernel);
    out.push(
      `<g data-o="${offset}" data-v="${value}" data-d="${depth}"><title>${name} (${count(value)} ${unit}, ${percent(value, total)}%)</title>` +
        `<rect x="${fmt(x)}" y="${fmt(y)}" width="${fmt(w)}" height="${fmt(frameHeight - 1)}" fill="${fill}" rx="2" ry="2"/>` +
        `<text x="${fmt(x + 3)}" y="${fmt(y + textDy)}">${escapeXml(fitLabel(raw, w, charWidth))}</text></g>`,
    );
  }
  out.push("</g>", `<script><![CDATA[${SCRIPT}]]></script>`, "</svg>\n");
  return out.join("\n");
}

const XML_DECL = `<?xml version="1.0" encoding="UTF-8" standalone="no"?>`;

function checkNumber(what: string, v: number, min: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min)
    throw new BpfError(`flame graph: ${what} must be a finite number >= ${min}, got ${String(v)}`);
  return v;
}

function codeUnitOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Frame by frame by name; a stack after the longer ones it is a prefix of. */
function byFrames(a: Stack, b: Stack): number {
  const fa = a.frames;
  const fb = b.frames;
  const n = Math.min(fa.length, fb.length);
  for (let i = 0; i < n; i++) {
    const d = (fa[i] as number) - (fb[i] as number);
    if (d !== 0) return d;
  }
  return fb.length - fa.length;
}

function style(fontSize: number): string {
  return `<style><![CDATA[
text { font-family: Verdana, "DejaVu Sans", sans-serif; font-size: ${fontSize}px; fill: #000; }
#title { text-anchor: middle; font-size: ${TITLE_FONT}px; }
#subtitle, .note { text-anchor: middle; fill: #555; }
#search, #matched { text-anchor: end; }
.control { cursor: pointer; fill: #333; }
.control:hover { text-decoration: underline; }
.hidden { display: none; }
#frames g { cursor: pointer; }
#frames g:hover rect { stroke: #000; stroke-width: 0.5; }
#frames .parent { opacity: 0.55; }
#frames text { pointer-events: none; }
]]></style>`;
}

function titles(
  title: string,
  subtitle: string | undefined,
  width: number,
  y: number,
  fontSize: number,
): string {
  const t = `<text id="title" x="${fmt(width / 2)}" y="${fmt(y)}">${escapeXml(title)}</text>`;
  if (subtitle === undefined) return t;
  return `${t}\n<text id="subtitle" x="${fmt(width / 2)}" y="${y + fontSize * 2}">${escapeXml(subtitle)}</text>`;
}

/** A pixel position with two decimals (never NaN: every caller has finite input). */
function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** 1234567 → "1,234,567"; fractions keep up to three decimals. */
function count(v: number): string {
  const s = Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  const dot = s.indexOf(".");
  const int = dot < 0 ? s : s.slice(0, dot);
  if (int.length <= 3 || int.includes("e")) return s;
  return int.replace(/\B(?=(\d{3})+$)/g, ",") + (dot < 0 ? "" : s.slice(dot));
}

function percent(v: number, total: number): string {
  return ((v / total) * 100).toFixed(2);
}

/**
 * A label that fits `w` pixels at `charWidth` pixels a character: the name,
 * or its start and "..", or nothing when fewer than three characters fit.
 * (The script repeats this after a zoom.)
 */
function fitLabel(name: string, w: number, charWidth: number): string {
  const n = Math.floor((w - 6) / charWidth);
  if (n < 3) return "";
  if (name.length <= n) return name;
  let cut = n - 2;
  const c = name.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--; // don't split a surrogate pair
  return `${name.slice(0, cut)}..`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters XML 1.0 forbids
const XML_BAD = /[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/;
const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/**
 * Escapes text for XML text and attribute values: the five special characters
 * become entities, characters XML 1.0 cannot hold (control characters, lone
 * surrogates, U+FFFE/U+FFFF) become U+FFFD, everything else (UTF-8 names) is
 * kept.
 */
export function escapeXml(s: string): string {
  if (!XML_BAD.test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    const c = ch.charCodeAt(0);
    const e = ENTITIES[ch];
    if (e !== undefined) out += e;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
      out += ch + s[i + 1];
      i++;
    } else if (
      (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) ||
      (c >= 0xd800 && c <= 0xdfff) ||
      c === 0xfffe ||
      c === 0xffff
    )
      out += "\ufffd";
    else out += ch;
  }
  return out;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

// FNV-1a over UTF-16 code units: a stable hash, so a name keeps its colour.
function hash(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) / 0x100000000;
}

function color(name: string, palette: "hot" | "js" | "io", belowDelimiter: boolean): string {
  if (name === "-" || name === "[unknown]" || name.startsWith("[Missed")) return GREY;
  const a = hash(name, 0);
  const b = hash(name, 0x9e3779b9);
  if (palette === "io") return hsl(200 + 40 * a, 55 + 25 * b, 55 + 12 * a);
  if (palette === "js") {
    const kind = frameKind(name, belowDelimiter);
    if (kind === "kernel") return hsl(24 + 14 * a, 85 + 10 * b, 55 + 8 * a);
    if (kind === "js") return hsl(90 + 45 * a, 50 + 20 * b, 48 + 10 * a);
    return hsl(355 + 15 * a, 70 + 20 * b, 58 + 8 * a);
  }
  return hsl(60 * a, 80 + 15 * b, 52 + 8 * (1 - a)); // red → yellow
}

/** HSL (hue in degrees, saturation and lightness in %) as an SVG 1.1 rgb() colour. */
function hsl(h: number, s: number, l: number): string {
  const hh = (((h % 360) + 360) % 360) / 60;
  const ss = s / 100;
  const ll = l / 100;
  const c = (1 - Math.abs(2 * ll - 1)) * ss;
  const x = c * (1 - Math.abs((hh % 2) - 1));
  const m = ll - c / 2;
  const [r, g, b] =
    hh < 1
      ? [c, x, 0]
      : hh < 2
        ? [x, c, 0]
        : hh < 3
          ? [0, c, x]
          : hh < 4
            ? [0, x, c]
            : hh < 5
              ? [x, 0, c]
              : [c, 0, x];
  const to = (v: number): number => Math.max(0, Math.min(255, Math.round((v + m) * 255)));
  return `rgb(${to(r)},${to(g)},${to(b)})`;
}

// The viewer. Plain ES2015, no "]]>" inside (it sits in a CDATA section).
// Frame geometry comes from each <g>'s data-o (offset in counts from the left
// edge), data-v (value) and data-d (depth); the name from its <title>.
const SCRIPT = `
(function () {
  "use strict";
  var svg = document.documentElement;
  var attr = function (el, a) { return Number(el.getAttribute(a)); };
  var XPAD = attr(svg, "data-xpad"), FW = attr(svg, "data-fw"), CW = attr(svg, "data-cw");
  var TOTAL = attr(svg, "data-total"), MATCH = svg.getAttribute("data-match");
  var byId = function (id) { return document.getElementById(id); };
  var box = byId("frames"), details = byId("details"), unzoomBtn = byId("unzoom");
  var searchBtn = byId("search"), matched = byId("matched");
  var frames = [], byG = new Map(), searching = false;
  var gs = box.getElementsByTagName("g");
  for (var i = 0; i < gs.length; i++) {
    var g = gs[i], title = g.getElementsByTagName("title")[0].textContent;
    var rect = g.getElementsByTagName("rect")[0];
    var f = {
      g: g, rect: rect, text: g.getElementsByTagName("text")[0], title: title,
      name: title.slice(0, title.lastIndexOf(" (")), fill: rect.getAttribute("fill"),
      o: attr(g, "data-o"), v: attr(g, "data-v"), d: attr(g, "data-d")
    };
    frames.push(f);
    byG.set(g, f);
  }
  function label(name, w) {
    var n = Math.floor((w - 6) / CW);
    if (n < 3) return "";
    if (name.length <= n) return name;
    var cut = n - 2, c = name.charCodeAt(cut - 1);
    if (c >= 0xd800 && c <= 0xdbff) cut--;
    return name.slice(0, cut) + "..";
  }
  function place(f, x, w) {
    f.rect.setAttribute("x", x.toFixed(2));
    f.rect.setAttribute("width", w.toFixed(2));
    f.text.setAttribute("x", (x + 3).toFixed(2));
    f.text.textContent = label(f.name, w);
  }
  function zoom(t) {
    if (t.d === 0) return unzoom();
    var eps = t.v * 1e-9, lo = t.o - eps, hi = t.o + t.v + eps;
    frames.forEach(function (f) {
      if (f.d >= t.d && f.o >= lo && f.o + f.v <= hi) {
        f.g.classList.remove("hidden", "parent");
        place(f, XPAD + ((f.o - t.o) / t.v) * FW, (f.v / t.v) * FW);
      } else if (f.d < t.d && f.o <= t.o + eps && f.o + f.v >= t.o + t.v - eps) {
        f.g.classList.remove("hidden");
        f.g.classList.add("parent");
        place(f, XPAD, FW);
      } else {
        f.g.classList.add("hidden");
      }
    });
    unzoomBtn.classList.remove("hidden");
  }
  function unzoom() {
    frames.forEach(function (f) {
      f.g.classList.remove("hidden", "parent");
      place(f, XPAD + (f.o / TOTAL) * FW, (f.v / TOTAL) * FW);
    });
    unzoomBtn.classList.add("hidden");
  }
  function search(term) {
    var re;
    try { re = new RegExp(term); } catch (e) { window.alert("Not a regular expression: " + e.message); return; }
    var spans = [];
    frames.forEach(function (f) {
      if (re.test(f.name)) { f.rect.setAttribute("fill", MATCH); spans.push([f.o, f.o + f.v]); }
      else f.rect.setAttribute("fill", f.fill);
    });
    spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var sum = 0, end = -1;
    spans.forEach(function (s) {
      if (s[0] >= end) { sum += s[1] - s[0]; end = s[1]; }
      else if (s[1] > end) { sum += s[1] - end; end = s[1]; }
    });
    searching = true;
    searchBtn.textContent = "Reset Search";
    matched.textContent = "Matched: " + ((sum / TOTAL) * 100).toFixed(2) + "%";
  }
  function resetSearch() {
    frames.forEach(function (f) { f.rect.setAttribute("fill", f.fill); });
    searching = false;
    searchBtn.textContent = "Search";
    matched.textContent = " ";
  }
  function ask() {
    var term = window.prompt("Search for (regular expression):", "");
    if (term !== null && term !== "") search(term);
  }
  function frameOf(el) {
    for (; el && el !== box; el = el.parentNode) { var f = byG.get(el); if (f) return f; }
    return null;
  }
  box.addEventListener("mouseover", function (e) { var f = frameOf(e.target); if (f) details.textContent = f.title; });
  box.addEventListener("mouseout", function () { details.textContent = " "; });
  box.addEventListener("click", function (e) { var f = frameOf(e.target); if (f) zoom(f); });
  unzoomBtn.addEventListener("click", unzoom);
  searchBtn.addEventListener("click", function () { if (searching) resetSearch(); else ask(); });
  window.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && (e.key === "f" || e.key === "F")) { e.preventDefault(); ask(); }
    else if (e.key === "Escape" && searching) resetSearch();
  });
})();
`;
