const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:']);

/**
 * Why a redirect URI may not be registered, or `undefined` when it may.
 *
 * RFC 9700 §4.1.3: redirect URIs are compared exactly, so they must be
 * absolute and free of fragments (RFC 6749 §3.1.2). Plain http is allowed
 * only for loopback (RFC 8252 §7.3); private-use schemes (RFC 8252 §7.1) must
 * look like reversed domain names.
 */
export function redirectUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URI';
  }
  if (url.hash || uri.includes('#')) return 'must not contain a fragment';
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `must not use the ${url.protocol} scheme`;
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTS.has(url.hostname) ? undefined : 'must use https (plain http is allowed only for localhost, 127.0.0.1 and [::1])';
  }
  return url.protocol.slice(0, -1).includes('.') ? undefined : 'a private-use scheme must be a reversed domain name such as com.example.app';
}

/** Whether the URI is an app's private-use scheme (RFC 8252 §7.1): neither https nor http. */
export function isPrivateUseUri(uri: string): boolean {
  const protocol = URL.parse(uri)?.protocol;
  return protocol !== undefined && protocol !== 'https:' && protocol !== 'http:';
}

/**
 * A redirect URI only a native app can receive: plain http to this machine,
 * or a private-use scheme. `localhost` counts, as it always has here: RFC
 * 8252 §8.3 advises the IP literals, but a stored public client with a
 * localhost URI beside a private-use scheme would stop loading as a web client.
 */
function nativeOnly(uri: string): boolean {
  const url = URL.parse(uri);
  if (!url) return false;
  if (url.protocol === 'http:') return LOOPBACK_HOSTS.has(url.hostname);
  return url.protocol !== 'https:';
}

/**
 * RFC 8252: what kind of client oidc-provider should take a client for. A
 * public client whose every redirect URI is loopback http or a private-use
 * scheme is a native app: oidc-provider then accepts any port on
 * a loopback redirect at run time (RFC 8252 §7.3, RFC 9700 §4.1.3) and
 * private-use schemes at all, both of which it refuses a web client. Every
 * other client is a web client (oidc-provider's default), held to its URIs
 * exactly: a confidential one always, since the leeway is for apps that
 * cannot keep a secret and cannot reserve a port (§8.5, §7.3). This is derived from what every surface already
 * describes (public or confidential, redirect URIs), for every client,
 * never taken from the client's own `application_type` (RFC 7591
 * registration, provider/registration.ts; stored records,
 * provider/client-application-type.ts).
 */
export function applicationTypeOf(metadata: Readonly<Record<string, unknown>>): 'native' | 'web' {
  const uris = Array.isArray(metadata.redirect_uris) ? metadata.redirect_uris : [];
  const native = metadata.token_endpoint_auth_method === 'none' && uris.length > 0 && uris.every((uri) => typeof uri === 'string' && nativeOnly(uri));
  return native ? 'native' : 'web';
}
