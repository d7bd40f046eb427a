import type { Context } from 'koa';

/** LE Enterprise errors: `{error, error_description}` with RFC 6749 statuses. */
export function leError(ctx: Context, status: number, error: string, description: string, challenge?: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  // RFC 6749 §5.2: a failed client authentication answers 401 with a challenge.
  if (status === 401) ctx.set('WWW-Authenticate', challenge ?? `Basic realm="gatehouse", error="${error}"`);
  ctx.body = { error, error_description: description };
}
