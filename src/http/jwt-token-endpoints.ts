import type { Context, Middleware } from 'koa';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
// The provider's own revocation of a grant's tokens, which its revocation
// endpoint applies to an opaque access token (lib/actions/revocation.js).
import revokeGrant from 'oidc-provider/lib/helpers/revoke.js';
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
    const info = await check.inspect(refused.token);
    // The same policy as for opaque tokens (provider/token-policies.ts).
    const visible = info && await introspectionAllowed(ctx as never, refused.caller, info);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 200;
    // RFC 9449 §6.2: a token bound to a DPoP key (`cnf.jkt`) is a DPoP token, as the provider says of its opaque ones.
    ctx.body = visible && info.claims ? { active: true, token_type: info.jkt ? 'DPoP' : 'Bearer', ...info.claims } : { active: false };
  };
}

/**
 * RFC 7009 revocation of JWT access tokens, whatever their audience, as the
 * provider revokes its opaque ones: the token itself (by jti, until it would
 * have expired) and, when it belongs to a grant, every token issued under
 * that grant (its refresh token, and every token exchanged from it, however
 * often re-exchanged), through the provider's own grant revocation, which
 * also removes the grant's JWT records (adapters/oidc-adapter.ts). A
 * client_credentials token has no grant: it alone is revoked.
 */
export function jwtRevocation(check: TokenCheck, registry: JwtAccessTokenRegistry): Middleware {
  return async (ctx, next) => {
    await next();
    const refused = refusedJwt(ctx);
    if (!refused) return;
    const info = await check.inspect(refused.token);
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
    const jti = info?.claims?.jti;
    if (allowed && typeof jti === 'string') {
      // A JWT does not carry its grant; its record does, and revoking the token removes that record.
      const grantId = (await registry.find(jti))?.grantId;
      await registry.revoke(jti, info?.expiresAt ?? Number.MAX_SAFE_INTEGER);
      // Told as the provider tells an opaque token's end, so the audit trail
      // (audit/provider-events.ts) records it the same way.
      const model = grantId ? 'access_token' : 'client_credentials';
      (ctx as unknown as KoaContextWithOIDC).oidc.provider.emit(`${model}.destroyed`, { clientId: refused.caller.clientId, grantId });
      if (grantId) {
        const oidc = (ctx as unknown as KoaContextWithOIDC).oidc;
        // What the provider's revokeGrantPolicy reads: an access token's
        // revocation ends the grant's tokens and keeps its consent, as for an opaque one.
        oidc.entity('AccessToken', info);
        await revokeGrant(ctx, grantId);
      }
    }
    ctx.status = 200;
    ctx.body = '';
  };
}
