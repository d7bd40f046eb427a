import { AppError } from '../errors/app-error.js';

/**
 * The furthest page anyone can ask for. Far beyond any real list, and low
 * enough that (page - 1) × per-page stays an exact integer that PostgreSQL's
 * OFFSET accepts, whatever the per-page bound.
 */
export const MAX_PAGE = 1_000_000;

export interface PagingBounds {
  defaultPerPage: number;
  maxPerPage: number;
}

export interface Paging {
  page: number;
  perPage: number;
}

/** A paging parameter that is not a whole number: 400 in each surface's own error shape. */
export class PagingError extends AppError {
  override name = 'PagingError';

  constructor(readonly parameter: string, message: string) {
    super(400, 'invalid_request', message);
  }
}

// An optional sign and decimal digits: no floats, exponents, hex or blanks.
const WHOLE_NUMBER = /^[+-]?\d+$/;

function clamp(value: number, max: number): number {
  return Math.min(Math.max(value, 1), max);
}

/**
 * One paging parameter as a caller sent it (a query value, a CLI flag).
 * Gatehouse's policy, the same on every list:
 * - absent → the default;
 * - not a whole number (text, a float, an exponent, a repeated parameter,
 *   an empty value) → PagingError (400): the caller's request is malformed;
 * - a whole number out of range (0, negative, absurdly large) → clamped into
 *   1…max, as Northstar always did for `limit`: the caller asked for "as
 *   many/as far as possible", and a page past the end is simply empty.
 */
export function pagingParameter(name: string, raw: unknown, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !WHOLE_NUMBER.test(raw)) {
    throw new PagingError(name, `${name} must be a whole number${Array.isArray(raw) ? ', given once' : ''}`);
  }
  // Number() of a long digit string is a large float or Infinity: both clamp.
  return clamp(Number(raw), max);
}

/**
 * Reads page and per-page parameters (as sent: strings, lists, absent) by
 * the rule of pagingParameter. `names` are the surface's own parameter names.
 */
export function readPaging(
  raw: { page?: unknown; perPage?: unknown },
  bounds: PagingBounds,
  names: { page: string; perPage: string } = { page: 'page', perPage: 'per_page' },
): Paging {
  return {
    page: pagingParameter(names.page, raw.page, 1, MAX_PAGE),
    perPage: pagingParameter(names.perPage, raw.perPage, bounds.defaultPerPage, bounds.maxPerPage),
  };
}

/**
 * The same bounds for numbers already parsed (a service's own callers): NaN
 * falls back to the default and fractions are cut, so no list query ever gets
 * NaN, Infinity or an offset beyond MAX_PAGE.
 */
export function clampedPaging(options: { page?: number; perPage?: number }, bounds: PagingBounds): Paging {
  const whole = (value: number | undefined, fallback: number) => (value === undefined || Number.isNaN(value) ? fallback : Math.trunc(value));
  return {
    page: clamp(whole(options.page, 1), MAX_PAGE),
    perPage: clamp(whole(options.perPage, bounds.defaultPerPage), bounds.maxPerPage),
  };
}
