import Router from '@koa/router';
import { requireToken, type TokenCheck } from './token-check.js';

/** `GET /api/whoami`: a demo protected resource that describes the presented token. */
export function whoamiRouter(check: TokenCheck, issuer: string): Router {
  const router = new Router();
  router.get('/api/whoami', requireToken(check, { origin: issuer }), (ctx) => {
    const token = ctx.state.token!;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      client_id: token.clientId,
      sub: token.sub ?? null,
      scope: token.scope.join(' '),
      token_type: token.tokenType,
    };
  });
  return router;
}
