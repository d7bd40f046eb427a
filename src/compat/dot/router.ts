import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { AppError } from '../../errors/app-error.js';
import { bodySchema, type Fields, readValidated, stringField, text } from '../../http/body.js';
import { bodyCredentials } from '../shared/credentials.js';
import { callProviderEndpoint, type ProviderCall } from '../../http/provider-endpoint.js';
import { dotErrors } from './errors.js';

export interface DotDeps {
  provider: Provider;
  accessTokenTtl: number;
  refreshTokenTtl: number;
}

const GRANTS = new Set(['password', 'refresh_token']);
const CREDENTIALS = { client_id: text(256), client_secret: text(512) };
const TOKEN_REQUEST = bodySchema({
  ...CREDENTIALS, grant_type: text(64), username: text(256), password: text(1024), refresh_token: text(4096), scope: text(1024),
});
const REVOKE_REQUEST = bodySchema({ ...CREDENTIALS, token: text(8192), token_type_hint: text(64) });

/**
 * The django-oauth-toolkit service: `POST /auth/oauth2/token/` (password and
 * refresh_token grants, HTTP Basic client auth, JSON body) and
 * `POST /auth/oauth2/revoke_token/`. Both are the provider's own token and
 * revocation endpoints underneath.
 */
export function dotRouter({ provider, accessTokenTtl, refreshTokenTtl }: DotDeps): Router {
  const router = new Router({ prefix: '/auth/oauth2' });
  router.use(dotErrors.thrown);

  /** Forwards the named body fields to a provider endpoint, with the client's credentials as it sent them. */
  async function forward(ctx: Context, next: Next, fields: Fields, route: ProviderCall['route'], names: string[]) {
    const credentials = bodyCredentials(ctx, fields);
    return callProviderEndpoint(ctx, next, provider, {
      dialect: 'dot',
      route,
      form: Object.fromEntries(names.map((name) => [name, stringField(fields, name)])),
      credentials,
      authorization: credentials ? undefined : ctx.get('Authorization'),
      lifetimes: { accessToken: accessTokenTtl, refreshToken: refreshTokenTtl },
    });
  }

  router.post('/token/', async (ctx, next) => {
    const fields = await readValidated(ctx, TOKEN_REQUEST, 'invalid_request');
    const grantType = stringField(fields, 'grant_type');
    if (!grantType) throw new AppError(400, 'invalid_request', 'grant_type is required');
    if (!GRANTS.has(grantType)) throw new AppError(400, 'unsupported_grant_type', 'use password or refresh_token');
    const answer = await forward(ctx, next, fields, 'token', ['grant_type', 'username', 'password', 'refresh_token', 'scope']);
    if (answer.status !== 200) {
      dotErrors.refused(ctx, answer);
      return;
    }
    const { access_token, refresh_token, expires_in, scope } = answer.body;
    ctx.status = 200;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { access_token, refresh_token, token_type: 'Bearer', expires_in, scope };
  });

  router.post('/revoke_token/', async (ctx, next) => {
    const fields = await readValidated(ctx, REVOKE_REQUEST, 'invalid_request');
    if (!stringField(fields, 'token')) throw new AppError(400, 'invalid_request', 'token is required');
    const answer = await forward(ctx, next, fields, 'revocation', ['token', 'token_type_hint']);
    if (answer.status !== 200) {
      dotErrors.refused(ctx, answer);
      return;
    }
    // RFC 7009 §2.2: 200 whether or not the token was known.
    ctx.status = 200;
    ctx.body = '';
  });

  return router;
}
