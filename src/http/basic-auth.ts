/**
 * HTTP Basic client authentication (RFC 6749 §2.3.1), read the one way every
 * surface reads it: the client throttle (which client a request names) and
 * the dialects (which credentials it carries).
 */

export interface BasicCredentials {
  clientId: string;
  clientSecret: string;
}

/** RFC 6749 §2.3.1: each part is form-encoded before Basic encoding; undefined when it is not valid encoding. */
function formDecoded(value: string): string | undefined {
  // Most ids and secrets need no decoding; decodeURIComponent and the replace are the bulk of the cost.
  if (!value.includes('%') && !value.includes('+')) return value;
  try {
    return decodeURIComponent(value.replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

/**
 * The credentials part of an Authorization header whose scheme is Basic
 * (RFC 9110 §11.1: scheme names are case-insensitive): '' when the header
 * has none, undefined for no header or any other scheme.
 */
export function basicToken(header: string): string | undefined {
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'basic') return undefined;
  return space === -1 ? '' : header.slice(space + 1).trim();
}

/** The id and the still-encoded secret of a Basic token; undefined without a colon. */
function encodedParts(token: string): [string, string] | undefined {
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

/** The id and secret a Basic token carries; undefined when it cannot be decoded. */
export function decodeBasic(token: string): BasicCredentials | undefined {
  const parts = encodedParts(token);
  if (!parts) return undefined;
  const clientId = formDecoded(parts[0]);
  const clientSecret = formDecoded(parts[1]);
  return clientId && clientSecret !== undefined ? { clientId, clientSecret } : undefined;
}

/** The client_id inside an HTTP Basic header, if any (its secret is not decoded: only the id is wanted). */
export function basicClientId(header: string): string | undefined {
  const token = basicToken(header);
  const parts = token ? encodedParts(token) : undefined;
  return (parts && formDecoded(parts[0])) || undefined;
}
