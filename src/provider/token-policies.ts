import { errors, type KoaContextWithOIDC } from 'oidc-provider';

interface Caller { clientId: string; clientAuthMethod?: string }
interface TokenLike { clientId?: string; kind?: string }

/**
 * RFC 7662 §2.1: the caller must authenticate. A confidential client (a
 * resource server) may introspect any access token; a public client, which
 * cannot authenticate, learns only about its own tokens. A refresh token
 * is only ever sent back by the client it was issued to (no resource server
 * is given one), so only that client learns about it: to anyone else it is
 * `active: false` (RFC 7662 §2.2, a token the caller may not know about).
 */
export async function introspectionAllowed(_ctx: KoaContextWithOIDC, client: Caller, token: TokenLike): Promise<boolean> {
  if (token.clientId === client.clientId) return true;
  return client.clientAuthMethod !== 'none' && token.kind !== 'RefreshToken';
}

/**
 * RFC 7009 §2.1: a client may revoke only the tokens issued to it. Another
 * client's refresh token, which introspection hides from it, is answered as
 * an invalid token is (200, nothing revoked: RFC 7009 §2.2), so that a
 * refusal does not tell it the token is live.
 */
export async function revocationAllowed(_ctx: KoaContextWithOIDC, client: Caller, token: TokenLike): Promise<boolean> {
  if (token.clientId === client.clientId) return true;
  if (client.clientAuthMethod === 'none' || token.kind === 'RefreshToken') return false;
  throw new errors.InvalidRequest('this token was not issued to the client revoking it');
}
