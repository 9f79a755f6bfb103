/**
 * Text from a file (dataset and attribute names, link targets, string values) made safe to show: problem
 * messages reach a terminal (`ptyxrf validate`), `rejection.json` and e-mails, and a name in an uploaded scan
 * is chosen by whoever wrote the file. Control characters would move the cursor, clear the screen or forge
 * lines; bidirectional overrides (U+202A-U+202E, U+2066-U+2069, ...) would make `Fe.h5` display as something
 * else. Each such character becomes a visible escape, `\u{202e}`; everything else is kept as it is.
 */

/**
 * C0 and C1 controls and DEL; bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069); the
 * implicit marks (U+200E, U+200F, U+061C); zero-width characters that hide text (U+200B-U+200D, U+2060,
 * U+FEFF); line and paragraph separators (U+2028, U+2029); unpaired surrogates.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Longest text kept by default; a longer one is cut, saying how long it was. */
export const SAFE_TEXT_MAX = 256;

/**
 * `text` with every unsafe character written as `\u{hex}` (a newline as `\u{a}`), cut to `max` characters
 * (code points) with a note of the full length when longer.
 */
export function safeText(text: string, max = SAFE_TEXT_MAX): string {
  const escaped = text.replace(UNSAFE, (ch) => `\\u{${ch.charCodeAt(0).toString(16)}}`);
  const points = Array.from(escaped);
  if (points.length <= max) return escaped;
  return `${points.slice(0, max).join("")}... (${points.length} characters in all)`;
}

/** True when `text` holds a character that safeText escapes. */
export function hasUnsafeText(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}
