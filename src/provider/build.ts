import type { AdapterFactory, Configuration, FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import { originCookieName } from '../http/cookie-names.js';
import Provider, { errors } from 'oidc-provider';
import type { JWK } from 'jose';
import type { DefaultState } from 'koa';
import type { GatehouseConfig } from '../../config/schema.js';
import { renderPage, type Views } from '../http/views.js';
import { deviceFlowFeature } from './device-flow.js';
import { resourceIndicatorsFeature, type ResourceServerPolicy } from './resource-servers.js';
import { introspectionAllowed, revocationAllowed } from './token-policies.js';
import { registerBearerGrant } from './grant-handlers.js';
import { DPOP_PROOF_ALGS } from '../resource-check/dpop.js';
import * as password from './grants/password.js';
import * as tokenExchange from './grants/token-exchange.js';
import type { TokenExchangeDeps } from './grants/token-exchange.js';
import { CLIENT_DIALECT_LIFETIMES, dialectLifetime, isDialectLifetimes } from './lifetimes.js';
import { pkceRequired } from './pkce-exemption.js';
import { originDecidedAfterAuthentication } from './cors-policy.js';
import { policyRefusingNothingGrantable } from './grantable-scope.js';
import { errorAnswers } from './error-answers.js';
import { bitsOfOpaqueRandomness, skippingForeignRefreshTokens } from './token-values.js';
import { withApplicationTypes } from './client-application-type.js';
import { SKIP_CONSENT } from '../clients/metadata-rules.js';
import { clientIdentity } from '../clients/client-identity.js';
import { enforceClientRules, type LiveScopeRegistry, REGISTRATION_POLICY, registrationPolicy } from './registration.js';
import type { LiveScopeNames } from './live-scopes.js';
import type { JwtAccessTokenRegistry } from './jwt-access-tokens.js';
import type { FailureLimiter } from '../security/failure-limiter.js';

export interface ProviderDeps {
  /** The role a token carries for an account (`admin`, `staff`, `user`). */
  accountRole(ctx: KoaContextWithOIDC | undefined, accountId: string): Promise<string | undefined>;
  /** Where JWT access tokens are recorded so they can be revoked. */
  jwtAccessTokens: JwtAccessTokenRegistry;
  /** Scopes flagged `warning` in the registry at start-up: never self-service (the synchronous client rules read this snapshot; registration also asks currentRestrictedScopes). */
  restrictedScopes: string[];
  /** The same, as the registry has them now: a scope restricted since start-up is never granted unseen either. */
  currentRestrictedScopes(): Promise<string[]>;
  /** Gatehouse's own applications (the dashboard): no consent screen for them. */
  firstPartyClients: ReadonlySet<string>;
  /** Registered resource servers (RFC 8707) other than Gatehouse's API. */
  findResourceServer: ResourceServerPolicy['findResourceServer'];
  /** Brute-force protection for the password grant. */
  limiter: FailureLimiter;
  /** Whether a presented client secret is the one whose keyed hash is stored (constant time). */
  verifyClientSecret(presented: string, storedHash: string, clientId: string): boolean | Promise<boolean>;
  /** Told when a client secret was presented where no client-authentication limit guards it (refused): a route to add a guard to. */
  unguardedSecretCheck(clientId: string): void;
  /** Checks a username and password (argon2); the account id, or undefined. */
  authenticate(username: string, password: string): Promise<string | undefined>;
  adapter: AdapterFactory;
  findAccount: FindAccount;
  jwks: { keys: JWK[] };
  cookieKeys: string[];
  /** The scope names the provider knows, following the registry (live-scopes.ts). */
  scopes: LiveScopeNames;
  views: Views;
}

type ResourceInfo = ReturnType<typeof resourceIndicatorsFeature>['getResourceServerInfo'];

const ASYMMETRIC_SIGNING_ALGS = ['RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'] as const;
// How a client may authenticate, at the token, introspection and revocation endpoints alike.
const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
/** How a client that names no token_endpoint_auth_method authenticates (OpenID Connect Registration §2). */
export const DEFAULT_CLIENT_AUTH_METHOD = 'client_secret_basic';

/** The URL of Gatehouse's own API, the default audience of JWT access tokens. */
export function apiAudience(issuer: string): string {
  return `${issuer}/api`;
}

/** The oidc-provider features Gatehouse turns on, each with the standard it implements. */
function providerFeatures(views: Views, resourceIndicators: ReturnType<typeof resourceIndicatorsFeature>, registry: LiveScopeRegistry) {
  return {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: introspectionAllowed },
    revocation: { enabled: true, allowedPolicy: revocationAllowed },
    userinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx: KoaContextWithOIDC, form: string) {
        renderPage(ctx, views, 'logout', { form, host: ctx.host });
      },
      async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
        renderPage(ctx, views, 'logged-out', { client: ctx.oidc.client && clientIdentity(ctx.oidc.client.metadata() as Record<string, unknown>) });
      },
    },
    resourceIndicators,
    // RFC 9126: per client through require_pushed_authorization_requests.
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
    // RFC 7591 / 7592, gated by initial access tokens the CLI issues.
    registration: {
      enabled: true,
      initialAccessToken: true,
      policies: { [REGISTRATION_POLICY]: registrationPolicy(registry) },
    },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
    // OpenID Connect Back-Channel Logout 1.0.
    backchannelLogout: { enabled: true },
    // RFC 9101 JWT-secured authorization requests (clients with a jwks, e.g.
    // registered with private_key_jwt, RFC 7523, which is always accepted).
    requestObjects: { enabled: true },
    // RFC 8628, for clients whose grant_types list the device_code grant.
    deviceFlow: deviceFlowFeature(views),
  };
}

