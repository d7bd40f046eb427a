import type { Context, Middleware } from 'koa';
import { errors } from 'oidc-provider';
import { writeRfc6749Error } from '../errors/rfc6749.js';
import type { JwtAccessTokenRegistry } from '../provider/jwt-access-tokens.js';
import type { TokenCheck } from '../resource-check/token-check.js';
import { introspectionAllowed, revocationAllowed } from '../provider/token-policies.js';

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
    // The same policy as for opaque tokens (provider/token-policies.ts).
    const visible = info && await introspectionAllowed(ctx as never, refused.caller, info);
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
    // The same policy as for opaque tokens (provider/token-policies.ts): a
    // public client learns nothing of another client's token, live or dead.
    let allowed = false;
    try {
      allowed = info !== undefined && await revocationAllowed(ctx as never, refused.caller, info);
    } catch (error) {
      if (!(error instanceof errors.OIDCProviderError)) throw error;
      writeRfc6749Error(ctx, error.status, error.error, error.error_description ?? error.message);
      return;
    }
    if (allowed && info?.claims && typeof info.claims.jti === 'string') await registry.revoke(info.claims.jti, info.expiresAt ?? Number.MAX_SAFE_INTEGER);
    ctx.status = 200;
    ctx.body = '';
  };
}
