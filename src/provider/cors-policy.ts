import type { KoaContextWithOIDC } from 'oidc-provider';

interface CorsClient { clientAuthMethod?: string; redirectUris?: readonly string[] }

/**
 * Which origins may read a client's answers from the token, introspection,
 * revocation, PAR, device authorization and userinfo endpoints (CORS). Only
 * a browser client's own pages: a public client (it runs in the browser, so
 * it cannot keep a secret) and only from the origin of one of its registered
 * redirect URIs. A confidential client talks to these endpoints from a
 * server, so no origin may read its answers; a page elsewhere must not be
 * able to drive a confidential client's secret from a user's browser.
 * Userinfo, called with the user's token rather than the client's secret,
 * answers any client's pages at their redirect origins.
 */
export function browserClientOrigin(ctx: KoaContextWithOIDC, origin: string, client: CorsClient): boolean {
  if (origin === 'null') return false;
  if (client.clientAuthMethod !== 'none' && ctx.oidc.route !== 'userinfo') return false;
  return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
}