/** Gatehouse's own client metadata and the rules every client is held to (registration and admin surfaces alike). */
function clientMetadataRules(deps: ProviderDeps, allowLoopbackCallbacks: boolean): Configuration['extraClientMetadata'] {
  return {
    properties: ['access_token_format', 'description', SKIP_CONSENT, CLIENT_DIALECT_LIFETIMES],
    validator(ctx, key, value, metadata) {
      // Called once per property with the whole metadata: the client rules
      // run once, with the first property.
      if (key === 'access_token_format') {
        enforceClientRules(ctx, metadata as Record<string, unknown>, { names: () => deps.scopes.names(), restricted: () => deps.restrictedScopes }, { allowLoopbackCallbacks });
      }
      if (key === 'access_token_format' && value !== undefined && value !== 'opaque' && value !== 'jwt') {
        throw new errors.InvalidClientMetadata('access_token_format must be opaque or jwt');
      }
      if (key === SKIP_CONSENT && value !== undefined && typeof value !== 'boolean') {
        throw new errors.InvalidClientMetadata(`${SKIP_CONSENT} must be true or false`);
      }
      if (key === CLIENT_DIALECT_LIFETIMES && value !== undefined && !isDialectLifetimes(value)) {
        throw new errors.InvalidClientMetadata(`${CLIENT_DIALECT_LIFETIMES} must map accessToken, clientCredentials or refreshToken to seconds`);
      }
      if (key === 'description' && value !== undefined && (typeof value !== 'string' || value.length > 2000)) {
        throw new errors.InvalidClientMetadata('description must be a string of at most 2000 characters');
      }
    },
  };
}

/**
 * Opaque tokens' length, and RFC 9068 JWT access tokens: each carries the
 * user's role and is recorded by jti, so a revocation is honoured although
 * its signature stays valid.
 */
function tokenFormats(deps: ProviderDeps): Configuration['formats'] {
  return {
    bitsOfOpaqueRandomness,
    customizers: {
      async jwt(ctx, token, jwt) {
        const { accountId, clientId, grantId } = token as unknown as { accountId?: string; clientId: string; grantId?: string };
        if (accountId) {
          const role = await deps.accountRole(ctx, accountId);
          if (role) jwt.payload.role = role;
        }
        // `jti`, `iat` and `exp` from the claims being signed: the token model
        // has no `exp` of its own yet (oidc-provider computes it for the payload).
        const { jti, iat, exp } = jwt.payload as { jti: string; iat: number; exp: number };
        await deps.jwtAccessTokens.record(jti, { clientId, grantId, accountId }, iat, exp);
      },
    },
  };
}

