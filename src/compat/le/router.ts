import Router from '@koa/router';
import type Provider from 'oidc-provider';
import { AppError } from '../../errors/app-error.js';
import { bodySchema, readValidated, stringField, text } from '../../http/body.js';
import { basicClientId } from '../../http/basic-auth.js';
import { bodyCredentials } from '../shared/credentials.js';
import { callProviderEndpoint } from '../../http/provider-endpoint.js';
import { leErrors } from './errors.js';

const TOKEN_REQUEST = bodySchema({
  grant_type: text(64), client_id: text(256), client_secret: text(512), scope: text(1024),
});

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
  const router = new Router();
  router.use(leErrors.thrown);

  router.post('/liveexpert/oauth/authorize', async (ctx, next) => {
    const fields = await readValidated(ctx, TOKEN_REQUEST, 'invalid_request');
    const grantType = stringField(fields, 'grant_type');
    if (!grantType) throw new AppError(400, 'invalid_request', 'grant_type is required');
    if (grantType !== 'client_credentials') throw new AppError(400, 'unsupported_grant_type', 'only client_credentials is supported');
    const credentials = bodyCredentials(ctx, fields);
    // Scopes may be sent the way they come back (a;b) or the OAuth way (a b).
    let scope = stringField(fields, 'scope')?.split(/[;\s]+/).filter(Boolean).join(' ');
    if (!scope) {
      // Without a scope the client gets every service it is allowed.
      const clientId = credentials?.clientId ?? basicClientId(ctx.get('Authorization'));
      scope = clientId ? (await provider.Client.find(clientId).catch(() => undefined))?.scope : undefined;
    }
    const answer = await callProviderEndpoint(ctx, next, provider, {
      dialect: 'le',
      route: 'token',
      form: { grant_type: 'client_credentials', scope },
      credentials,
      authorization: credentials ? undefined : ctx.get('Authorization'),
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
