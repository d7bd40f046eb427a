import type { Context } from 'koa';

/**
 * The RFC 6749 §5.2 error shape that the LE Enterprise, django-oauth-toolkit
 * and Lux dialects share: `{error, error_description}` with the status, never
 * cached, and a challenge on 401 (the provider's, or Basic when it gave none).
 */
export function rfc6749Error(ctx: Context, status: number, error: string, description: string, challenge?: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (challenge) ctx.set('WWW-Authenticate', challenge);
  else if (status === 401) ctx.set('WWW-Authenticate', `Basic realm="gatehouse", error="${error}"`);
  ctx.body = { error, error_description: description };
}
