import type { KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { audienceAccepted } from '../../resource-check/audience.js';
import type { IssuedToken, TokenCheck } from '../../resource-check/token-check.js';
import { tokenFormatOf } from '../resource-servers.js';
import { stringParam } from './params.js';

export const grantType = 'urn:ietf:params:oauth:grant-type:token-exchange';
// Every RFC 8693 §2.1 parameter is read, those Gatehouse does not implement
// too: a parameter the provider dropped unread would be a request silently
// answered as another (a token for another resource, or impersonation where
// delegation was asked for).
export const parameters = new Set(['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope', 'actor_token', 'actor_token_type']);
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface TokenExchangeDeps {
  /** Judges the subject token: genuine, live, not revoked, whatever its audience. */
  tokenCheck: TokenCheck;
  /** The grant a subject token belongs to (opaque tokens carry it; a JWT's record does). */
  grantOf(subject: IssuedToken): Promise<string | undefined>;
  /** The one audience tokens may be exchanged for (Gatehouse's API). */
  audience: string;
  resourceServerInfo(ctx: KoaContextWithOIDC, resource: string, client: never): Promise<ResourceServer>;
}


/**
 * OAuth 2.0 Token Exchange (RFC 8693), for narrowing: a client whose
 * grant_types list this grant exchanges an access token it holds for one with
 * a subset of both the subject token's scopes and its own, for Gatehouse's API
 * audience. The new token acts for the same user (or, for a machine token, for
 * the exchanging client) and is the provider's own token.
 *
 * RFC 8693 §2.1 leaves the acceptable subject tokens to the server; the
 * policy here keeps an exchange from being a way around revocation or
 * audience (§5):
 * - the subject token was issued to the exchanging client, or names it in its
 *   audience: a client cannot take over tokens issued to unrelated clients;
 * - the subject token is the API's own (or names the exchanging client): one
 *   issued for another resource server is not moved to the API;
 * - the new token never outlives the subject token;
 * - a user's new token belongs to the subject token's grant, so revoking the
 *   subject token, its refresh token or its grant (RFC 7009 revokes the whole
 *   grant) revokes it too, and a chain of exchanges shares that one fate.
 *   A machine token has no grant to share: the new one is the exchanging
 *   client's own client_credentials token, revoked by itself or with that
 *   client, not with the subject (SECURITY.md states this limit). Asking for
 *   it takes that client's credentials, which can ask for such a token anyway.
 */
export function tokenExchangeHandler(provider: Provider, deps: TokenExchangeDeps) {
  return async function tokenExchange(ctx: KoaContextWithOIDC): Promise<void> {
    const { client } = ctx.oidc;
    if (!client) throw new errors.InvalidClient('client authentication failed');
    const subjectToken = stringParam(ctx, 'subject_token');
    if (!subjectToken || stringParam(ctx, 'subject_token_type') !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`subject_token and subject_token_type=${ACCESS_TOKEN_TYPE} are required`);
    }
    const requestedType = stringParam(ctx, 'requested_token_type');
    if (requestedType && requestedType !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest('only access tokens can be requested');
    if (stringParam(ctx, 'actor_token') !== undefined || stringParam(ctx, 'actor_token_type') !== undefined) {
      throw new errors.InvalidRequest('delegation (actor_token) is not supported: the exchanged token acts for the subject');
    }
    const audience = stringParam(ctx, 'audience') ?? deps.audience;
    if (audience !== deps.audience) throw new errors.InvalidTarget(`tokens can only be exchanged for ${deps.audience}`);
    const resource = stringParam(ctx, 'resource');
    if (resource !== undefined && resource !== deps.audience) throw new errors.InvalidTarget(`tokens can only be exchanged for ${deps.audience}`);

    const subject = await deps.tokenCheck.inspect(subjectToken);
    if (!subject) throw new errors.InvalidGrant('subject_token is invalid, expired or revoked');
    if (subject.clientId !== client.clientId && !subject.audience.includes(client.clientId)) {
      // The same answer as for an unknown token: whose tokens exist is not the caller's business.
      throw new errors.InvalidGrant('subject_token is invalid, expired or revoked');
    }
    // An exchange narrows; it never moves a token to another resource. A
    // subject token issued for another resource server (RFC 8707) carries a
    // consent for that resource, not for the API: exchanged, it would open
    // the API with scopes its grant never held there (RFC 8693 §5; a refresh
    // asking the same is invalid_target). Only the API's own tokens (or those
    // with no audience, which are its own) and tokens issued for the
    // exchanging client as a resource are exchanged.
    if (!audienceAccepted(subject.audience, { audience: deps.audience, audiencelessAccepted: true }) && !subject.audience.includes(client.clientId)) {
      throw new errors.InvalidTarget(`subject_token was issued for another resource; only tokens for ${deps.audience} can be exchanged`);
    }
    // A bound token is only as strong as its key: exchanged for a Bearer token, it would not need it any more.
    if (subject.jkt) throw new errors.InvalidGrant('a DPoP-bound subject_token cannot be exchanged for a Bearer token');
    const remaining = (subject.expiresAt ?? 0) - Math.floor(Date.now() / 1000);
    if (remaining < 1) throw new errors.InvalidGrant('subject_token is invalid, expired or revoked');

    const allowed = new Set((client.scope ?? '').split(' ').filter(Boolean));
    const held = new Set(subject.scope);
    const requested = stringParam(ctx, 'scope')?.split(' ').filter(Boolean) ?? subject.scope.filter((s) => allowed.has(s));
    const refused = requested.filter((s) => !allowed.has(s) || !held.has(s));
    if (refused.length || !requested.length) throw new errors.InvalidScope('the exchanged token may only narrow the scope', refused.join(' ') || 'scope');
    const scope = [...new Set(requested)].join(' ');

    const info = await deps.resourceServerInfo(ctx, audience, client as never);
    let token;
    if (subject.sub) {
      const grantId = await deps.grantOf(subject);
      if (!grantId) throw new errors.InvalidGrant('subject_token is invalid, expired or revoked');
      token = new provider.AccessToken({ accountId: subject.sub, client, grantId, gty: 'token_exchange', scope, expiresWithSession: false });
    } else {
      // A machine token has no grant: it dies with its client, and by its expiry.
      token = new provider.ClientCredentials({ client, scope });
    }
    token.resourceServer = new provider.ResourceServer(audience, { ...info, accessTokenFormat: tokenFormatOf(client) });
    // oidc-provider reads a token's lifetime from `expiresIn` once it is set (lib/models/base_token.js).
    (token as unknown as { expiresIn: number }).expiresIn = Math.min(token.expiration, remaining);
    ctx.oidc.entity(subject.sub ? 'AccessToken' : 'ClientCredentials', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: token.expiration,
      scope,
    };
  };
}
