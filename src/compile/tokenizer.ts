// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * A C tokenizer for the bcc dialect rewriter: enough of C's lexical grammar to
 * never mistake a comment, string or preprocessor line for code. Offsets are
 * JavaScript string indexes; lines end at LF (a CR before it is whitespace,
 * and a backslash before CR LF continues the line, as before LF).
 */
import { charColumn } from "./offsets.js";

/** Kinds of token. "pp" is a whole preprocessor directive, continuation lines included. */
export type TokenKind = "ident" | "number" | "string" | "char" | "punct" | "pp" | "comment" | "space";

export interface Token {
  kind: TokenKind;
  text: string;
  /** Offset of the first character in the source. */
  start: number;
  /** Offset just past the last character. */
  end: number;
  /** 1-based line of the first character. */
  line: number;
  /** 1-based column of the first character, in characters (code points), as editors count. */
  column: number;
}

const PUNCTS = [
  "...",
  "<<=",
  ">>=",
  "->",
  "++",
  "--",
  "<<",
  ">>",
  "<=",
  ">=",
  "==",
  "!=",
  "&&",
  "||",
  "*=",
  "/=",
  "%=",
  "+=",
  "-=",
  "&=",
  "^=",
  "|=",
  "##",
];

/** The characters a PUNCTS entry starts with (any other punctuator is one character). */
const PUNCT_STARTS = new Set(PUNCTS.map((p) => p[0] as string));

function isIdentStart(c: string): boolean {
  return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_" || c === "$";
}

function isIdentPart(c: string): boolean {
  return isIdentStart(c) || (c >= "0" && c <= "9");
}

/** Splits C source into tokens, keeping every character (space and comments included). */
export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  // True while only whitespace has been seen since the last newline: a '#' there starts a directive.
  let atLineStart = true;

  const push = (kind: TokenKind, start: number, end: number, tokLine: number, tokCol: number): void => {
    tokens.push({ kind, text: src.slice(start, end), start, end, line: tokLine, column: tokCol });
  };
  const countLines = (from: number, to: number): void => {
    for (let k = from; k < to; k++) {
      if (src[k] === "\n") {
        line++;
        lineStart = k + 1;
      }
    }
  };

  // Columns count characters: UTF-16 units only match them for text without surrogate pairs.
  // With pairs, the count goes on from the previous token of the line (not from the line's
  // start each time, which is quadratic on a long line).
  const pairs = /[\ud800-\udfff]/.test(src);
  let colAt = 0;
  let colVal = 1;
  const columnOf = (index: number): number => {
    if (!pairs) return index - lineStart + 1;
    if (colAt < lineStart) {
      colAt = lineStart;
      colVal = 1;
    }
    if (index === colAt) return colVal;
    colVal += charColumn(src, colAt, index) - 1;
    // A pair cut at colAt (a one-unit punct token can end inside one) is one character, not two.
    const hi = src.charCodeAt(colAt - 1);
    const lo = src.charCodeAt(colAt);
    if (colAt > lineStart && hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) colVal--;
    colAt = index;
    return colVal;
  };
  while (i < src.length) {
    const start = i;
    const tokLine = line;
    const tokCol = columnOf(i);
    const c = src[i] as string;
    const next = src[i + 1];

    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v") {
      let hadNewline = false;
      for (; i < src.length; i++) {
        const w = src.charCodeAt(i);
        // space, \t \n \v \f \r
        if (w === 10) hadNewline = true;
        else if (w !== 32 && (w < 9 || w > 13)) break;
      }
      countLines(start, i);
      push("space", start, i, tokLine, tokCol);
      if (hadNewline) atLineStart = true;
      continue;
    }
    if (c === "/" && next === "/") {
      while (i < src.length && src[i] !== "\n") {
        if (src[i] === "\\" && src[i + 1] === "\n") i++;
        else if (src[i] === "\\" && src[i + 1] === "\r" && src[i + 2] === "\n") i += 2;
        i++;
      }
      countLines(start, i);
      push("comment", start, i, tokLine, tokCol);
      continue;
    }
    if (c === "/" && next === "*") {
      const close = src.indexOf("*/", i + 2);
      i = close < 0 ? src.length : close + 2;
      countLines(start, i);
      push("comment", start, i, tokLine, tokCol);
      continue;
    }
    if (c === "#" && atLineStart) {
      // A directive runs to the end of the line, with backslash continuations;
      // comments inside it are part of it (they cannot hide a newline that ends it
      // unless they are block comments, which we step over).
      while (i < src.length && src[i] !== "\n") {
        if (src[i] === "\\" && src[i + 1] === "\n") {
          i += 2;
          continue;
        }
        if (src[i] === "\\" && src[i + 1] === "\r" && src[i + 2] === "\n") {
          i += 3;
          continue;
        }
        if (src[i] === "/" && src[i + 1] === "*") {
          const close = src.indexOf("*/", i + 2);
          i = close < 0 ? src.length : close + 2;
          continue;
        }
        if (src[i] === '"' || src[i] === "'") {
          i = skipQuoted(src, i);
          continue;
        }
        i++;
      }
      countLines(start, i);
      push("pp", start, i, tokLine, tokCol);
      continue;
    }
    atLineStart = false;
    if (c === '"' || c === "'") {
      i = skipQuoted(src, i);
      countLines(start, i);
      push(c === '"' ? "string" : "char", start, i, tokLine, tokCol);
      continue;
    }
    // Prefixed literals: L"..", u8"..", u'..' etc.
    const prefix = c === "u" || c === "U" || c === "L" ? /^(u8|u|U|L)["']/.exec(src.slice(i, i + 3)) : null;
    if (prefix) {
      const q = src[i + (prefix[1] as string).length] as string;
      i = skipQuoted(src, i + (prefix[1] as string).length);
      countLines(start, i);
      push(q === '"' ? "string" : "char", start, i, tokLine, tokCol);
      continue;
    }
    if (isIdentStart(c)) {
      while (i < src.length && isIdentPart(src[i] as string)) i++;
      push("ident", start, i, tokLine, tokCol);
      continue;
    }
    if ((c >= "0" && c <= "9") || (c === "." && next !== undefined && next >= "0" && next <= "9")) {
      // pp-number: digits, letters, dots, and exponent signs.
      i++;
      while (i < src.length) {
        const d = src[i] as string;
        if ((d === "+" || d === "-") && /[eEpP]/.test(src[i - 1] as string)) {
          i++;
          continue;
        }
        if (isIdentPart(d) || d === ".") {
          i++;
          continue;
        }
        break;
      }
      push("number", start, i, tokLine, tokCol);
      continue;
    }
    if (c === "\\" && (next === "\n" || (next === "\r" && src[i + 2] === "\n"))) {
      i += next === "\n" ? 2 : 3;
      countLines(start, i);
      push("space", start, i, tokLine, tokCol);
      continue;
    }
    const p = PUNCT_STARTS.has(c) ? PUNCTS.find((op) => src.startsWith(op, i)) : undefined;
    i += p ? p.length : 1;
    push("punct", start, i, tokLine, tokCol);
  }
  return tokens;
}

function skipQuoted(src: string, i: number): number {
  const q = src[i];
  i++;
  while (i < src.length && src[i] !== q && src[i] !== "\n") {
    if (src[i] === "\\") i++;
    i++;
  }
  // An unterminated literal ends before its line's newline (which is not part of it).
  return src[i] === q ? i + 1 : Math.min(i, src.length);
}

/** The tokens that are code (no whitespace, comments). */
export function significant(tokens: Token[]): Token[] {
  return tokens.filter((t) => t.kind !== "space" && t.kind !== "comment");
}
