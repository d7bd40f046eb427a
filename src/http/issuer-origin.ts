import type { RequestListener } from 'node:http';
import type Koa from 'koa';
import { rfc6749Body } from '../errors/rfc6749.js';

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

/**
 * Puts every request target into origin form (RFC 9112 §3.2.1: the path and
 * query) before anything reads it. HTTP/1.1 lets a client send the absolute
 * form (`POST http://evil.example/token HTTP/1.1`, §3.2.2), and Koa's `href`
 * then returns that text as it came — the one part of a request's URL that
 * answerAsIssuer cannot pin, since oidc-provider builds discovery, the
 * audience it expects in client assertions and the `htu` it expects in DPoP
 * proofs from `href`. The authority in such a target is a claim of the
 * caller's, like the Host header, and is ignored the same way.
 */
export function inOriginForm(handler: RequestListener): RequestListener {
  return (req, res) => {
    const target = req.url ?? '/';
    if (target.charCodeAt(0) !== 0x2f /* '/' */ && target !== '*') {
      let url: URL | undefined;
      try { url = new URL(target); } catch { /* answered below */ }
      if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
        res.writeHead(400, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify(rfc6749Body('invalid_request', 'the request target must be a path or an http(s) URL')));
        return;
      }
      req.url = `${url.pathname}${url.search}`;
    }
    handler(req, res);
  };
}
