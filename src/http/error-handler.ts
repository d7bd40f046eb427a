import type { Middleware } from 'koa';
import { AppError } from '../errors/app-error.js';
import { writeAppErrorAsRfc6749, writeRfc6749Error } from '../errors/rfc6749.js';
import { shownProviderError } from '../errors/provider-error.js';
import type { Logger } from '../observability/logger.js';

/**
 * The last line of defence for Gatehouse's own routes (oidc-provider renders
 * its own errors). AppErrors become `{error, error_description}` with their
 * status, oidc-provider's shown errors (a storage outage among them) their
 * RFC 6749 shape; anything else is logged with its stack and answered as a
 * bare 500.
 * Unmatched paths get a JSON 404, since oidc-provider has no catch-all.
 */
export function errorHandler(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null) writeRfc6749Error(ctx, 404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
    } catch (error) {
      const err = error as { status?: number; statusCode?: number; expose?: boolean; message?: string };
      const status = err.status ?? err.statusCode ?? 500;
      const providerError = shownProviderError(error);
      if (error instanceof AppError) {
        writeAppErrorAsRfc6749(ctx, error);
        if (error.detail) logger.warn({ req_id: ctx.state.requestId, detail: error.detail }, error.message);
      } else if (providerError) {
        // A storage outage (503 temporarily_unavailable) or a protocol error thrown outside the provider.
        writeRfc6749Error(ctx, providerError.status, providerError.code, providerError.description);
      } else if (status < 500 && err.expose) {
        // Koa's own http errors (for example a body over the size limit).
        writeRfc6749Error(ctx, status, 'invalid_request', String(err.message));
      } else {
        logger.error({ req_id: ctx.state.requestId, err: error }, 'unhandled error');
        writeRfc6749Error(ctx, 500, 'server_error', 'An internal error occurred.');
      }
    }
  };
}

/**
 * The policy of responses Gatehouse does not render itself: JSON, and the
 * auto-submitting pages oidc-provider writes (form_post, and logout without a
 * session). Gatehouse serves no script, so 'self' matches nothing; script-src
 * is there for oidc-provider to add the hash of its one inline script to.
 * Gatehouse's own pages replace this with PAGE_HEADERS.
 */
const BASELINE_CSP = "default-src 'none'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers on every response: no MIME sniffing, no referrer leaks of codes in URLs, no framing. */
export const securityHeaders: Middleware = (ctx, next) => {
  // Straight onto the response (nothing is sent yet): Koa's ctx.set
  // allocates arrays on every call, measurable on every request.
  const { res } = ctx;
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Content-Security-Policy', BASELINE_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  return next();
};
