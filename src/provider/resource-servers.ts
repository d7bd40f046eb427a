import type { KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import { errors } from 'oidc-provider';

/** Scopes that describe the end-user to the provider itself, never an API. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

export interface ResourceServerPolicy {
  /** The audience of Gatehouse's own API (and the default for JWT clients). */
  defaultAudience: string;
  registeredScopes: () => readonly string[];
  /** Other registered resource servers (RFC 8707), by resource indicator. */
  findResourceServer(uri: string): Promise<{ scope: string; tokenFormat: 'opaque' | 'jwt'; accessTokenTtl: number | null; signingAlg: 'RS256' | 'ES256' | 'EdDSA' } | undefined>;
}

type ClientLike = { metadata(): Record<string, unknown> } | undefined;

/**
 * Whether the scope the token is for holds OIDC scopes only: the request's
 * own `scope` (authorization, refresh narrowing), else the scope of the
 * code, refresh token or device code being redeemed.
 */
function asksForIdentityOnly(ctx: KoaContextWithOIDC): boolean {
  const { params, entities } = ctx.oidc as unknown as { params?: { scope?: unknown }; entities?: Record<string, { scope?: string } | undefined> };
  const scope = typeof params?.scope === 'string' && params.scope
    ? params.scope
    : entities?.AuthorizationCode?.scope ?? entities?.RefreshToken?.scope ?? entities?.DeviceCode?.scope;
  const scopes = (scope ?? '').split(' ').filter(Boolean);
  return scopes.includes('openid') && scopes.every((s) => OIDC_SCOPES.has(s));
}

/**
 * Of a resource server's scopes, those the client is registered for (RFC
 * 6749 §3.3). oidc-provider holds requests to the client's scope only for
 * scopes it was configured with at start-up; a scope registered since (with
 * the resource server that takes it) would otherwise be granted to any
 * client that names the resource. Kept per pair of scope strings: both
 * objects live as long as the cached client and resource server.
 */
const granted = new Map<string, string>();
function clientMayHave(resourceScope: string, client: ClientLike): string {
  const registered = (client as { scope?: unknown } | undefined)?.scope;
  if (typeof registered !== 'string' || !registered) return '';
  const pair = `${registered}\n${resourceScope}`;
  let scope = granted.get(pair);
  if (scope === undefined) {
    const own = new Set(registered.split(' '));
    scope = resourceScope.split(' ').filter((s) => s && own.has(s)).join(' ');
    if (granted.size >= 10_000) granted.clear();
    granted.set(pair, scope);
  }
  return scope;
}

export function tokenFormatOf(client: ClientLike): 'jwt' | 'opaque' {
  // oidc-provider keeps extra metadata as properties of the client under their
  // own names; metadata() would re-map every property on each request
  // (measurably, in profiles).
  const format = (client as { access_token_format?: unknown } | undefined)?.access_token_format;
  return format === 'jwt' ? 'jwt' : 'opaque';
}

/**
 * Resource Indicators (RFC 8707) decide an access token's audience and
 * format. Without a `resource` parameter, clients configured for JWT access
 * tokens get RFC 9068 tokens for Gatehouse's API audience (unless they ask
 * for the user's identity alone: then a token for UserInfo) and everyone
 * else opaque tokens. A registered resource server sets its own audience, scopes,
 * format and lifetime; any other indicator is `invalid_target`.
 */
export function resourceIndicatorsFeature(policy: ResourceServerPolicy) {
  // The API's scope string, made again only when the registry hands out a new list.
  let apiScopesOf: readonly string[] | undefined;
  let apiScopes = '';
  const apiScope = () => {
    const registered = policy.registeredScopes();
    if (registered !== apiScopesOf) {
      apiScopesOf = registered;
      apiScopes = registered.filter((s) => !OIDC_SCOPES.has(s)).join(' ');
    }
    return apiScopes;
  };
  return {
    enabled: true,
    async defaultResource(ctx: KoaContextWithOIDC, client: ClientLike, oneOf?: readonly string[]) {
      if (oneOf?.length) return oneOf;
      if (tokenFormatOf(client) !== 'jwt') return undefined;
      // A request for the user's identity alone is for UserInfo, which takes
      // only tokens without an audience (oidc-provider refuses one with `aud`):
      // given the API's audience, a JWT client's token was good for nothing.
      return asksForIdentityOnly(ctx) ? undefined : policy.defaultAudience;
    },
    async useGrantedResource() {
      return true;
    },
    async getResourceServerInfo(_ctx: KoaContextWithOIDC, resourceIndicator: string, client: ClientLike): Promise<ResourceServer> {
      if (resourceIndicator !== policy.defaultAudience) {
        const registered = await policy.findResourceServer(resourceIndicator);
        if (!registered) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
        return {
          scope: clientMayHave(registered.scope, client),
          audience: resourceIndicator,
          ...(registered.accessTokenTtl ? { accessTokenTTL: registered.accessTokenTtl } : {}),
          accessTokenFormat: registered.tokenFormat,
          ...(registered.tokenFormat === 'jwt' ? { jwt: { sign: { alg: registered.signingAlg } } } : {}),
        };
      }
      const scope = apiScope();
      const format = tokenFormatOf(client);
      return {
        scope,
        audience: resourceIndicator,
        accessTokenFormat: format,
        ...(format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
      };
    },
  };
}
