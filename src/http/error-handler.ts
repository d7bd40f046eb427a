import type { Middleware } from 'koa';
import { AppError, ValidationError } from '../errors/app-error.js';
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
      if (ctx.status === 404 && ctx.body == null) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', error_description: `no route for ${ctx.method} ${ctx.path}` };
      }
    } catch (error) {
      const err = error as Partial<AppError> & { status?: number; statusCode?: number; expose?: boolean };
      const status = err.status ?? err.statusCode ?? 500;
      const providerError = shownProviderError(error);
      if (error instanceof AppError) {
        ctx.status = error.status;
        ctx.body = {
          error: error.code,
          error_description: error.message,
          ...(error instanceof ValidationError ? { fields: error.fields } : {}),
        };
        if (error.detail) logger.warn({ req_id: ctx.state.requestId, detail: error.detail }, error.message);
      } else if (providerError) {
        // A storage outage (503 temporarily_unavailable) or a protocol error thrown outside the provider.
        ctx.status = providerError.status;
        ctx.body = { error: providerError.code, error_description: providerError.description };
      } else if (status < 500 && err.expose) {
        // Koa's own http errors (for example a body over the size limit).
        ctx.status = status;
        ctx.body = { error: 'invalid_request', error_description: err.message };
      } else {
        logger.error({ req_id: ctx.state.requestId, err: error }, 'unhandled error');
        ctx.status = 500;
        ctx.body = { error: 'server_error', error_description: 'An internal error occurred.' };
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
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Content-Security-Policy', BASELINE_CSP);
  ctx.set('X-Frame-Options', 'DENY');
  return next();
};
