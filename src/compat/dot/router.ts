import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { AppError } from '../../errors/app-error.js';
import { bodySchema, readValidated, stringField, text } from '../../http/body.js';
import { callProviderEndpoint, type ProviderCall } from '../../http/provider-endpoint.js';
import { handOffAuthorization } from '../shared/authorize-handoff.js';
import { type ClientAuthentication, clientAuthentication, namedClientId } from '../shared/credentials.js';
import { registeredScope } from '../shared/registered-scope.js';
import { dotErrors } from './errors.js';
import { useErrorMapping } from '../../http/route-dispatch.js';

export interface DotDeps {
  provider: Provider;
  accessTokenTtl: number;
  refreshTokenTtl: number;
}

/**
 * The grants DOT's token endpoint serves, each with the body fields it hands
 * the provider. DOT serves every grant an application is registered for; the
 * provider holds each client to its registered grant types (unauthorized_client
 * otherwise) and to PKCE where the code was bound to a challenge.
 */
const GRANT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  password: ['username', 'password', 'scope'],
  refresh_token: ['refresh_token', 'scope'],
  client_credentials: ['scope'],
  authorization_code: ['code', 'redirect_uri', 'code_verifier'],
};
const CREDENTIALS = { client_id: text(256), client_secret: text(512) };
const TOKEN_REQUEST = bodySchema({
  ...CREDENTIALS, grant_type: text(64), username: text(256), password: text(1024), refresh_token: text(4096), scope: text(1024),
  code: text(512), redirect_uri: text(2048),
  // RFC 7636 §4.5: 43-128 characters; longer is refused here, shorter by the provider.
  code_verifier: text(128),
});
const REVOKE_REQUEST = bodySchema({ ...CREDENTIALS, token: text(8192), token_type_hint: text(64) });

/**
 * The request's client authentication as the provider takes it: HTTP Basic
 * (passed on as sent), the secret in the body, or, for a public client
 * (RFC 6749 §2.1: no secret), its client_id alone, as DOT accepts from public
 * applications (in the body, or as Basic with an empty password). The
 * provider accepts a client_id alone only from a client registered without a
 * secret; a confidential one gets invalid_client. Any other Authorization
 * header (a Bearer token the client attaches to every request) is left
 * behind, as DOT ignores it.
 */
function providerAuthentication(authentication: ClientAuthentication): Pick<ProviderCall, 'credentials' | 'authorization'> & { publicClientId?: string } {
  switch (authentication.method) {
    case 'basic': return { authorization: authentication.header };
    case 'body': return { credentials: authentication.credentials };
    case 'client_id': return { publicClientId: authentication.clientId };
    case 'none': throw new AppError(401, 'invalid_client', 'client_id and client_secret (or HTTP Basic authentication) are required');
  }
}

/**
 * The django-oauth-toolkit service, mounted where the DOT site mounted
 * `oauth2_provider.urls` (`/o/` by default; `/auth/oauth2/` in the seed):
 * `POST token/` (every grant DOT serves but the implicit one, HTTP Basic or
 * body client auth, JSON or form body), `POST revoke_token/`, and
 * `GET authorize/` (the code flow's browser leg). Each is the provider's own
 * endpoint underneath.
 */
export function dotRouter({ provider, accessTokenTtl, refreshTokenTtl }: DotDeps): Router {
  const router = new Router({ prefix: '/auth/oauth2' });
  useErrorMapping(router, dotErrors.thrown);

  /** Forwards the named body fields to a provider endpoint, with the client's authentication as it sent it. */
  async function forward(ctx: Context, next: Next, client: ClientAuthentication, route: ProviderCall['route'], form: Record<string, string | undefined>) {
    const { publicClientId, ...authentication } = providerAuthentication(client);
    return callProviderEndpoint(ctx, next, provider, {
      dialect: 'dot',
      route,
      form: publicClientId ? { ...form, client_id: publicClientId } : form,
      ...authentication,
      // DOT's ACCESS_TOKEN_EXPIRE_SECONDS is every access token's lifetime, client_credentials' included.
      lifetimes: { accessToken: accessTokenTtl, clientCredentials: accessTokenTtl, refreshToken: refreshTokenTtl },
    });
  }

  // Each path answers with the trailing slash Django's URLs have, and without.
  router.post('/token', async (ctx, next) => {
    const fields = await readValidated(ctx, TOKEN_REQUEST, 'invalid_request');
    const grantType = stringField(fields, 'grant_type');
    if (!grantType) throw new AppError(400, 'invalid_request', 'grant_type is required');
    const names = Object.hasOwn(GRANT_FIELDS, grantType) ? GRANT_FIELDS[grantType] : undefined;
    if (!names) throw new AppError(400, 'unsupported_grant_type', `use one of ${Object.keys(GRANT_FIELDS).join(', ')}`);
    const client = clientAuthentication(ctx, fields);
    const form: Record<string, string | undefined> = { grant_type: grantType };
    for (const name of names) form[name] = stringField(fields, name);
    if (grantType === 'client_credentials' && form.scope === undefined) {
      // oauthlib grants DEFAULT_SCOPES (every scope, by default) when none is
      // asked for; the provider would grant none.
      form.scope = await registeredScope(provider, namedClientId(client));
    }
    const answer = await forward(ctx, next, client, 'token', form);
    if (answer.status !== 200) {
      dotErrors.refused(ctx, answer);
      return;
    }
    // DOT's fields. refresh_token only when one was issued (never for
    // client_credentials; for a code, when the client may refresh), id_token
    // only for an `openid` request: undefined fields are left out of the JSON.
    // expires_in stays in seconds, as DOT answers (docs/dialects.md).
    const { access_token, refresh_token, expires_in, scope, id_token } = answer.body;
    ctx.status = 200;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { access_token, refresh_token, token_type: 'Bearer', expires_in, scope, id_token };
  });

  router.post('/revoke_token', async (ctx, next) => {
    const fields = await readValidated(ctx, REVOKE_REQUEST, 'invalid_request');
    if (!stringField(fields, 'token')) throw new AppError(400, 'invalid_request', 'token is required');
    const answer = await forward(ctx, next, clientAuthentication(ctx, fields), 'revocation', {
      token: stringField(fields, 'token'), token_type_hint: stringField(fields, 'token_type_hint'),
    });
    if (answer.status !== 200) {
      dotErrors.refused(ctx, answer);
      return;
    }
    // RFC 7009 §2.2: 200 whether or not the token was known.
    ctx.status = 200;
    ctx.body = '';
  });

  // DOT's AuthorizationView. DOT 1.x did not require PKCE (PKCE_REQUIRED was
  // False until 2.0), so a confidential client may omit it here; a public one may not.
  router.get('/authorize', (ctx, next) => handOffAuthorization(ctx, next, provider, 'dot'));

  return router;
}
