import type { Context } from 'koa';
import { AppError } from '../../errors/app-error.js';
import { type Fields, stringField } from '../../http/body.js';

/**
 * Client credentials from the body (client_id / client_secret) when the
 * client put them there; `undefined` when it sent none in the body (it may
 * have used HTTP Basic, which is then passed to the provider untouched).
 * Both at once is refused (RFC 6749 §2.3: one method per request).
 */
export function bodyCredentials(ctx: Context, fields: Fields): { clientId: string; clientSecret: string } | undefined {
  const clientId = stringField(fields, 'client_id');
  const clientSecret = stringField(fields, 'client_secret');
  const header = ctx.get('Authorization');
  if (clientSecret && header) {
    throw new AppError(400, 'invalid_request', 'client authentication must use only one method (HTTP Basic or client_secret in the body)');
  }
  if (header) return undefined;
  if (!clientId || !clientSecret) {
    throw new AppError(401, 'invalid_client', 'client_id and client_secret (or HTTP Basic authentication) are required');
  }
  return { clientId, clientSecret };
}
