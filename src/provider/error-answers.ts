import type { Configuration } from 'oidc-provider';
import { renderPage, type Views } from '../http/views.js';

/**
 * The provider's routes a person's browser visits: an error there is a page.
 * Every other route is called by a program (token, introspection,
 * revocation, PAR, device authorization, userinfo, registration, JWKS,
 * discovery, and any route a provider upgrade adds), whose error is the JSON
 * object RFC 6749 §5.2, RFC 7662, RFC 7009, RFC 8628 and RFC 7591 define.
 */
const PAGE_ROUTES: ReadonlySet<string> = new Set([
  'authorization', 'resume', 'end_session', 'end_session_confirm', 'end_session_success', 'code_verification', 'device_resume',
]);

/**
 * oidc-provider's `renderError`, which it calls for any route whose request
 * prefers HTML (`Accept`). Left to that negotiation, a client sending
 * `Accept: text/html` to the token endpoint got an HTML page instead of its
 * JSON error, and every step that reads the provider's answer (the
 * client-authentication throttle, the dialects' translation, JWT
 * introspection) saw no error in it: wrong secrets went uncounted. So only
 * the page routes render; the others answer JSON whatever the request
 * prefers, the one shape those steps read.
 */
export function errorAnswers(views: Views): NonNullable<Configuration['renderError']> {
  return async (ctx, out) => {
    const route = (ctx as { oidc?: { route?: string } }).oidc?.route;
    if (route !== undefined && PAGE_ROUTES.has(route)) {
      renderPage(ctx, views, 'error', { error: out.error, description: out.error_description });
      return;
    }
    ctx.type = 'application/json';
    ctx.body = out;
  };
}
