import type { Middleware } from 'koa';

// oidc-provider's descriptions of a grant the authenticated client is not
// registered for (lib/actions/token.js, lib/actions/authorization/client.js).
const GRANT_NOT_ALLOWED = /^(?:requested grant type|urn:ietf:params:oauth:grant-type:device_code) is not allowed for this client$/;

/**
 * oidc-provider answers an authenticated client asking for a grant it is not
 * registered for with `invalid_request`; RFC 6749 §5.2 and RFC 8628 §3.2
 * name that `unauthorized_client`. The provider has no seam between its
 * client authentication and that check, so its answer is renamed here,
 * recognised by the provider's exact description: an upgrade that words it
 * otherwise fails test/http/unauthorized-client.test.ts rather than passing
 * unnoticed. Placed on the token and device authorization routes, so every
 * dialect's hand-off gets it too.
 */
export function unauthorizedClientForGrant(): Middleware {
  return async (ctx, next) => {
    await next();
    const body = ctx.body as { error?: unknown; error_description?: unknown } | null | undefined;
    if (ctx.status === 400 && body?.error === 'invalid_request' && typeof body.error_description === 'string' && GRANT_NOT_ALLOWED.test(body.error_description)) {
      body.error = 'unauthorized_client';
    }
  };
}
