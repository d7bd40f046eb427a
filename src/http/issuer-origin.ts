import type Koa from 'koa';

/**
 * Makes every request of `app` see the issuer's scheme and host, whatever
 * its Host or X-Forwarded-Host header says. oidc-provider writes the
 * endpoint URLs of discovery, the audience it expects in client assertions
 * and the `htu` it expects in DPoP proofs from the request's origin; taken
 * from headers, a caller could have discovery name `http://evil.example/token`
 * for everyone behind a cache, or proofs checked against a URL of its
 * choosing (RFC 9449 §4.3). The issuer is the one address Gatehouse is
 * reached at (OIDC Discovery §4.3: the issuer and its endpoints are fixed).
 *
 * Cookies follow too: they are `Secure` exactly when the issuer is https
 * (which requires TRUST_PROXY: Gatehouse itself speaks plain HTTP behind a
 * TLS-terminating proxy). The client address (`ctx.ip`) is unaffected: it
 * still honours X-Forwarded-For only with TRUST_PROXY.
 *
 * Defined once on the application's request prototype, so no request pays for it.
 */
export function answerAsIssuer(app: Koa, issuer: string): void {
  const { host, protocol } = new URL(issuer);
  const scheme = protocol.slice(0, -1);
  Object.defineProperties(app.request, {
    host: { get: () => host, configurable: true },
    protocol: { get: () => scheme, configurable: true },
  });
}
