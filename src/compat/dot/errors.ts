import type { Context } from 'koa';

/** django-oauth-toolkit (oauthlib) errors: `{error, error_description}`, RFC 6749 statuses. */
export function dotError(ctx: Context, status: number, error: string, description: string, challenge?: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (status === 401) ctx.set('WWW-Authenticate', challenge ?? `Basic realm="gatehouse", error="${error}"`);
  ctx.body = { error, error_description: description };
}
