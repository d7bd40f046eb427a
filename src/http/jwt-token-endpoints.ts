import type { Context, Middleware } from 'koa';
import { writeRfc6749Error } from '../errors/rfc6749.js';
import type { JwtAccessTokenRegistry } from '../provider/jwt-access-tokens.js';
import type { TokenCheck } from '../resource-check/token-check.js';

const looksLikeJwt = (token: unknown): token is string => typeof token === 'string' && token.split('.').length === 3;

interface Caller { clientId: string; clientAuthMethod?: string }

/**
 * The JWT the provider turned away after authenticating its caller, if that
 * is what happened. oidc-provider cannot look JWT access tokens up, and
 * refuses them with `unsupported_token_type` (or, for revocation, answers 200
 * having found nothing); any other answer (failed client authentication, a
 * bad request, an opaque token) stands.
 */
function refusedJwt(ctx: Context): { token: string; caller: Caller } | undefined {
  const oidc = (ctx as unknown as { oidc?: { params?: { token?: unknown }; client?: Caller } }).oidc;
  const token = oidc?.params?.token;
  const caller = oidc?.client;
  const refusedAsJwt = (ctx.body as { error?: unknown } | undefined)?.error === 'unsupported_token_type';
  if (!caller || !looksLikeJwt(token) || !(ctx.status === 200 || refusedAsJwt)) return undefined;
  return { token, caller };
}

/**
 * RFC 7662 introspection of JWT access tokens: answered from the token's
 * signature and record, for whatever audience Gatehouse issued it (Gatehouse's
 * API or a registered resource server); `aud` says which.
 */
export function jwtIntrospection(check: TokenCheck): Middleware {
  return async (ctx, next) => {
    await next();
    const refused = refusedJwt(ctx);
    if (!refused) return;
    const info = await check.inspect(refused.token).catch(() => undefined);
    // A public client learns only about its own tokens (as for opaque ones).
    const visible = info && (refused.caller.clientAuthMethod !== 'none' || refused.caller.clientId === info.clientId);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 200;
    ctx.body = visible && info.claims ? { active: true, token_type: 'Bearer', ...info.claims } : { active: false };
  };
}

/** RFC 7009 revocation of JWT access tokens, whatever their audience: by jti, until they would have expired. */
export function jwtRevocation(check: TokenCheck, registry: JwtAccessTokenRegistry): Middleware {
  return async (ctx, next) => {
    await next();
    const refused = refusedJwt(ctx);
    if (!refused) return;
    const info = await check.inspect(refused.token).catch(() => undefined);
    ctx.set('Cache-Control', 'no-store');
    if (info && info.clientId !== refused.caller.clientId) {
      writeRfc6749Error(ctx, 400, 'invalid_request', 'this token was not issued to the client revoking it');
      return;
    }
    if (info?.claims && typeof info.claims.jti === 'string') await registry.revoke(info.claims.jti, info.expiresAt ?? Number.MAX_SAFE_INTEGER);
    ctx.status = 200;
    ctx.body = '';
  };
}
