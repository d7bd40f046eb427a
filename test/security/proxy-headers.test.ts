import { expect } from 'chai';
import { FormBrowser } from '../support/form-browser.js';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { basicAuth } from '../support/http.js';
import { authorizationUrl, frontChannel, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SPOOFED = {
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'evil.example.test',
  'x-forwarded-for': '203.0.113.7',
};
const CHALLENGE = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

/** A GET with a Host header of the caller's choosing (fetch will not send one). */
function getWithHost(url: string, host: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { host } }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; }).on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    }).on('error', reject).end();
  });
}

/** A request whose request line carries `target` as it is (the absolute form, RFC 9112 §3.2.2, when it is a URL). */
function sendTarget(url: string, target: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ hostname, port, path: target, method: init.method ?? 'GET', headers: init.headers }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; }).on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    }).on('error', reject);
    req.end(init.body);
  });
}

/** What a proxy's headers could change: discovery, cookies, and the client address the audit trail records. */
async function observe(server: TestServer, clientId: string, headers: Record<string, string>) {
  const discovery = await (await fetch(`${server.url}/.well-known/openid-configuration`, { headers })).json() as Record<string, unknown>;
  const start = await frontChannel(authorizationUrl(server, { client_id: clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', ...CHALLENGE }), headers);
  const cookies = start.headers.getSetCookie();
  // A failed sign-in is audited with the client's address.
  const browser = new FormBrowser(() => false, { headers, route: (url) => new URL(`${url.pathname}${url.search}`, server.url) });
  const login = await browser.navigate(authorizationUrl(server, { client_id: clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', ...CHALLENGE }).href);
  const failed = await browser.submit(login, '/login', { username: `nobody-${Date.now()}`, password: 'wrong' });
  expect(failed.status).to.equal(401);
  const { items } = await server.services.audit.list({ clientId, perPage: 500 });
  const lastFailure = items.find((event) => event.event === 'login.failed'); // newest first
  return { discovery, cookies, ip: lastFailure?.ip ?? null };
}

async function clientOf(server: TestServer): Promise<string> {
  const { client } = await server.services.clients.create({ name: 'Proxy RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
  return client.clientId;
}

/** Issue 6 item 13: X-Forwarded-* is honoured only when TRUST_PROXY says a proxy sets it. */
describe('proxy headers', () => {
  describe('without TRUST_PROXY, spoofed X-Forwarded-Proto, -Host and -For change nothing', () => {
    let server: TestServer;
    let clientId: string;

    before(async () => {
      server = await startTestServer();
      clientId = await clientOf(server);
    });

    after(() => server.stop());

    it('discovery is the same document, with the configured issuer and no spoofed host or scheme', async () => {
      const honest = await observe(server, clientId, {});
      const spoofed = await observe(server, clientId, SPOOFED);
      expect(spoofed.discovery).to.deep.equal(honest.discovery);
      expect(spoofed.discovery.issuer).to.equal(server.issuer);
      expect(JSON.stringify(spoofed.discovery)).not.to.include('evil.example.test');
      expect(spoofed.discovery.authorization_endpoint).to.match(/^http:/);
    });

    it('cookies are not Secure, and the audit trail records the socket’s address', async () => {
      const spoofed = await observe(server, clientId, SPOOFED);
      expect(spoofed.cookies.length).to.be.above(0);
      for (const cookie of spoofed.cookies) expect(cookie.toLowerCase(), cookie).not.to.match(/;\s*secure/);
      expect(spoofed.ip).to.be.a('string').and.match(/127\.0\.0\.1$|^::1$/);
    });
  });

  describe('with TRUST_PROXY=true, only the client address is taken from the proxy', () => {
    let server: TestServer;
    let clientId: string;
    let issuer: string;

    before(async () => {
      // An https issuer: Gatehouse is reached through a TLS-terminating proxy.
      issuer = `https://gatehouse-${Date.now()}.example.test`;
      server = await startTestServer({ TRUST_PROXY: 'true', ISSUER: issuer });
      clientId = await clientOf(server);
    });

    after(() => server.stop());

    it('discovery names the configured issuer’s endpoints, whatever host or scheme the proxy forwards', async () => {
      for (const headers of [SPOOFED, {}, { 'x-forwarded-proto': 'http' }] as Array<Record<string, string>>) {
        const { discovery } = await observe(server, clientId, headers);
        expect(discovery.issuer).to.equal(issuer);
        expect(discovery.authorization_endpoint).to.equal(`${issuer}/auth`);
        expect(discovery.token_endpoint).to.equal(`${issuer}/token`);
      }
    });

    it('cookies are Secure because the issuer is https, and the audit trail records the forwarded client address', async () => {
      const forwarded = await observe(server, clientId, SPOOFED);
      expect(forwarded.cookies.length).to.be.above(0);
      for (const cookie of forwarded.cookies) expect(cookie.toLowerCase(), cookie).to.match(/;\s*secure/);
      expect(forwarded.ip).to.equal('203.0.113.7');
      const direct = await observe(server, clientId, {});
      expect(direct.ip).to.match(/127\.0\.0\.1$|^::1$/);
    });
  });

  describe('the Host header', () => {
    let server: TestServer;

    before(async () => { server = await startTestServer(); });
    after(() => server.stop());

    it('changes no URL discovery publishes (issue 15: Host: evil.example gave token_endpoint http://evil.example/token)', async () => {
      const honest = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
        const reply = await getWithHost(`${server.url}${path}`, 'evil.example.test');
        expect(reply.status).to.equal(200);
        expect(reply.text).not.to.include('evil.example.test');
        const document = JSON.parse(reply.text) as Record<string, unknown>;
        if (path.includes('openid')) expect(document).to.deep.equal(honest);
        expect(document.token_endpoint).to.equal(`${server.issuer}/token`);
      }
    });
  });

  describe('the request target', () => {
    let server: TestServer;

    before(async () => { server = await startTestServer(); });
    after(() => server.stop());

    it('written as a URL (absolute form) changes no URL discovery publishes', async () => {
      const honest = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
      const reply = await sendTarget(server.url, 'http://evil.example.test/.well-known/openid-configuration');
      expect(reply.status).to.equal(200);
      expect(reply.text).not.to.include('evil.example.test');
      expect(JSON.parse(reply.text)).to.deep.equal(honest);
    });

    it('written as a URL cannot make a DPoP proof for another server’s token endpoint count here (RFC 9449 §4.3)', async () => {
      const { client, clientSecret } = await server.services.clients.create({ name: 'absolute form', grantTypes: ['client_credentials'], scope: ['read'] });
      const keys = await generateKeyPair('ES256');
      const proofFor = async (htu: string) => new SignJWT({ htm: 'POST', htu, jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) }).setIssuedAt().sign(keys.privateKey);
      const ask = async (target: string, htu: string) => sendTarget(server.url, target, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client.clientId, clientSecret!), dpop: await proofFor(htu) },
        body: 'grant_type=client_credentials&scope=read',
      });
      const elsewhere = await ask('http://evil.example.test/token', 'http://evil.example.test/token');
      expect(elsewhere.status, elsewhere.text).to.equal(400);
      expect(JSON.parse(elsewhere.text)).to.include({ error: 'invalid_dpop_proof' });
      // The same request line with a proof for this issuer's endpoint is served: the target's authority is ignored, like Host.
      const here = await ask('http://evil.example.test/token', `${server.issuer}/token`);
      expect(here.status, here.text).to.equal(200);
    });

    it('that is neither a path nor an http(s) URL is refused with 400', async () => {
      const reply = await sendTarget(server.url, 'ftp://evil.example.test/token');
      expect(reply.status).to.equal(400);
      expect(JSON.parse(reply.text)).to.include({ error: 'invalid_request' });
    });
  });
});