/**
 * The grant an authorization request continues. First-party clients are part
 * of Gatehouse itself; asking the user to consent to them would be noise.
 * Every other client gets the consent page.
 */
function existingGrantLoader(deps: ProviderDeps): Configuration['loadExistingGrant'] {
  return async (ctx) => {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId ?? (client ? session?.grantIdFor(client.clientId) : undefined);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    // An imported client whose old server never asked (django-oauth-toolkit's
    // skip_authorization) keeps that: an administrator decided it, not the client.
    const trusted = client && (deps.firstPartyClients.has(client.clientId) || client.metadata()[SKIP_CONSENT] === true);
    if (!client || !session?.accountId || !trusted) return undefined;
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    // Restricted scopes (those the consent page warns about) are never granted
    // unseen: asked for, they still go to the consent page.
    const restricted = new Set(await deps.currentRestrictedScopes());
    grant.addOIDCScope((client.scope ?? 'openid').split(' ').filter((scope) => !restricted.has(scope)).join(' '));
    await grant.save();
    return grant;
  };
}

interface RotatedRefreshToken { iat?: number; exp?: number; remainingTTL: number }

/**
 * A refresh token's lifetime follows its family, not the endpoint that
 * rotates it: a rotation never gives the new token a longer life than the
 * one it replaces was given (so a django-oauth-toolkit client's one-day
 * token, refreshed at the standard /token, does not become a 14-day one).
 * A browser client's unbound token keeps its family's end (oidc-provider's
 * own rule: rotation must not keep a public client signed in for ever).
 */
function refreshTokenLifetime(
  ctx: { oidc?: { entities?: { RotatedRefreshToken?: RotatedRefreshToken } } } | undefined,
  token: { isSenderConstrained(): boolean },
  client: { applicationType?: string; clientAuthMethod?: string },
  lifetime: number,
): number {
  const rotated = ctx?.oidc?.entities?.RotatedRefreshToken;
  if (!rotated) return lifetime;
  if (client.applicationType === 'web' && client.clientAuthMethod === 'none' && !token.isSenderConstrained()) {
    return Math.min(lifetime, rotated.remainingTTL);
  }
  const family = rotated.exp !== undefined && rotated.iat !== undefined ? rotated.exp - rotated.iat : lifetime;
  return Math.min(lifetime, family);
}

/**
 * A dialect's documented lifetime, capped by a registered resource server's
 * own (RFC 8707: a resource that wants its tokens short gets them short
 * through a dialect too); either alone; else undefined.
 */
function cappedByResource(dialect: number | undefined, resource: number | undefined): number | undefined {
  return dialect === undefined ? resource : resource === undefined ? dialect : Math.min(dialect, resource);
}

/** Lifetimes: a dialect's documented lifetime capped by a registered resource server's own (RFC 8707), else the server-wide setting. */
function tokenLifetimes(config: GatehouseConfig): Configuration['ttl'] {
  return {
    AccessToken: (ctx, token, client) => cappedByResource(dialectLifetime(ctx, 'accessToken', client), token.resourceServer?.accessTokenTTL) ?? config.accessTokenTtl,
    AuthorizationCode: config.authorizationCodeTtl,
    ClientCredentials: (ctx, token, client) => cappedByResource(dialectLifetime(ctx, 'clientCredentials', client), token.resourceServer?.accessTokenTTL) ?? config.clientCredentialsTtl,
    IdToken: config.idTokenTtl,
    RefreshToken: (ctx, token, client) => refreshTokenLifetime(ctx, token, client, dialectLifetime(ctx, 'refreshToken', client) ?? config.refreshTokenTtl),
    // A session nobody has signed in to holds only a form's secret (the device
    // code form, a logout confirmation) or a sign-in under way: it lives as long
    // as an interaction, not 14 days, so that requests without cookies cannot
    // pile up two weeks of records. A sign-in saves it again for the full time.
    Session: (_ctx, session) => (session.accountId ? config.sessionTtl : Math.min(config.sessionTtl, config.interactionTtl)),
    Interaction: config.interactionTtl,
    Grant: config.grantTtl,
    DeviceCode: config.deviceCodeTtl,
    BackchannelAuthenticationRequest: 600,
    PreAuthorizedCode: 600,
  };
}

