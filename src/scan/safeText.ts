/**
 * Text chosen by someone else (dataset and attribute names, link targets and string values from a file; S3
 * keys and user names from an upload) made safe to show to people: problem messages reach a terminal
 * (`ptyxrf validate`), `rejection.json` and e-mails. Control characters would move the cursor, clear the screen
 * or forge lines; bidirectional overrides (U+202A-U+202E, U+2066-U+2069, ...) would make `gnp.exe` display as
 * `exe.png`; zero-width characters hide text. Each such character becomes a visible escape, `\u202e`;
 * everything else is kept as it is. The one list of unsafe characters and the one way of escaping them for
 * all of ptyxrf (scan problems, notifications, stored JSON, CLI output).
 *
 * The escapes are JSON's: applied to JSON text they keep it valid and decode to the very same strings
 * (lossless), so machine-readable fields stay exact while the bytes never carry the characters.
 */

/** Controls (C0, DEL, C1), format characters (bidi, zero-width, BOM), line/paragraph separators, lone surrogates. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const UNSAFE_KEEP_LINES = /(?![\n\t])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

function escape(ch: string): string {
  let out = "";
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}

/** Longest name kept by safeName; a longer one is cut, saying how long it was. */
export const SAFE_TEXT_MAX = 256;

/**
 * One line of outside text with every unsafe character escaped (line breaks included), cut to `max`
 * characters (code points) with a note of the full length when longer.
 */
export function safeText(text: string, max = Infinity): string {
  const escaped = text.replace(UNSAFE, escape);
  if (escaped.length <= max) return escaped;
  const points = Array.from(escaped);
  if (points.length <= max) return escaped;
  return `${points.slice(0, max).join("")}... (${points.length} characters in all)`;
}

/** A name from a file (dataset, element, link target) as problem messages show it: safeText cut at SAFE_TEXT_MAX. */
export function safeName(text: string): string {
  return safeText(text, SAFE_TEXT_MAX);
}

/** True when `text` holds a character that safeText escapes. */
export function hasUnsafeText(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}

/** Multi-line text (ours, with outside strings inside): as safeText, but line feeds and tabs are kept. */
export function safeLines(s: string): string {
  return s.replace(UNSAFE_KEEP_LINES, escape);
}

/** JSON whose bytes carry no control, format or separator character; parses to exactly `value`. */
export function safeJson(value: unknown, space?: number): string {
  return safeLines(JSON.stringify(value, null, space));
}

const PROGRESS = /^\r([\s\S]*)\x1b\[K$/;

/**
 * What the CLI writes to a terminal: safeLines, except the one control sequence of its own that a write
 * may carry, a progress line redrawn in place ("\r" ... "ESC[K", src/cli/progress.ts).
 */
export function terminalSafe(s: string): string {
  const m = PROGRESS.exec(s);
  return m ? `\r${safeLines(m[1])}\x1b[K` : safeLines(s);
}

/** At most `max` characters (an ellipsis and the count left out when shortened). */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length - max} more characters)`;
}
