import { BlockList, isIP } from 'node:net';

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
/** `uri` parsed, or why no URI Gatehouse keeps may be it: not absolute, or with a fragment. */
function absoluteWithoutFragment(uri: string): URL | string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URI';
  }
  return url.hash || uri.includes('#') ? 'must not contain a fragment' : url;
}

export function redirectUriProblem(uri: string): string | undefined {
  const url = absoluteWithoutFragment(uri);
  if (typeof url === 'string') return url;
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

/**
 * Address blocks no URI the server calls may name (IANA's IPv4 and IPv6
 * Special-Purpose Address Registries, multicast, and what is reserved):
 * this host, its loopback, private networks (RFC 1918, fc00::/7), link-local
 * (cloud metadata at 169.254.169.254), shared address space, documentation,
 * benchmarking, translation prefixes that reach IPv4 (NAT64, 6to4, Teredo)
 * and the rest. The same blocks oidc-provider's outgoing-call guard refuses
 * at call time (lib/helpers/fetch_request.js), with multicast and site-local.
 */
const SPECIAL_USE: ReadonlyArray<readonly [address: string, prefix: number, family: 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], ['10.0.0.0', 8, 'ipv4'], ['100.64.0.0', 10, 'ipv4'], ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.0.0.0', 24, 'ipv4'], ['192.0.2.0', 24, 'ipv4'],
  ['192.31.196.0', 24, 'ipv4'], ['192.52.193.0', 24, 'ipv4'], ['192.88.99.0', 24, 'ipv4'], ['192.168.0.0', 16, 'ipv4'],
  ['192.175.48.0', 24, 'ipv4'], ['198.18.0.0', 15, 'ipv4'], ['198.51.100.0', 24, 'ipv4'], ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'], ['240.0.0.0', 4, 'ipv4'],
  // ::/96 holds :: (unspecified), ::1 (loopback) and the deprecated IPv4-compatible
  // addresses. IPv4-mapped ones (::ffff:0:0/96) are judged as the IPv4 address
  // they carry: BlockList matches them against the IPv4 blocks above (and an
  // IPv6 block over them would match every IPv4 address).
  ['::', 96, 'ipv6'], ['64:ff9b::', 96, 'ipv6'], ['64:ff9b:1::', 48, 'ipv6'],
  ['100::', 64, 'ipv6'], ['100:0:0:1::', 64, 'ipv6'], ['2001::', 23, 'ipv6'], ['2001:db8::', 32, 'ipv6'],
  ['2002::', 16, 'ipv6'], ['2620:4f:8000::', 48, 'ipv6'], ['3fff::', 20, 'ipv6'], ['5f00::', 16, 'ipv6'],
  ['fc00::', 7, 'ipv6'], ['fe80::', 10, 'ipv6'], ['fec0::', 10, 'ipv6'], ['ff00::', 8, 'ipv6'],
];

const SPECIAL_USE_BLOCKS = new BlockList();
for (const [address, prefix, family] of SPECIAL_USE) SPECIAL_USE_BLOCKS.addSubnet(address, prefix, family);

/**
 * Whether a URL's host (as the WHATWG parser leaves it: IPv4 in dotted
 * decimal whatever form it was written in, IPv6 in brackets) is localhost
 * (RFC 6761 §6.3: any name under it too) or an address literal in a
 * special-use block. Other names are judged when they are resolved, by
 * oidc-provider's outgoing-call guard.
 */
function isSpecialUseHost(hostname: string): boolean {
  const host = hostname.replace(/\.+$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const address = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = isIP(address);
  if (family === 0) return false;
  return SPECIAL_USE_BLOCKS.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Why a URI the server itself calls (a back-channel logout URI, a client's
 * jwks_uri or sector_identifier_uri: metadata-rules.ts) may not be
 * registered, or `undefined` when it may.
 *
 * The redirect URIs' leeway does not apply: plain http and loopback are
 * allowed there because the user's own browser or device receives the
 * redirect (RFC 8252 §7.3), whereas here the server makes the request from
 * inside its own network, where loopback, private and link-local addresses
 * reach what no registrant should (blind SSRF; OWASP's SSRF prevention:
 * https only, and no internal address). Absolute, without a fragment
 * (OpenID Connect Back-Channel Logout 1.0 §2.2) or credentials.
 *
 * `allowLoopback` is ALLOW_LOOPBACK_CALLBACKS (development and tests only):
 * the server's calls may then reach 127.0.0.1, [::1] and localhost, exactly
 * the hosts provider/build.ts lets its calls reach, over http or https.
 */
export function serverCalledUriProblem(uri: string, { allowLoopback = false } = {}): string | undefined {
  const url = absoluteWithoutFragment(uri);
  if (typeof url === 'string') return url;
  if (url.username || url.password) return 'must not contain credentials';
  const loopbackAllowed = allowLoopback && LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !(loopbackAllowed && url.protocol === 'http:')) {
    return allowLoopback
      ? 'must use https (plain http only for 127.0.0.1, [::1] and localhost, while ALLOW_LOOPBACK_CALLBACKS is set): the server itself calls it'
      : 'must use https: the server itself calls it';
  }
  if (!loopbackAllowed && isSpecialUseHost(url.hostname)) {
    return 'must not name localhost or a loopback, private, link-local or other special-use address: the server itself calls it';
  }
  return undefined;
}
