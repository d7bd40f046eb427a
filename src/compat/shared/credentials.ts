import type { Context } from 'koa';
import { AppError } from '../../errors/app-error.js';
import { type BasicCredentials, basicToken, decodeBasic } from '../../http/basic-auth.js';
import { type Fields, stringField } from '../../http/body.js';
import type { ClientCredentials } from '../../http/provider-endpoint.js';

/**
 * How a token or revocation request at a dialect's endpoint authenticates its
 * client, decided once from the Authorization header and the body:
 * - `basic`: an HTTP Basic header, handed to the provider as it came (the
 *   provider decodes and checks it, and refuses a malformed one);
 * - `body`: client_id and client_secret in the body (RFC 6749 §2.3.1);
 * - `client_id`: a client naming itself without a secret (a public client,
 *   RFC 6749 §2.1; the provider refuses a confidential one with invalid_client);
 * - `none`: nothing that names a client.
 * Any other Authorization scheme (an access token the client's HTTP library
 * attaches to every request: `Bearer`, LE's `LEAccess`) is not client
 * authentication (RFC 6749 §2.3) and is never handed to the provider.
 */
export type ClientAuthentication =
  | { method: 'basic'; header: string; clientId?: string }
  | { method: 'body'; credentials: ClientCredentials }
  | { method: 'client_id'; clientId: string }
  | { method: 'none' };

/**
 * The request's Authorization header when its scheme is Basic, with what it
 * carries when that can be decoded; `undefined` for no header or any other scheme.
 */
function basicHeader(ctx: Context): { header: string; credentials?: BasicCredentials } | undefined {
  const header = ctx.get('Authorization');
  const token = basicToken(header);
  if (token === undefined) return undefined;
  return { header, credentials: token ? decodeBasic(token) : undefined };
}

const TWO_METHODS = 'client authentication must use only one method: the Authorization header and the body name different client credentials';

/**
 * HTTP Basic with credentials in the body too. DOT (oauthlib) tries the
 * header and then the body, so clients that send the same credentials both
 * ways work there, and work here: the header alone is handed on. Two
 * *different* sets are refused (RFC 6749 §2.3, §5.2 invalid_request) where
 * DOT would accept whichever is right: that would let one request test a
 * second secret beside a known one (docs/dialects.md).
 */
function basicWithBody(basic: { header: string; credentials?: BasicCredentials }, clientId?: string, clientSecret?: string): ClientAuthentication {
  const sent = basic.credentials;
  // A header that is not valid Basic goes to the provider, which refuses it.
  if (!sent) return { method: 'basic', header: basic.header };
  if (clientId !== undefined && clientId !== sent.clientId) throw new AppError(400, 'invalid_request', TWO_METHODS);
  if (clientSecret !== undefined && clientSecret !== sent.clientSecret) throw new AppError(400, 'invalid_request', TWO_METHODS);
  // `client_id:` with no password is how HTTP libraries send a public
  // client's id; the provider would refuse the empty secret as malformed.
  if (!sent.clientSecret) return { method: 'client_id', clientId: sent.clientId };
  return { method: 'basic', header: basic.header, clientId: sent.clientId };
}

/** The one reading of a token request's client authentication (see ClientAuthentication). */
export function clientAuthentication(ctx: Context, fields: Fields): ClientAuthentication {
  const clientId = stringField(fields, 'client_id');
  const clientSecret = stringField(fields, 'client_secret');
  const basic = basicHeader(ctx);
  if (basic) return basicWithBody(basic, clientId, clientSecret);
  if (clientId && clientSecret) return { method: 'body', credentials: { clientId, clientSecret } };
  if (clientId) return { method: 'client_id', clientId };
  return { method: 'none' };
}

/** The client the request names, whichever way it authenticates (for defaults such as its registered scope). */
export function namedClientId(authentication: ClientAuthentication): string | undefined {
  switch (authentication.method) {
    case 'basic': return authentication.clientId;
    case 'body': return authentication.credentials.clientId;
    case 'client_id': return authentication.clientId;
    case 'none': return undefined;
  }
}
