import { AppError } from '../errors/app-error.js';

/**
 * Node's querystring.parse, which reads every query and form here (Koa's
 * ctx.query, oidc-provider's body reader, Gatehouse's own readers), keeps
 * the first 1000 pairs and drops the rest without a word. A parameter
 * repeated past them would go unseen (RFC 6749 §3.1: parameters must not
 * repeat), and a proxy or firewall reading the whole request would judge
 * another request than the one served. So a query or form with more pairs
 * than that is refused whole, before anything reads it.
 */
export const MOST_PAIRS = 1000;

/**
 * The `&` separators in `text` (a query string or form, whole or a chunk
 * of it), counted up to `enough`: past it the answer is known.
 */
export function separatorsIn(text: string | Buffer, enough = MOST_PAIRS): number {
  let separators = 0;
  // indexOf('&') on a Buffer searches for the byte 0x26, as on a string for the character.
  for (let at = text.indexOf('&'); at !== -1 && separators < enough; at = text.indexOf('&', at + 1)) separators += 1;
  return separators;
}

/** Whether `text` (a query string or form, or its bytes) holds more pairs than the parser keeps. */
export function morePairsThanParsed(text: string | Buffer): boolean {
  return text.length >= MOST_PAIRS && separatorsIn(text) >= MOST_PAIRS;
}

export class TooManyParameters extends AppError {
  override name = 'TooManyParameters';

  constructor(where: 'query' | 'body') {
    super(400, 'invalid_request', `the request ${where === 'query' ? 'query' : 'body'} has more than ${MOST_PAIRS} parameters`);
  }
}

/** Refuses a query or form (`text`) with more pairs than the parser keeps. */
export function assertPairsParsed(text: string | Buffer, where: 'query' | 'body'): void {
  if (morePairsThanParsed(text)) throw new TooManyParameters(where);
}
