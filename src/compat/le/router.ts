import Router from '@koa/router';
import type Provider from 'oidc-provider';
import { AppError } from '../../errors/app-error.js';
import { bodySchema, readValidated, stringField, text } from '../../http/body.js';
import { type ClientAuthentication, clientAuthentication } from '../shared/credentials.js';
import { registeredScope } from '../shared/registered-scope.js';
import { callProviderEndpoint, type ProviderCall } from '../../http/provider-endpoint.js';
import { leErrors } from './errors.js';
import { useErrorMapping } from '../../http/route-dispatch.js';

const TOKEN_REQUEST = bodySchema({
  grant_type: text(64), client_id: text(256), client_secret: text(512), scope: text(1024),
});

/**
 * The client's authentication as the provider takes it: HTTP Basic (passed
 * on as sent) or the secret in the body; client_credentials needs one of the
 * two (RFC 6749 §4.4.2). An `Authorization: LEAccess <token>` (or Bearer)
 * header, which an LE client may attach to every request, is not client
 * authentication: it is left behind and the body's credentials are used.
 */
function confidentialClient(authentication: ClientAuthentication): { clientId?: string; call: Pick<ProviderCall, 'credentials' | 'authorization'> } {
  if (authentication.method === 'basic') return { clientId: authentication.clientId, call: { authorization: authentication.header } };
  if (authentication.method === 'body') return { clientId: authentication.credentials.clientId, call: { credentials: authentication.credentials } };
  throw new AppError(401, 'invalid_client', 'client_id and client_secret (or HTTP Basic authentication) are required');
}

export interface LeDeps {
  provider: Provider;
  accessTokenTtl: number;
}

/**
 * LE Enterprise: `POST /liveexpert/oauth/authorize`, client_credentials only,
 * answered as an `LEAccess` token whose `scope` is semicolon-separated. The
 * token is presented later as `Authorization: LEAccess <token>`.
 */
export function leRouter({ provider, accessTokenTtl }: LeDeps): Router {
  // A path under LE's prefix that is not a route is answered in LE's error shape.
  const router = new Router({ prefix: '/liveexpert/oauth' });
  useErrorMapping(router, leErrors.thrown);

  router.post('/authorize', async (ctx, next) => {
    const fields = await readValidated(ctx, TOKEN_REQUEST, 'invalid_request');
    const grantType = stringField(fields, 'grant_type');
    if (!grantType) throw new AppError(400, 'invalid_request', 'grant_type is required');
    if (grantType !== 'client_credentials') throw new AppError(400, 'unsupported_grant_type', 'only client_credentials is supported');
    const client = confidentialClient(clientAuthentication(ctx, fields));
    // Scopes may be sent the way they come back (a;b) or the OAuth way (a b).
    // Without a scope the client gets every service it is allowed.
    const scope = stringField(fields, 'scope')?.split(/[;\s]+/).filter(Boolean).join(' ') || await registeredScope(provider, client.clientId);
    const answer = await callProviderEndpoint(ctx, next, provider, {
      dialect: 'le',
      route: 'token',
      form: { grant_type: 'client_credentials', scope },
      ...client.call,
      lifetimes: { clientCredentials: accessTokenTtl },
    });
    if (answer.status !== 200) {
      leErrors.refused(ctx, answer);
      return;
    }
    ctx.status = 200;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      token_type: 'LEAccess',
      access_token: answer.body.access_token,
      scope: String(answer.body.scope ?? '').split(' ').filter(Boolean).join(';'),
      expires_in: answer.body.expires_in,
    };
  });

  return router;
}
