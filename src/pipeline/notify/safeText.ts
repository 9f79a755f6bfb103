/**
 * Text that carries user-controlled strings (S3 keys, user names, dataset and element names from uploaded
 * files) on its way to people: e-mails, CLI output, rejection.json. Control characters (C0, DEL, C1),
 * format characters (bidirectional overrides and isolates, zero-width characters, the BOM), line and
 * paragraph separators and lone surrogates are written as visible `\uXXXX` escapes, so that a key cannot
 * rewrite a terminal line, reverse the text of an e-mail ("gnp.exe" shown as "exe.png") or hide characters.
 *
 * The escapes are JSON's: applied to JSON text they keep it valid and decode to the very same strings
 * (lossless), so machine-readable fields stay exact while the bytes never carry the characters.
 */

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const UNSAFE_KEEP_LINES = /(?![\n\t])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

function escape(ch: string): string {
  let out = "";
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}

/** One line of user-controlled text: every control and format character escaped, line breaks included. */
export function safeText(s: string): string {
  return s.replace(UNSAFE, escape);
}

/** Multi-line text (ours, with user strings inside): as safeText, but line feeds and tabs are kept. */
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
