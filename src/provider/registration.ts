import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { clientMetadataProblems, restrictedScopeProblems, type RuleContext } from '../clients/metadata-rules.js';
import { applicationTypeOf } from '../clients/redirect-uris.js';

export const REGISTRATION_POLICY = 'gatehouse';
const DEFAULT_SCOPE = 'openid profile email';
/** OpenID Connect Dynamic Client Registration 1.0 §2. */
const APPLICATION_TYPES = ['native', 'web'];
/** The provider's routes on which a client describes itself (RFC 7591 §3.1, RFC 7592 §2.2). */
const SELF_SERVICE_ROUTES = new Set(['registration', 'client_update']);

export interface ScopeRegistryView {
  names: () => readonly string[];
  restricted: () => string[];
}

/** The scope registry as it is at the moment of asking (storage, not a start-up snapshot). */
export interface LiveScopeRegistry {
  restrictedScopes: () => Promise<string[]>;
  /** Makes the provider know every name in `scope` that the registry holds (live-scopes.ts). */
  cover: (scope: unknown) => Promise<void>;
}

/**
 * Refuses the scopes of `metadata` that are restricted in `restricted`, in
 * the rules' own words. Every other problem is left to enforceClientRules,
 * which reports them all at once.
 */
function refuseRestrictedScopes(metadata: Record<string, unknown>, restricted: string[]): void {
  const problems = restrictedScopeProblems(metadata, new Set(restricted));
  if (problems.length) throw new errors.InvalidClientMetadata(problems.map((problem) => `${problem.field}: ${problem.message}`).join('; '));
}

/**
 * The policy every dynamically registered client (RFC 7591) and every RFC
 * 7592 update goes through, before the rules (enforceClientRules, which the
 * provider applies to every client it builds):
 * - a default scope for a client that sends none, so that it cannot ask for
 *   everything. Only an absent `scope` is none (RFC 7591 §2: "If omitted, an
 *   authorization server MAY register a client with a default set of
 *   scopes"); one of another type than a string is refused by the rules,
 *   never replaced, or an update sending `["admin"]` would silently reset
 *   the client's scopes. (An RFC 7592 update without it asks to delete it,
 *   §2.2, and gets the default again; oidc-provider reads null and "" there
 *   as omitted and drops them before this runs.)
 * - no restricted scope, as the registry has them now (another process, the
 *   CLI or a console, may have restricted one since start-up), refused with
 *   the rules' own error.
 * - `application_type` as Gatehouse derives it (clients/redirect-uris.ts),
 *   whatever the registrant sent: a registrant that says `native` does not
 *   get the loopback port leeway a confidential client, or one with an
 *   https redirect URI, must not have. A differing value is
 *   replaced rather than refused: RFC 7591 §2 lets the server "reject or
 *   replace any of the client's requested metadata values", and the response
 *   says what was registered (§3.2.1); native SDKs send `native` for apps
 *   using claimed https redirect URIs (RFC 8252 §7.2), which are web clients
 *   here and work as such, so a refusal would turn away clients that work.
 *   The value is set here so that the response, and oidc-provider's check of
 *   the redirect URIs now, agree with how the client is read back
 *   (provider/client-application-type.ts derives it again from storage).
 */
export function registrationPolicy(registry: LiveScopeRegistry) {
  return async (_ctx: KoaContextWithOIDC, properties: Record<string, unknown>): Promise<void> => {
    if (properties.scope === undefined) properties.scope = DEFAULT_SCOPE;
    refuseRestrictedScopes(properties, await registry.restrictedScopes());
    // A scope added to the registry since start-up is known to the rules that follow.
    await registry.cover(properties.scope);
    // Replaced only when it is a value the field can have: anything else is
    // the registrant's mistake, refused as oidc-provider would.
    if (properties.application_type !== undefined && !APPLICATION_TYPES.includes(properties.application_type as string)) {
      throw new errors.InvalidClientMetadata('application_type: must be native or web');
    }
    properties.application_type = applicationTypeOf(properties);
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
 * validator must be: the registry is the one the provider was built with, so
 * registrationPolicy checks restricted scopes again against the live one.
 */
export function enforceClientRules(ctx: KoaContextWithOIDC | undefined, metadata: Record<string, unknown>, registry: ScopeRegistryView, options: Pick<RuleContext, 'allowLoopbackCallbacks'> = {}): void {
  const route = (ctx as { oidc?: { route?: string } } | undefined)?.oidc?.route;
  const context: RuleContext = route && SELF_SERVICE_ROUTES.has(route)
    ? { origin: 'self-service', registeredScopes: new Set(registry.names()), restrictedScopes: new Set(registry.restricted()), ...options }
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
