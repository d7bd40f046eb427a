import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { redirectUriProblem } from '../clients/redirect-uris.js';

export const REGISTRATION_POLICY = 'gatehouse';
const DEFAULT_SCOPE = 'openid profile email';
const ALLOWED_GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials']);

/**
 * The policy every dynamically registered client (RFC 7591) goes through: the
 * same redirect URI rules as the admin surfaces, only registered scopes and
 * never administrative ones, no password grant, and a default scope so that
 * a client without one cannot ask for everything.
 */
export function registrationPolicy(registry: { names: () => string[]; restricted: () => string[] }) {
  return async (_ctx: KoaContextWithOIDC, properties: Record<string, unknown>): Promise<void> => {
    for (const uri of [...((properties.redirect_uris as string[] | undefined) ?? []), ...((properties.post_logout_redirect_uris as string[] | undefined) ?? [])]) {
      const problem = redirectUriProblem(uri);
      if (problem) throw new errors.InvalidRedirectUri(`${uri} ${problem}`);
    }
    for (const grant of (properties.grant_types as string[] | undefined) ?? ['authorization_code']) {
      if (!ALLOWED_GRANTS.has(grant)) throw new errors.InvalidClientMetadata(`grant type ${grant} cannot be registered dynamically`);
    }
    const scope = typeof properties.scope === 'string' && properties.scope ? properties.scope : DEFAULT_SCOPE;
    const known = new Set(registry.names());
    const restricted = new Set(registry.restricted());
    for (const name of scope.split(' ')) {
      if (!known.has(name)) throw new errors.InvalidClientMetadata(`scope ${name} is not registered`);
      if (restricted.has(name)) throw new errors.InvalidClientMetadata(`scope ${name} needs an administrator`);
    }
    properties.scope = scope;
  };
}

/** Issues an initial access token for dynamic registration (RFC 7591 §3). */
export async function issueInitialAccessToken(provider: Provider, expiresIn: number): Promise<{ token: string; expiresAt: string }> {
  const token = new provider.InitialAccessToken({ expiresIn, policies: [REGISTRATION_POLICY] } as never);
  const value = await token.save();
  return { token: value, expiresAt: new Date((Math.floor(Date.now() / 1000) + expiresIn) * 1000).toISOString() };
}
