import { AppError } from '../errors/app-error.js';

// A parsed JSON text's tokens in order: a string (with, in group 1, the colon
// that makes it a member name) or a run of anything else. Sticky, so the
// scan never starts inside a string: each match begins where the last ended.
const JSON_TOKENS = /"(?:[^"\\]|\\.)*"(\s*:)?|[^"]+/gy;

/** How many member names a JSON text spells out (it has parsed, so its strings are well delimited). */
function namesSpelled(text: string): number {
  let names = 0;
  JSON_TOKENS.lastIndex = 0;
  for (let token = JSON_TOKENS.exec(text); token; token = JSON_TOKENS.exec(text)) if (token[1] !== undefined) names += 1;
  return names;
}

/** Deeper than this, a body is refused: no request Gatehouse reads nests past a few levels. */
const MAX_DEPTH = 64;

/**
 * How many members the objects of a parsed JSON value hold, nested ones
 * included, and how deep it nests (a loop, not recursion: the depth is the
 * sender's choice).
 */
function shapeOf(parsed: unknown): { members: number; depth: number } {
  let members = 0;
  let depth = 0;
  const pending: Array<[unknown, number]> = [[parsed, 0]];
  while (pending.length > 0) {
    const [value, level] = pending.pop()!;
    if (value === null || typeof value !== 'object') continue;
    depth = Math.max(depth, level + 1);
    if (Array.isArray(value)) {
      for (const item of value) pending.push([item, level + 1]);
      continue;
    }
    for (const name in value) {
      members += 1;
      pending.push([(value as Record<string, unknown>)[name], level + 1]);
    }
  }
  return { members, depth };
}

const refused = (message: string) => new AppError(400, 'invalid_request', message);

/** A body that is not JSON at all (as opposed to JSON refused for what it says). */
export class MalformedJsonError extends AppError {
  constructor() {
    super(400, 'invalid_request', 'the request body is not valid JSON');
  }
}

/**
 * A request body's JSON, read so that it means one thing to every reader:
 * - a member name given twice is refused: JSON.parse keeps the last, a proxy,
 *   a log or a WAF in front may read the first (RFC 8259 §4: names SHOULD be
 *   unique; RFC 6749 §3.1: a parameter MUST NOT be sent twice), and a
 *   repeated form field is refused the same way;
 * - a string (or name) with half of a surrogate pair (`"\ud800"`) is
 *   refused: it is no text at all, and would fail later, wherever it is
 *   encoded (percent-encoding, Basic, the database), as a server error;
 * - a body nesting deeper than MAX_DEPTH is refused: whatever reads it next
 *   (a log line, a copy) need not be written for any depth.
 * Malformed JSON is a 400 too; every error is an AppError each surface
 * renders in its own shape.
 */
export function parseJsonBody(text: string): unknown {
  // A string of the parse can hold half a pair only where the text does, or
  // through an escape: without either (almost every body), no reviver is
  // needed (JSON.parse with one took most of a dialect's body reading).
  if (!text.includes('\\') && text.isWellFormed()) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new MalformedJsonError();
    }
    return withoutRepeatsOrDepth(text, body);
  }
  let body: unknown;
  try {
    body = JSON.parse(text, (name: string, value: unknown) => {
      if (!name.isWellFormed() || (typeof value === 'string' && !value.isWellFormed())) throw refused(`${name ? `"${name.slice(0, 64)}"` : 'a value'} is not well-formed text (half of a surrogate pair)`.replace(/[^\x20-\x7e]/g, '?'));
      return value;
    });
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new MalformedJsonError();
  }
  return withoutRepeatsOrDepth(text, body);
}

/** `body`, parsed from `text`, unless a name was given twice (JSON.parse kept fewer members than the text spells) or it nests past MAX_DEPTH. */
function withoutRepeatsOrDepth(text: string, body: unknown): unknown {
  const { members, depth } = shapeOf(body);
  if (members < namesSpelled(text)) throw refused('a field is given more than once');
  if (depth > MAX_DEPTH) throw refused(`the body nests deeper than ${MAX_DEPTH} levels`);
  return body;
}
