import { errors, type KoaContextWithOIDC } from 'oidc-provider';

interface Caller { clientId: string; clientAuthMethod?: string }
interface TokenLike { clientId?: string }

/**
 * RFC 7662 §2.1: the caller must authenticate. A confidential client (a
 * resource server) may introspect any token; a public client, which cannot
 * authenticate, learns only about its own tokens.
 */
export async function introspectionAllowed(_ctx: KoaContextWithOIDC, client: Caller, token: TokenLike): Promise<boolean> {
  return client.clientAuthMethod !== 'none' || token.clientId === client.clientId;
}

/** RFC 7009 §2.1: a client may revoke only the tokens issued to it. */
export async function revocationAllowed(_ctx: KoaContextWithOIDC, client: Caller, token: TokenLike): Promise<boolean> {
  if (token.clientId === client.clientId) return true;
  if (client.clientAuthMethod === 'none') return false;
  throw new errors.InvalidRequest('this token was not issued to the client revoking it');
}
