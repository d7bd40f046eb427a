/**
 * The name of a cookie Gatehouse sets on the whole origin (`Path=/`). Over
 * https it carries the `__Host-` prefix (RFC 6265bis §4.1.3.2): the browser
 * then accepts it only from this very host, Secure, with `Path=/` and no
 * `Domain`. Without the prefix a sibling subdomain could plant its own
 * validly signed copy (an attacker's own session, with `Domain=` the parent
 * and a narrower path, which the browser sends first) and sign the victim in
 * as the attacker everywhere: login CSRF by cookie tossing. Over plain http
 * (development) a prefixed cookie would be refused, so the name stays bare.
 */
export function originCookieName(name: string, secure: boolean): string {
  return secure ? `__Host-${name}` : name;
}
