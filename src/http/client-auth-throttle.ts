import { parse } from 'node:querystring';
import type { Context, Middleware } from 'koa';
import { FailureLimiter, type Subject, TooManyFailures } from '../security/failure-limiter.js';
import { basicClientId } from './basic-auth.js';
import { replayToProvider } from './provider-endpoint.js';
import { readRaw } from './raw-body.js';

/** 429 in the RFC 6749 error shape; dialects translate it like any provider answer. */
export function answerThrottled(ctx: Context, error: TooManyFailures): void {
  ctx.status = 429;
  ctx.set('Retry-After', String(error.retryAfter));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'temporarily_unavailable', error_description: error.message };
}

/**
 * Brute-force protection for client authentication, placed (in main.ts's
 * table of provider extensions) on every endpoint that authenticates clients
 * (token, introspection, revocation, PAR, device authorization), and so for
 * every dialect, which hands its requests to those endpoints. A request past
 * any of the limiter's limits (this address with this client, this address,
 * this client from many addresses: src/security/failure-limiter.ts) is refused
 * before the provider checks anything; each `invalid_client` counts against
 * them. Requests with HTTP Basic need no body read; for credentials in the
 * body, the body is read once and handed on unchanged.
 */
export function clientAuthThrottle(limiter: FailureLimiter): Middleware {
  return async (ctx, next) => {
    let clientId = basicClientId(ctx.get('authorization'));
    let raw: Buffer | undefined;
    if (clientId === undefined && ctx.is('application/x-www-form-urlencoded')) {
      raw = await readRaw(ctx.req);
      if (!raw) {
        ctx.status = 413;
        ctx.body = { error: 'invalid_request', error_description: 'request body too large' };
        return;
      }
      const field = parse(raw.toString('utf8')).client_id;
      if (typeof field === 'string' && field) clientId = field;
    }
    const subjects: Subject[] = [{ kind: 'ip', value: ctx.ip }];
    if (clientId) subjects.push({ kind: 'client', value: clientId });
    try {
      await limiter.check(subjects);
    } catch (error) {
      if (!(error instanceof TooManyFailures)) throw error;
      answerThrottled(ctx, error);
      return;
    }
    if (raw) await replayToProvider(ctx, next, ctx.path, raw, ctx.req.headers);
    else await next();
    if (ctx.status === 401 && (ctx.body as { error?: unknown } | undefined)?.error === 'invalid_client') {
      await limiter.failed(subjects);
    }
  };
}
