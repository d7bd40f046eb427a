import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { JwtAccessTokenRegistry } from '../provider/jwt-access-tokens.js';
import type { TokenCheck } from '../resource/token-check.js';
import { onPostsTo } from './route-dispatch.js';

const looksLikeJwt = (token: unknown): token is string => typeof token === 'string' && token.split('.').length === 3;

/**
 * RFC 7662 introspection and RFC 7009 revocation of JWT access tokens, which
 * oidc-provider cannot look up. Every request goes to the provider as it
 * came (nothing is read or replayed); the provider authenticates the caller
 * and answers about opaque tokens. When it has turned a JWT away, Gatehouse
 * answers from the token's signature and its record instead.
 */
export function jwtTokenEndpoints(provider: Provider, check: TokenCheck, registry: JwtAccessTokenRegistry): Middleware {
  const introspection = provider.pathFor('introspection');
  const revocation = provider.pathFor('revocation');
  const answer: Middleware = async (ctx, next) => {
    const path = ctx.path;
    await next();
    // The provider refuses structured (JWT) tokens with unsupported_token_type,
    // after authenticating the caller; any other answer (failed client
    // authentication, a bad request, an opaque token) stands.
    const oidc = (ctx as unknown as { oidc?: { params?: { token?: unknown }; client?: { clientId: string; clientAuthMethod?: string } } }).oidc;
    const token = oidc?.params?.token;
    const caller = oidc?.client;
    const refusedAsJwt = (ctx.body as { error?: unknown } | undefined)?.error === 'unsupported_token_type';
    if (!caller || !looksLikeJwt(token) || !(ctx.status === 200 || refusedAsJwt)) return;

    const info = await check(`Bearer ${token}`).catch(() => undefined);
    ctx.set('Cache-Control', 'no-store');
    if (path === introspection) {
      // A public client learns only about its own tokens (as for opaque ones).
      const visible = info && (caller.clientAuthMethod !== 'none' || caller.clientId === info.clientId);
      ctx.status = 200;
      ctx.body = visible && info.claims
        ? { active: true, token_type: 'Bearer', ...info.claims }
        : { active: false };
      return;
    }
    if (info && info.clientId !== caller.clientId) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'this token was not issued to the client revoking it' };
      return;
    }
    if (info?.claims && typeof info.claims.jti === 'string') await registry.revoke(info.claims.jti, info.expiresAt ?? Number.MAX_SAFE_INTEGER);
    ctx.status = 200;
    ctx.body = '';
  };
  return onPostsTo([introspection, revocation], answer);
}
