import { randomBytes } from 'node:crypto';
import { parse } from 'node:querystring';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { JwtAccessTokenRegistry } from '../provider/jwt-access-tokens.js';
import type { TokenCheck } from '../resource/token-check.js';
import { replayToProvider } from './provider-endpoint.js';
import { readRaw } from './raw-body.js';


const looksLikeJwt = (token: unknown): token is string => typeof token === 'string' && token.split('.').length === 3;

/**
 * RFC 7662 introspection and RFC 7009 revocation of JWT access tokens, which
 * oidc-provider cannot look up. Requests about other tokens pass through to
 * the provider untouched. For a JWT, the provider still authenticates the
 * caller (its introspection endpoint is asked about a token that cannot
 * exist), then Gatehouse answers from the token's signature and its record.
 */
export function jwtTokenEndpoints(provider: Provider, check: TokenCheck, registry: JwtAccessTokenRegistry): Middleware {
  const introspection = provider.pathFor('introspection');
  const revocation = provider.pathFor('revocation');
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || (ctx.path !== introspection && ctx.path !== revocation) || !ctx.is('application/x-www-form-urlencoded')) {
      await next();
      return;
    }
    const raw = await readRaw(ctx.req);
    if (!raw) {
      ctx.status = 413;
      ctx.body = { error: 'invalid_request', error_description: 'request body too large' };
      return;
    }
    const form = parse(raw.toString('utf8'));
    if (!looksLikeJwt(form.token)) {
      await replayToProvider(ctx, next, ctx.path, raw, ctx.req.headers);
      return;
    }

    const token = form.token;
    const probe = new URLSearchParams(form as Record<string, string>);
    probe.set('token', randomBytes(24).toString('base64url'));
    const path = ctx.path;
    await replayToProvider(ctx, next, introspection, Buffer.from(probe.toString()), ctx.req.headers);
    if (ctx.status !== 200) return; // the caller failed client authentication: keep the provider's answer
    const caller = (ctx as unknown as { oidc?: { client?: { clientId: string; clientAuthMethod?: string } } }).oidc?.client;

    const info = await check(`Bearer ${token}`).catch(() => undefined);
    ctx.set('Cache-Control', 'no-store');
    if (path === introspection) {
      // A public client learns only about its own tokens (as for opaque ones).
      const visible = info && (caller?.clientAuthMethod !== 'none' || caller.clientId === info.clientId);
      ctx.body = visible && info.claims
        ? { active: true, token_type: 'Bearer', ...info.claims }
        : { active: false };
      return;
    }
    if (info && caller && info.clientId !== caller.clientId) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'this token was not issued to the client revoking it' };
      return;
    }
    if (info?.claims && typeof info.claims.jti === 'string') await registry.revoke(info.claims.jti);
    ctx.status = 200;
    ctx.body = '';
  };
}
