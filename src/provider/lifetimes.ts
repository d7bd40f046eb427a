import type { Context } from 'koa';

/**
 * Token lifetimes a legacy dialect promises its clients (django-oauth-toolkit:
 * 10 minutes / 1 day; LOS: 3600 s). A dialect sets them on the request before
 * handing it to the provider; the provider's `ttl` functions read them, so
 * the tokens are the provider's own, only shorter- or longer-lived.
 */
export interface DialectLifetimes {
  accessToken?: number;
  clientCredentials?: number;
  refreshToken?: number;
}

const KEY = 'gatehouseLifetimes';

export function setDialectLifetimes(ctx: Pick<Context, 'state'>, lifetimes: DialectLifetimes): void {
  ctx.state[KEY] = lifetimes;
}

/** The client metadata property with a client's own dialect lifetimes (set by an import). */
export const CLIENT_DIALECT_LIFETIMES = 'dialect_lifetimes';

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
  ctx: { state?: Record<string, unknown> } | undefined,
  kind: keyof DialectLifetimes,
  client?: { metadata(): Record<string, unknown> },
): number | undefined {
  const dialect = ctx?.state?.[KEY] as DialectLifetimes | undefined;
  if (!dialect) return undefined;
  const own = client?.metadata()[CLIENT_DIALECT_LIFETIMES];
  return (isDialectLifetimes(own) ? own[kind] : undefined) ?? dialect[kind];
}
