import type { KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { TokenCheck } from '../../resource/token-check.js';
import { tokenFormatOf } from '../resource-servers.js';
import { stringParam } from './params.js';

export const grantType = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const parameters = new Set(['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'scope']);
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface TokenExchangeDeps {
  /** Validates the subject token as any resource server would. */
  tokenCheck: () => TokenCheck;
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
    const audience = stringParam(ctx, 'audience') ?? deps.audience;
    if (audience !== deps.audience) throw new errors.InvalidTarget(`tokens can only be exchanged for ${deps.audience}`);

    const subject = await deps.tokenCheck()(`Bearer ${subjectToken}`).catch(() => undefined);
    if (!subject) throw new errors.InvalidGrant('subject_token is invalid, expired or revoked');

    const allowed = new Set((client.scope ?? '').split(' ').filter(Boolean));
    const held = new Set(subject.scope);
    const requested = stringParam(ctx, 'scope')?.split(' ').filter(Boolean) ?? subject.scope.filter((s) => allowed.has(s));
    const refused = requested.filter((s) => !allowed.has(s) || !held.has(s));
    if (refused.length || !requested.length) throw new errors.InvalidScope('the exchanged token may only narrow the scope', refused.join(' ') || 'scope');
    const scope = [...new Set(requested)].join(' ');

    const info = await deps.resourceServerInfo(ctx, audience, client as never);
    let token;
    if (subject.sub) {
      const grant = new provider.Grant({ accountId: subject.sub, clientId: client.clientId });
      grant.addResourceScope(audience, scope);
      const grantId = await grant.save();
      token = new provider.AccessToken({ accountId: subject.sub, client, grantId, gty: 'token_exchange', scope, expiresWithSession: false });
    } else {
      token = new provider.ClientCredentials({ client, scope });
    }
    token.resourceServer = new provider.ResourceServer(audience, { ...info, accessTokenFormat: tokenFormatOf(client) });
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
