import type { AuditEvent } from './log.js';

/**
 * The most any audit row can hold, whoever caused it. Requests choose much of
 * what is recorded (paths, usernames, client ids, forwarded addresses), so
 * every field is cut to a bound before it is stored.
 */
export const AUDIT_BOUNDS = {
  /** Characters of any text: a path, a username, each string in `detail`. */
  text: 512,
  /** Characters of the event name, actor, client id and address columns. */
  column: 256,
  /** Items kept of an array, and keys of an object, in `detail`. */
  items: 32,
  /** Levels of nesting kept in `detail`. */
  depth: 4,
  /** Bytes of `detail` as stored (JSON, UTF-8), a tally's count and times included. */
  detailBytes: 4096,
} as const;

// Room left in `detail` for what a tally adds (its key, count and first time).
const TALLY_ROOM = 128;

const TRUNCATED = '…';

/** `text` cut to `max` characters (whole code points), marked when cut; NUL (which PostgreSQL text refuses) replaced. */
export function boundText(text: string, max: number = AUDIT_BOUNDS.text): string {
  const clean = text.includes('\u0000') ? text.replace(/\u0000/g, '\uFFFD') : text;
  if (clean.length <= max) return clean;
  let cut = clean.slice(0, max - TRUNCATED.length);
  // Never leave half of a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut + TRUNCATED;
}

function boundValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return boundText(value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== 'object') return value === undefined ? undefined : boundText(String(value));
  if (depth >= AUDIT_BOUNDS.depth) return TRUNCATED;
  if (Array.isArray(value)) {
    const kept = value.slice(0, AUDIT_BOUNDS.items).map((item) => boundValue(item, depth + 1) ?? null);
    return value.length > kept.length ? [...kept, `${TRUNCATED} ${value.length - kept.length} more`] : kept;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const bounded: Record<string, unknown> = {};
  for (const [key, item] of entries.slice(0, AUDIT_BOUNDS.items)) bounded[boundText(key, 64)] = boundValue(item, depth + 1);
  if (entries.length > AUDIT_BOUNDS.items) bounded.truncated = true;
  return bounded;
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

/**
 * `detail` within AUDIT_BOUNDS: each field bounded, and then, if the whole is
 * still too large, fields dropped from the last until it fits (marked
 * `truncated`), so what identifies the event (set first by every writer) stays.
 */
export function boundDetail(detail: Record<string, unknown> | undefined): Record<string, unknown> {
  const bounded = (boundValue(detail ?? {}, 0) ?? {}) as Record<string, unknown>;
  const limit = AUDIT_BOUNDS.detailBytes - TALLY_ROOM;
  if (bytes(bounded) <= limit) return bounded;
  const kept: Record<string, unknown> = { truncated: true };
  for (const [key, value] of Object.entries(bounded)) {
    if (key === 'truncated') continue;
    kept[key] = value;
    if (bytes(kept) > limit) delete kept[key];
  }
  return kept;
}

const column = (value: string | null | undefined) => (typeof value === 'string' ? boundText(value, AUDIT_BOUNDS.column) : null);

/** `event` with every column and every detail field within AUDIT_BOUNDS. */
export function boundEvent(event: AuditEvent): AuditEvent {
  return {
    event: boundText(event.event, AUDIT_BOUNDS.column),
    actor: column(event.actor),
    clientId: column(event.clientId),
    ip: column(event.ip),
    detail: boundDetail(event.detail),
  };
}
