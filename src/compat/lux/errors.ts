import type { Context } from 'koa';

/** Lux's API errors: `{error, error_description}` with the HTTP status (RFC 6749 shape). */
export function luxError(ctx: Context, status: number, error: string, description: string, challenge?: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (challenge) ctx.set('WWW-Authenticate', challenge);
  else if (status === 401) ctx.set('WWW-Authenticate', `Basic realm="gatehouse", error="${error}"`);
  ctx.body = { error, error_description: description };
}