/** The resource indicators feature (RFC 8707) as the provider is configured with it. */
function resourceIndicatorsOf(config: GatehouseConfig, deps: Pick<ProviderDeps, 'scopes' | 'findResourceServer'>) {
  return resourceIndicatorsFeature({
    defaultAudience: apiAudience(config.issuer),
    registeredScopes: () => deps.scopes.names(),
    findResourceServer: deps.findResourceServer,
  });
}

/** The password grant (legacy dialects), which oidc-provider does not ship. */
function registerPasswordGrant(provider: Provider, config: GatehouseConfig, deps: ProviderDeps, resourceInfo: ResourceInfo): void {
  registerBearerGrant(
    provider,
    password.grantType,
    password.passwordGrantHandler(provider, {
      authenticate: deps.authenticate,
      limiter: deps.limiter,
      jwtAudience: apiAudience(config.issuer),
      resourceServerInfo: resourceInfo,
    }) as never,
    password.parameters,
  );
}

/**
 * RFC 8693 token exchange, which oidc-provider does not ship. It judges
 * subject tokens with the resource check, which itself looks opaque tokens
 * up through the provider; so it is registered once both exist (the provider
 * reads its grant types per request, so discovery and the token endpoint see
 * it from the first request on).
 */
export function registerTokenExchange(
  provider: Provider,
  config: GatehouseConfig,
  deps: Pick<ProviderDeps, 'scopes' | 'findResourceServer'> & Pick<TokenExchangeDeps, 'tokenCheck' | 'grantOf'>,
): void {
  registerBearerGrant(
    provider,
    tokenExchange.grantType,
    tokenExchange.tokenExchangeHandler(provider, {
      tokenCheck: deps.tokenCheck,
      grantOf: deps.grantOf,
      audience: apiAudience(config.issuer),
      resourceServerInfo: resourceIndicatorsOf(config, deps).getResourceServerInfo,
    }) as never,
    tokenExchange.parameters,
  );
}

/**
 * The protocol engine: oidc-provider configured for Gatehouse. Everything
 * here is configuration of what oidc-provider already implements.
 */
