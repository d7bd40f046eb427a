import type { Context } from 'koa';
import { writeRfc6749Error } from '../../errors/rfc6749.js';

/**
 * The RFC 6749 §5.2 error shape that the LE Enterprise, django-oauth-toolkit
 * and Lux dialects share: `{error, error_description}` with the status, never
 * cached, and a challenge on 401 (the provider's, or Basic when it gave none).
 */
export function rfc6749Error(ctx: Context, status: number, error: string, description: string, challenge?: string): void {
  writeRfc6749Error(ctx, status, error, description, {
    'Cache-Control': 'no-store',
    'WWW-Authenticate': challenge ?? (status === 401 ? `Basic realm="gatehouse", error="${error}"` : undefined),
  });
}
