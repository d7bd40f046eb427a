import type { KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { tokenFormatOf } from '../resource-servers.js';
import { stringParam } from './params.js';
import { type FailureLimiter, TooManyFailures } from '../../security/failure-limiter.js';
import { throwInProvider } from '../../errors/provider-error.js';

export const grantType = 'password';
// `resource` is read although this grant issues only for the API: a
// parameter the provider dropped unread would be a request for another
// resource server silently answered with an API token (RFC 8707 §2).
export const parameters = new Set(['username', 'password', 'scope', 'resource']);

export interface PasswordGrantDeps {
  /** The account id when the credentials are right; `undefined` otherwise, in the same time. */
  authenticate(username: string, password: string): Promise<string | undefined>;
  /** Audience of JWT access tokens (RFC 9068) for clients configured for them. */
  jwtAudience: string;
  /** The resource server policy (resourceIndicators.getResourceServerInfo). */
  resourceServerInfo(ctx: KoaContextWithOIDC, resource: string, client: never): Promise<ResourceServer>;
  /** Brute-force protection per username and per address. */
  limiter: FailureLimiter;
}


/**
 * The resource owner password credentials grant (RFC 6749 §4.3), kept for the
 * django-oauth-toolkit clients that use it. RFC 9700 §2.4 says it MUST NOT be
 * used, so it is available only to clients whose grant_types list it.
 * It mints the provider's own Grant, AccessToken and RefreshToken, so the
 * tokens are introspectable, revocable and rotate like any other.
 */
export function passwordGrantHandler(provider: Provider, deps: PasswordGrantDeps) {
  return async function passwordGrant(ctx: KoaContextWithOIDC): Promise<void> {
    const { client } = ctx.oidc;
    if (!client) throw new errors.InvalidClient('client authentication failed');
    const username = stringParam(ctx, 'username');
    const password = stringParam(ctx, 'password');
    if (!username || !password) throw new errors.InvalidRequest('username and password are required');

    let accountId;
    try {
      accountId = await deps.limiter.attemptPassword(username, ctx.ip, () => deps.authenticate(username, password));
    } catch (error) {
      if (!(error instanceof TooManyFailures)) throw error;
      throwInProvider(ctx, error);
    }
    // The same message for an unknown user and a wrong password (no enumeration).
    if (!accountId) throw new errors.InvalidGrant('invalid username or password');

    const allowed = (client.scope ?? '').split(' ').filter(Boolean);
    const requested = stringParam(ctx, 'scope')?.split(' ').filter(Boolean) ?? allowed;
    const refused = requested.filter((scope) => !allowed.includes(scope));
    if (refused.length) throw new errors.InvalidScope('requested scope is not allowed', refused.join(' '));
    const scope = [...new Set(requested)].join(' ');

    // The API is the one resource this legacy grant issues for (RFC 9700 §2.4
    // keeps it to the clients that had it); any other is invalid_target.
    const named = stringParam(ctx, 'resource');
    if (named !== undefined && named !== deps.jwtAudience) throw new errors.InvalidTarget(`the password grant issues tokens only for ${deps.jwtAudience}`);
    // JWT clients get RFC 9068 tokens for the API audience; others opaque ones (for it by name when asked).
    const resource = named ?? (tokenFormatOf(client) === 'jwt' ? deps.jwtAudience : undefined);
    const info = resource ? await deps.resourceServerInfo(ctx, resource, client as never) : undefined;
    const tokenScope = info ? requested.filter((s) => (info.scope ?? '').split(' ').includes(s)).join(' ') : scope;

    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    if (resource) grant.addResourceScope(resource, tokenScope);
    else grant.addOIDCScope(scope);
    const grantId = await grant.save();
    ctx.oidc.entity('Grant', grant);

    const accessToken = new provider.AccessToken({
      accountId, client, grantId, gty: grantType, expiresWithSession: false, scope: tokenScope,
    });
    if (resource && info) accessToken.resourceServer = new provider.ResourceServer(resource, info);
    ctx.oidc.entity('AccessToken', accessToken);
    const accessTokenValue = await accessToken.save();

    let refreshTokenValue: string | undefined;
    if (client.grantTypeAllowed('refresh_token')) {
      const refreshToken = new provider.RefreshToken({
        accountId, client, grantId, gty: grantType, scope, rotations: 0, expiresWithSession: false,
        ...(resource ? { resource } : {}),
      });
      ctx.oidc.entity('RefreshToken', refreshToken);
      refreshTokenValue = await refreshToken.save();
    }

    ctx.body = {
      access_token: accessTokenValue,
      expires_in: accessToken.expiration,
      ...(refreshTokenValue ? { refresh_token: refreshTokenValue } : {}),
      scope: accessToken.scope,
      token_type: 'Bearer',
    };
  };
}
