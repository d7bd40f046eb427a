import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { exemptFromPkce } from '../../provider/pkce-exemption.js';
import type { Dialect } from '../../request-state.js';
import { registeredScope } from './registered-scope.js';

/**
 * Hands a legacy dialect's authorize request (a browser's GET) to the
 * provider's authorization endpoint in this same request, with the query as
 * it came: the provider validates the client and redirect_uri, signs the user
 * in, asks consent and redirects back. It never redirects to an unknown
 * client's or an unregistered redirect_uri (RFC 6749 §4.1.2.1): it shows its
 * error page instead.
 *
 * What the legacy servers did differently is set here, and only for this path:
 * - a request without `scope` gets the client's registered scopes (the
 *   legacy servers' default; the standard `/auth` would grant none);
 * - a *confidential* client may go without PKCE (its clients predate it;
 *   provider/pkce-exemption.ts says why that is acceptable); a public client
 *   still needs it (RFC 9700 §2.1.1).
 */
export async function handOffAuthorization(ctx: Context, next: Next, provider: Provider, dialect: Dialect): Promise<void> {
  if (ctx.query.scope === undefined) {
    const clientId = typeof ctx.query.client_id === 'string' ? ctx.query.client_id : undefined;
    const scope = await registeredScope(provider, clientId);
    if (scope) ctx.query = { ...ctx.query, scope };
  }
  exemptFromPkce(ctx);
  ctx.state.dialect = dialect;
  const original = ctx.path;
  ctx.path = provider.pathFor('authorization');
  try {
    await next();
  } finally {
    ctx.path = original;
  }
}
