// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * clang counts in bytes of UTF-8 (AST offsets, diagnostic columns);
 * JavaScript strings in UTF-16 code units; people in characters. A program
 * with a comment in Japanese, an accented name or an emoji in a string has
 * all three differ: these convert between them.
 */

/** Every character is below U+0080. */
const ASCII_ONLY = { test: (text: string): boolean => !/[^\p{ASCII}]/u.test(text) };

/** Bytes that the UTF-16 code unit at i (and its pair) take in UTF-8. */
function utf8Length(text: string, i: number): { bytes: number; units: number } {
  const c = text.charCodeAt(i);
  if (c < 0x80) return { bytes: 1, units: 1 };
  if (c < 0x800) return { bytes: 2, units: 1 };
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return { bytes: 4, units: 2 };
  }
  return { bytes: 3, units: 1 };
}

/**
 * A function from a UTF-8 byte offset in `text` to the index of the same
 * place in the JavaScript string (identity for ASCII text). An offset inside
 * a multi-byte character maps to that character.
 */
export function byteToIndex(text: string): (byte: number) => number {
  if (ASCII_ONLY.test(text)) return (b) => b;
  // Breakpoints at every non-ASCII character: [byte offset, string index].
  const bytesAt: number[] = [];
  const indexAt: number[] = [];
  let byte = 0;
  for (let i = 0; i < text.length; ) {
    const { bytes, units } = utf8Length(text, i);
    if (bytes > 1) {
      bytesAt.push(byte);
      indexAt.push(i);
    }
    byte += bytes;
    i += units;
  }
  return (b) => {
    // The last non-ASCII character at or before b.
    let lo = 0;
    let hi = bytesAt.length - 1;
    let k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((bytesAt[mid] as number) <= b) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (k < 0) return b;
    const start = bytesAt[k] as number;
    const index = indexAt[k] as number;
    const { bytes, units } = utf8Length(text, index);
    if (b < start + bytes) return index; // inside that character
    return index + units + (b - start - bytes);
  };
}

/** 1-based column in characters (code points) of a 1-based UTF-8 byte column on `line`. */
export function byteColumnToCharColumn(line: string, byteColumn: number): number {
  if (ASCII_ONLY.test(line)) return byteColumn;
  const index = byteToIndex(line)(byteColumn - 1);
  return [...line.slice(0, index)].length + 1;
}

/** 1-based column in characters (code points) of a string index on a line starting at lineStart. */
export function charColumn(text: string, lineStart: number, index: number): number {
  const part = text.slice(lineStart, index);
  return ASCII_ONLY.test(part) || !/[\ud800-\udfff]/.test(part) ? part.length + 1 : [...part].length + 1;
}
