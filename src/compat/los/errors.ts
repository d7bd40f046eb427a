import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import { rfc6749Body } from '../../errors/rfc6749.js';
import { dialectErrorMapping } from '../shared/dialect-errors.js';
import { dialectChallenge } from '../shared/oauth-error.js';

/**
 * The LOS API's one response shape: every answer, good or bad, is wrapped in
 * `{meta, data}`; `meta.responseCode` repeats the HTTP status.
 */
function envelope(ctx: Context, status: number, data: Record<string, unknown>): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = {
    meta: {
      // ISO 8601 UTC to the second, as the document's example: 2018-06-17T22:18:45Z
      date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      function: 'oauth',
      responseCode: status,
      responseID: randomUUID(),
      success: status >= 200 && status < 300,
    },
    data,
  };
}

export function losSuccess(ctx: Context, data: { token_type: 'Bearer'; expires_in: number; access_token: string }): void {
  envelope(ctx, 200, data);
}

/** LOS errors: the RFC 6749 body inside the envelope, with a challenge on a 401 (dialectChallenge). */
function losError(ctx: Context, status: number, error: string, description: string, challenge?: string): void {
  const said = dialectChallenge(status, error, challenge);
  if (said) ctx.set('WWW-Authenticate', said);
  envelope(ctx, status, rfc6749Body(error, description));
}

export const losErrors = dialectErrorMapping(losError);
