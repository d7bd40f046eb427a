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
