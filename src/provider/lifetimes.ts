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

export function dialectLifetime(ctx: { state?: Record<string, unknown> } | undefined, kind: keyof DialectLifetimes): number | undefined {
  return (ctx?.state?.[KEY] as DialectLifetimes | undefined)?.[kind];
}