export function buildProvider(config: GatehouseConfig, deps: ProviderDeps): Provider {
  const resourceIndicators = resourceIndicatorsOf(config, deps);

  const configuration: Configuration = {
    // A client's `client_secret` here is its keyed hash (adapters/secrets-at-rest.ts),
    // so nothing may use it as a key: client_secret_jwt and HS256 request
    // objects (RFC 7523 §2.2, RFC 9101) would sign with the hash. Clients that
    // sign use private_key_jwt. ID tokens and userinfo are signed with the
    // asymmetric algorithms only (RS256 by default; ES256 and EdDSA for a
    // client registered for them), never HS256, and the encryption feature
    // (A*KW / dir from the secret) stays off.
    clientAuthMethods: [...CLIENT_AUTH_METHODS],
    discovery: {
      claim_types_supported: ['normal'],
      // The provider authenticates clients at introspection and revocation
      // as at the token endpoint, and RFC 8414 §2 reads a missing list as
      // "other means" (introspection) or Basic alone (revocation).
      introspection_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
      introspection_endpoint_auth_signing_alg_values_supported: [...ASYMMETRIC_SIGNING_ALGS],
      revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
      revocation_endpoint_auth_signing_alg_values_supported: [...ASYMMETRIC_SIGNING_ALGS],
    },
    enabledJWA: {
      // What discovery advertises is what the resource check verifies.
      dPoPSigningAlgValues: DPOP_PROOF_ALGS as Array<typeof ASYMMETRIC_SIGNING_ALGS[number] | 'ES384'>,
      clientAuthSigningAlgValues: [...ASYMMETRIC_SIGNING_ALGS],
      requestObjectSigningAlgValues: [...ASYMMETRIC_SIGNING_ALGS],
    },
    adapter: skippingForeignRefreshTokens(withApplicationTypes(deps.adapter)),
    clientBasedCORS: originDecidedAfterAuthentication,
    findAccount: deps.findAccount,
    jwks: deps.jwks as Configuration['jwks'],
    cookies: {
      keys: deps.cookieKeys,
      // The session cookie is the origin's (Path=/); the interaction cookies are scoped to their own paths.
      names: { session: originCookieName('_session', config.issuer.startsWith('https:')) },
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    scopes: [...deps.scopes.names()],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'updated_at'],
      email: ['email', 'email_verified'],
    },
    // RFC 9700 §2.1.2: no implicit or hybrid flows; the code flow only.
    responseTypes: ['code'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: DEFAULT_CLIENT_AUTH_METHOD,
      id_token_signed_response_alg: 'RS256',
    },
    extraClientMetadata: clientMetadataRules(deps, config.allowLoopbackCallbacks),
    // RFC 9700 §2.1.1: PKCE for every client using the code flow, with S256
    // only; the one exception is the Lux path, for confidential clients.
    pkce: { required: pkceRequired },
    // RFC 9700 §4.14.2: refresh tokens rotate on every use; reuse of a
    // rotated one revokes the grant (oidc-provider's reuse detection).
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // @types/oidc-provider models `features` as a union keyed on experimental
    // features that trips contextual typing; the shape is checked at runtime by
    // oidc-provider's own configuration validation.
    features: providerFeatures(deps.views, resourceIndicators, {
      restrictedScopes: () => deps.currentRestrictedScopes(),
      cover: (scope) => deps.scopes.cover(scope),
    }) as unknown as Configuration['features'],
    formats: tokenFormats(deps),
    // oidc-provider refuses outgoing calls to special-use addresses (SSRF);
    // ALLOW_LOOPBACK_CALLBACKS lifts that for loopback only, for development.
    ...(config.allowLoopbackCallbacks ? {
      fetch: (input: string | URL | Request, options: RequestInit = {}) => {
        const { hostname } = new URL(input instanceof Request ? input.url : input);
        if (hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]') delete (options as { dispatcher?: unknown }).dispatcher;
        return fetch(input, options);
      },
    } : {}),
    loadExistingGrant: existingGrantLoader(deps),
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: policyRefusingNothingGrantable(),
    },
    renderError: errorAnswers(deps.views),
    ttl: tokenLifetimes(config),
  };

  const provider = new Provider(config.issuer, configuration);
  deps.scopes.follow(provider);
  provider.proxy = config.trustProxy;
  // X-Forwarded-For is "what the client sent, …, what each proxy saw": only
  // the entries the proxies added are trustworthy (Koa's maxIpsCount).
  provider.maxIpsCount = config.proxyHops;
  // client_secret_basic and client_secret_post are checked through this one
  // method (oidc-provider lib/shared/client_auth.js); overriding it on the
  // Client prototype is the hook oidc-provider's author points to for hashed
  // secrets (panva/node-oidc-provider#631). RFC 6819 §5.1.4.1.3.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string; clientId: string }, presented: string) {
    // Every comparison runs inside the client-authentication limits
    // (FailureLimiter.guard, which gives the request `clientSecretProven`):
    // a request that reaches one without them, through a route no step of
    // the extension table guards, is refused rather than given an unlimited
    // oracle (and, for a slow imported hash, a thread-pool thread a try).
    const guarded = (Provider.ctx as { state?: DefaultState } | undefined)?.state?.clientSecretProven;
    if (!guarded) {
      deps.unguardedSecretCheck(this.clientId);
      return false;
    }
    // The limits hold the request's place until its secret is known right (http/client-auth-throttle.ts).
    const said = (proven: boolean) => {
      if (proven) guarded();
      return proven;
    };
    const outcome = deps.verifyClientSecret(presented, this.clientSecret ?? '', this.clientId);
    return typeof outcome === 'boolean' ? said(outcome) : outcome.then(said);
  };
  registerPasswordGrant(provider, config, deps, resourceIndicators.getResourceServerInfo);
  return provider;
}
