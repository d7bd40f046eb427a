import type { Middleware } from 'koa';
import { FailureLimiter, TooManyFailures } from '../security/failure-limiter.js';
import { renderPage, type Views } from './views.js';

/**
 * Brute-force protection for the device flow's code page (RFC 8628 §5.1):
 * each user code entered that matches no device counts as a failure of the
 * address, so an address guessing codes backs off as one guessing
 * passwords does. The code is counted before the provider looks it up and
 * given back when it matched (FailureLimiter.attempt), so guesses sent at
 * once get no more looks than guesses sent one by one.
 */
export function deviceCodeThrottle(limiter: FailureLimiter, views: Views): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    try {
      await limiter.attempt([{ kind: 'ip', value: ctx.ip }], async () => {
        await next();
        return ctx.state.deviceCodeUnknown ? undefined : true;
      });
    } catch (error) {
      if (!(error instanceof TooManyFailures)) throw error;
      ctx.set('Retry-After', String(error.retryAfter));
      renderPage(ctx, views, 'device-code', {
        title: 'Connect a device',
        error: `Too many codes that were not right. Wait ${error.retryAfter} seconds, then open the address your device shows again.`,
        form: '',
      }, 429);
    }
  };
}
