import type { Context } from 'koa';
import type { DialectLifetimes } from '../request-state.js';

export type { DialectLifetimes };

export function setDialectLifetimes(ctx: Pick<Context, 'state'>, lifetimes: DialectLifetimes): void {
  ctx.state.lifetimes = lifetimes;
}

/** The client metadata property with a client's own dialect lifetimes (set by an import). */
export const CLIENT_DIALECT_LIFETIMES = 'dialect_lifetimes';

/**
 * The dialect lifetimes of tokens that may be JWTs, signed with the signing
 * keys (so they bound a replaced key's retirement); refresh tokens are
 * always opaque.
 */
export const SIGNED_DIALECT_LIFETIMES: ReadonlyArray<keyof DialectLifetimes> = ['accessToken', 'clientCredentials'];

/** Whether a value is a DialectLifetimes object (whole seconds, 1 s to 10 years). */
export function isDialectLifetimes(value: unknown): value is DialectLifetimes {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.entries(value).every(([key, seconds]) => ['accessToken', 'clientCredentials', 'refreshToken'].includes(key)
    && Number.isInteger(seconds) && (seconds as number) > 0 && (seconds as number) <= 315_360_000);
}

/**
 * The lifetime a dialect promises, when the request came through one: the
 * client's own (an imported client keeps what its old server gave it), else
 * the dialect's.
 */
export function dialectLifetime(
  ctx: Pick<Context, 'state'> | undefined,
  kind: keyof DialectLifetimes,
  client?: object,
): number | undefined {
  const dialect = ctx?.state?.lifetimes;
  if (!dialect) return undefined;
  // An extra metadata property sits on the client under its own name.
  // client.metadata() would build the client's whole document to read it:
  // ~10 µs, asked several times per token (its expiry getters each ask).
  const own = (client as Record<string, unknown> | undefined)?.[CLIENT_DIALECT_LIFETIMES];
  return (isDialectLifetimes(own) ? own[kind] : undefined) ?? dialect[kind];
}
