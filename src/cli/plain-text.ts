/**
 * What the CLI writes when not given --json: every field, however nested,
 * as readable text, and every piece of text made safe for a terminal.
 *
 * Much of what the CLI shows was written by someone else: a client's name
 * from dynamic registration, a user's name and email from the account page
 * or an import file, a browser's User-Agent. Written raw, a control
 * character in it is obeyed by the operator's terminal: a line feed forges a
 * line (`client_id: …` that is not the client's), ESC sequences hide text,
 * recolour it or set the clipboard (OSC 52), and bidi overrides reorder
 * what is read (CVE-2021-42574, "Trojan Source"). So every string passes
 * through terminalSafe here, the one place plain text is made, and shows
 * such characters as escapes instead (`\n`, `\u001b`). --json needs none of
 * this: JSON escapes every control character itself.
 */

// C0 controls, DEL, C1 controls, the line and paragraph separators, and the
// bidi marks, embeddings, overrides and isolates (Unicode UAX #9).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with every character a terminal would act on, rather than show,
 * written as an escape. The result holds no such character, so escaping it
 * again changes nothing (a message built from escaped parts stays as it is).
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (character) => NAMED[character] ?? `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A message of several lines: each line made safe, the line breaks kept. */
export function terminalSafeLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n');
}

type Scalar = string | number | boolean | null;

function isScalar(value: unknown): value is Scalar {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function scalarText(value: Scalar): string {
  return value === null ? '' : terminalSafe(String(value));
}

function labelled(label: string, text: string): string {
  return text ? `${label} ${text}` : label;
}

/** A list of single words (scopes, grant types, roles) fits on its key's line; anything else gets a line per item. */
function isWordList(items: unknown[]): items is Scalar[] {
  return items.every((item) => isScalar(item) && /^\S+$/.test(scalarText(item)));
}

function fieldLines(key: string, value: unknown, indent: string): string[] {
  const label = `${indent}${terminalSafe(key)}:`;
  if (isScalar(value)) return [labelled(label, scalarText(value))];
  if (Array.isArray(value)) {
    // An empty list says so: a bare `applied:` reads as a line cut short.
    if (!value.length) return [`${label} (none)`];
    if (isWordList(value)) return [labelled(label, value.map(scalarText).join(' '))];
    return [label, ...value.flatMap((item) => itemLines(item, `${indent}  `))];
  }
  return [label, ...objectLines(value as Record<string, unknown>, `${indent}  `)];
}

/** A list item: `- value`, or an object whose first field follows the dash and the others align under it. */
function itemLines(item: unknown, indent: string): string[] {
  if (isScalar(item)) return [labelled(`${indent}-`, scalarText(item))];
  const inner = Array.isArray(item) ? item.flatMap((each) => itemLines(each, `${indent}  `)) : objectLines(item as Record<string, unknown>, `${indent}  `);
  if (!inner.length) return [`${indent}-`];
  return [`${indent}- ${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1)];
}

function objectLines(record: Record<string, unknown>, indent: string): string[] {
  return Object.entries(record).flatMap(([key, value]) => fieldLines(key, value, indent));
}

/**
 * A command's result as plain text: `key: value` a line, nested objects and
 * lists indented under their key, a list of records as blocks separated by a
 * blank line. The value is first brought to what --json prints (dates as
 * ISO strings, undefined fields left out), so both show the same fields.
 */
export function plainText(value: unknown): string {
  const data = JSON.parse(JSON.stringify(value ?? null)) as unknown;
  const rows = Array.isArray(data) ? data : [data];
  const blocks = rows.map((row) => {
    if (isScalar(row)) return scalarText(row);
    if (Array.isArray(row)) return row.flatMap((item) => itemLines(item, '')).join('\n');
    return objectLines(row as Record<string, unknown>, '').join('\n');
  });
  const text = blocks.filter((block) => block !== '').join('\n\n');
  return text ? `${text}\n` : '';
}
