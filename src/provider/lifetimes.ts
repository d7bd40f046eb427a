import type { Context } from 'koa';
import type { DialectLifetimes } from '../request-state.js';

export type { DialectLifetimes };

export function setDialectLifetimes(ctx: Pick<Context, 'state'>, lifetimes: DialectLifetimes): void {
  ctx.state.lifetimes = lifetimes;
}

export function dialectLifetime(ctx: Pick<Context, 'state'> | undefined, kind: keyof DialectLifetimes): number | undefined {
  return ctx?.state?.lifetimes?.[kind];
}
