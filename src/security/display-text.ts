import type { FieldProblem } from '../errors/app-error.js';

/**
 * The rule for text that Gatehouse stores and later shows to people: a
 * client's name, description and URIs, an account's name and email. Such
 * text ends up in pages, in the CLI's plain-text output, in terminals and in
 * logs, where some characters are not text but instructions to whatever
 * displays them. Escaping on output is the other half of the defence; this
 * half makes sure none of them is stored in the first place, whichever
 * surface writes the text.
 *
 * Refused:
 * - Unicode category Cc (C0 controls, DEL, C1 controls): a line feed forges
 *   a line of output ("client_id: gatehouse-dashboard"), ESC and CSI start
 *   terminal escape sequences (hidden text, OSC 52 writing the clipboard),
 *   BEL ends them.
 * - U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR: line breaks for
 *   many renderers, so the same forged line as a line feed.
 * - Category Cs, half of a surrogate pair (JSON can carry "\ud800"): not a
 *   character at all, and UTF-8 storage cannot hold it.
 * - Every other format character (category Cf), above all the bidirectional
 *   embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069,
 *   which reorder what is displayed after them ("Trojan Source",
 *   CVE-2021-42574), and the invisible ones: zero-width space, word joiner,
 *   byte order mark, soft hyphen, interlinear annotation, the tag characters
 *   U+E0000–U+E007F (which also make emoji subdivision flags: those are
 *   refused with them). Each lets two names that differ look the same, or
 *   hides text from the person reading it.
 *
 * Kept, because ordinary writing needs them: U+200C ZERO WIDTH NON-JOINER
 * and U+200D ZERO WIDTH JOINER (Persian, Indic scripts, emoji sequences),
 * and the directional marks U+200E LRM, U+200F RLM and U+061C ALM, which
 * only state the direction of the text around them and cannot reorder what
 * follows. Letters, marks, digits, punctuation, symbols and spaces of every
 * script, private-use and not yet assigned code points are allowed.
 */
const NOT_DISPLAY_TEXT = /[\p{Cc}\p{Cs}\u2028\u2029]|(?![\u200C-\u200F\u061C])\p{Cf}/u;

/** What kind of character `character` is, for a message that names it without printing it. */
function kindOf(character: string): string {
  if (/\p{Cc}/u.test(character)) return 'a control character';
  if (/[\u2028\u2029]/u.test(character)) return 'a line separator';
  if (/\p{Cs}/u.test(character)) return 'half of a surrogate pair';
  if (/[\u202A-\u202E\u2066-\u2069]/u.test(character)) return 'a bidirectional override';
  return 'an invisible formatting character';
}

/**
 * Why `value` may not be stored as text shown to people, or `undefined` when
 * it may. The message names the first offending character by its code point
 * and never contains it (it may be the very escape sequence being refused).
 */
export function displayTextProblem(value: string, { multiLine = false } = {}): string | undefined {
  // A field meant to hold paragraphs (a description typed in a textarea) may break lines and indent.
  const found = NOT_DISPLAY_TEXT.exec(multiLine ? value.replace(/\r?\n|\t/g, ' ') : value);
  if (!found) return undefined;
  const codePoint = found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return `must not contain control, line-separator or invisible formatting characters (found U+${codePoint}, ${kindOf(found[0])})`;
}

/**
 * The display-text problems of named fields, one per field: a field whose
 * value is a string, or a list of strings, is checked (those in `multiLine`
 * may also hold line feeds, CRLF and tabs); anything else (absent,
 * null, a number, an object) is left to the field's own rules.
 */
export function displayTextProblems(fields: Readonly<Record<string, unknown>>, multiLine: ReadonlySet<string> = new Set()): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const [field, value] of Object.entries(fields)) {
    const texts = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
    const message = texts.map((text) => displayTextProblem(text, { multiLine: multiLine.has(field) })).find((problem) => problem !== undefined);
    if (message) problems.push({ field, message });
  }
  return problems;
}
