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
    'WWW-Authenticate': dialectChallenge(status, error, challenge),
  });
}

/**
 * A dialect's challenge: the provider's, or Basic on any other 401 (RFC 9110
 * §15.5.2: every 401 carries one). The provider gives one only when the
 * request had an Authorization header; credentials a dialect read from the
 * body reach it as a form, so an unknown client and a wrong secret get the
 * same challenge.
 */
export function dialectChallenge(status: number, error: string, challenge?: string): string | undefined {
  return challenge ?? (status === 401 ? `Basic realm="gatehouse", error="${error}"` : undefined);
}
