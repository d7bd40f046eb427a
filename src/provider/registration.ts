import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { clientMetadataProblems, type RuleContext } from '../clients/metadata-rules.js';

export const REGISTRATION_POLICY = 'gatehouse';
const DEFAULT_SCOPE = 'openid profile email';
/** The provider's routes on which a client describes itself (RFC 7591 §3.1, RFC 7592 §2.2). */
const SELF_SERVICE_ROUTES = new Set(['registration', 'client_update']);

export interface ScopeRegistryView {
  names: () => string[];
  restricted: () => string[];
}

/**
 * The policy every dynamically registered client (RFC 7591) and every RFC
 * 7592 update goes through: a default scope, so that a client without one
 * cannot ask for everything. The rules themselves are enforceClientRules,
 * which the provider applies to every client it builds.
 */
export function registrationPolicy() {
  return async (_ctx: KoaContextWithOIDC, properties: Record<string, unknown>): Promise<void> => {
    if (typeof properties.scope !== 'string' || !properties.scope) properties.scope = DEFAULT_SCOPE;
  };
}

/**
 * Applies the one client rule set (clients/metadata-rules.ts) inside the
 * provider, where oidc-provider builds a Client from metadata (its
 * `extraClientMetadata.validator`, which is given the whole metadata with the
 * client defaults applied). On the registration routes the client describes
 * itself, so the self-service rules apply with the scope registry; anywhere
 * else (a client read from storage, the client service's own check) the
 * `stored` rules do. Errors are RFC 7591 §3.2.2's: invalid_redirect_uri for a
 * redirect URI, invalid_client_metadata for the rest. Synchronous, as the
 * validator must be: the registry is the one the provider was built with.
 */
export function enforceClientRules(ctx: KoaContextWithOIDC | undefined, metadata: Record<string, unknown>, registry: ScopeRegistryView): void {
  const route = (ctx as { oidc?: { route?: string } } | undefined)?.oidc?.route;
  const context: RuleContext = route && SELF_SERVICE_ROUTES.has(route)
    ? { origin: 'self-service', registeredScopes: new Set(registry.names()), restrictedScopes: new Set(registry.restricted()) }
    : { origin: 'stored' };
  const problems = clientMetadataProblems(metadata, context);
  if (!problems.length) return;
  // A stored client that breaks a rule is not usable: answered like a client
  // whose authentication failed (as an unknown one is), the reason logged only.
  if (context.origin === 'stored') throw new errors.InvalidClientAuth(problems.map((problem) => problem.message).join('; '));
  // oidc-provider answers invalid_redirect_uri when the description starts
  // with "redirect_uris", so a redirect URI problem goes first.
  const ordered = [...problems.filter((p) => p.field === 'redirect_uris'), ...problems.filter((p) => p.field !== 'redirect_uris')];
  throw new errors.InvalidClientMetadata(ordered.map((problem) => `${problem.field}: ${problem.message}`).join('; '));
}

/** Issues an initial access token for dynamic registration (RFC 7591 §3). */
export async function issueInitialAccessToken(provider: Provider, expiresIn: number): Promise<{ token: string; expiresAt: string }> {
  const token = new provider.InitialAccessToken({ expiresIn, policies: [REGISTRATION_POLICY] } as never);
  const value = await token.save();
  return { token: value, expiresAt: new Date((Math.floor(Date.now() / 1000) + expiresIn) * 1000).toISOString() };
}
