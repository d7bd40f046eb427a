import Router from '@koa/router';
import { registeredScope } from '../shared/registered-scope.js';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { AppError } from '../../errors/app-error.js';
import { bodySchema, type Fields, readValidated, stringField, text } from '../../http/body.js';
import { callProviderEndpoint } from '../../http/provider-endpoint.js';
import { losErrors, losSuccess } from './errors.js';
import { useErrorMapping } from '../../http/route-dispatch.js';

export interface LosDeps {
  provider: Provider;
  accessTokenTtl: number;
}

const TOKEN_REQUEST = bodySchema({
  grant_type: text(64), client_id: text(256), client_secret: text(512), scope: text(1024),
});

function required(fields: Fields, name: string): string {
  const value = stringField(fields, name);
  if (!value) throw new AppError(400, 'invalid_request', `${name} is required`);
  return value;
}

/**
 * LOS API: `POST /api/v1.1/oauth/token`, a client_credentials request in a
 * JSON body, answered in the LOS `{meta, data}` envelope. `scope: "*"` asks
 * for every scope the client is allowed.
 */
export function losRouter({ provider, accessTokenTtl }: LosDeps): Router {
  // The prefix is the LOS API's own: a path under it that is not a route is answered in the envelope.
  const router = new Router({ prefix: '/api/v1.1/oauth' });
  useErrorMapping(router, losErrors.thrown);

  router.post('/token', async (ctx: Context, next) => {
    const fields = await readValidated(ctx, TOKEN_REQUEST, 'invalid_request');
    const grantType = required(fields, 'grant_type');
    if (grantType !== 'client_credentials') {
      throw new AppError(400, 'unsupported_grant_type', 'only client_credentials is supported');
    }
    const credentials = { clientId: required(fields, 'client_id'), clientSecret: required(fields, 'client_secret') };
    const scope = required(fields, 'scope');
    const form = { grant_type: 'client_credentials', scope: scope === '*' ? (await registeredScope(provider, credentials.clientId)) ?? '' : scope };
    const answer = await callProviderEndpoint(ctx, next, provider, {
      dialect: 'los',
      route: 'token', form, credentials, lifetimes: { clientCredentials: accessTokenTtl },
    });
    if (answer.status === 200) {
      losSuccess(ctx, {
        token_type: 'Bearer',
        expires_in: Number(answer.body.expires_in),
        access_token: String(answer.body.access_token),
      });
      return;
    }
    losErrors.refused(ctx, answer);
  });

  return router;
}
