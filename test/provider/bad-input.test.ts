import { expect } from 'chai';
import * as oidc from 'openid-client';
import { FormBrowser } from '../support/form-browser.js';
import { authorize, discover, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

async function token(server: TestServer, body: BodyInit, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* asserted by the caller */ }
  return { status: response.status, json, text, headers: response.headers };
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

describe('bad input at the standard endpoints', () => {
  let server: TestServer;
  let clientId: string;
  let clientSecret: string;
  const user = { username: `bob-${Date.now()}`, password: 'a sufficiently long one' };

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({
      name: 'Bad input RP',
      grantTypes: ['authorization_code', 'client_credentials'],
      redirectUris: [REDIRECT_URI],
      scope: ['openid', 'read'],
    });
    clientId = created.client.clientId;
    clientSecret = created.clientSecret!;
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  it('answers an unknown client with 401 invalid_client and WWW-Authenticate', async () => {
    const res = await token(server, 'grant_type=client_credentials', { authorization: basic('no-such-client', 'x') });
    expect(res.status).to.equal(401);
    expect(res.json.error).to.equal('invalid_client');
    expect(res.headers.get('www-authenticate')).to.match(/^Basic /);
  });

  it('answers a wrong secret with 401 invalid_client and WWW-Authenticate', async () => {
    const res = await token(server, 'grant_type=client_credentials', { authorization: basic(clientId, `${clientSecret}x`) });
    expect(res.status).to.equal(401);
    expect(res.json.error).to.equal('invalid_client');
    expect(res.headers.get('www-authenticate')).to.include('invalid_client');
  });

  it('shows an error page, never a redirect, for an unregistered redirect_uri', async () => {
    const url = new URL(`${server.url}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: 'https://evil.example.test/cb',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 'xyz',
    }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).to.equal(400);
    expect(response.headers.get('location')).to.equal(null);
    const html = await response.text();
    expect(html).to.include('redirect_uri');
    expect(html).not.to.include('evil.example.test/cb?');
  });

  it('shows an error page for an unknown client at the authorization endpoint', async () => {
    const response = await fetch(`${server.url}/auth?client_id=nobody&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`, { redirect: 'manual' });
    expect(response.status).to.equal(400);
    expect(response.headers.get('location')).to.equal(null);
  });

  it('refuses a public client that sends no PKCE challenge', async () => {
    const { client } = await server.services.clients.create({
      name: 'SPA', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'], public: true,
    });
    const url = new URL(`${server.url}/auth`);
    url.search = new URLSearchParams({ client_id: client.clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, state: 's1' }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).to.equal(REDIRECT_URI);
    expect(location.searchParams.get('error')).to.equal('invalid_request');
    expect(location.searchParams.get('error_description')).to.match(/PKCE/);
    expect(location.searchParams.get('state')).to.equal('s1');
  });

  it('refuses the plain PKCE method', async () => {
    const config = await discover(server, clientId, clientSecret);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain',
    });
    const response = await fetch(url, { redirect: 'manual' });
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).to.equal('invalid_request');
  });

  it('answers a wrong code_verifier with invalid_grant', async () => {
    const config = await discover(server, clientId, clientSecret);
    const flow = await authorize(config, user, { scope: 'openid' });
    const res = await token(server, new URLSearchParams({
      grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!,
      redirect_uri: REDIRECT_URI, code_verifier: oidc.randomPKCECodeVerifier(),
    }), { authorization: basic(clientId, clientSecret) });
    expect(res.status).to.equal(400);
    expect(res.json.error).to.equal('invalid_grant');
  });

  it('answers malformed and unsupported token requests with 400 and an RFC 6749 error', async () => {
    const auth = { authorization: basic(clientId, clientSecret) };
    const cases: Array<[BodyInit, Record<string, string>, string]> = [
      ['', auth, 'invalid_request'],
      ['grant_type=urn:nope', auth, 'unsupported_grant_type'],
      ['grant_type=authorization_code', auth, 'invalid_request'],
      ['grant_type=authorization_code&code=forged&redirect_uri=x', auth, 'invalid_grant'],
      ['{"grant_type":"client_credentials"', { ...auth, 'content-type': 'application/json' }, 'invalid_request'],
      ['grant_type=client_credentials&grant_type=client_credentials', auth, 'invalid_request'],
      ['%%%&&&=', auth, 'invalid_request'],
    ];
    for (const [body, headers, error] of cases) {
      const res = await token(server, body, headers);
      expect(res.status, `${String(body)} → ${res.text}`).to.be.within(400, 401);
      expect(res.json.error, String(body)).to.equal(error);
    }
  });

  it('never answers an oversized body with a 5xx', async () => {
    const res = await token(server, `grant_type=client_credentials&scope=${'a'.repeat(2_000_000)}`, { authorization: basic(clientId, clientSecret) });
    expect(res.status).to.be.within(400, 499);
  });

  it('answers unknown paths with a JSON 404', async () => {
    const response = await fetch(`${server.url}/no/such/path`);
    expect(response.status).to.equal(404);
    expect(await response.json()).to.include({ error: 'not_found' });
  });

  it('refuses a login form posted without the page’s CSRF token', async () => {
    const config = await discover(server, clientId, clientSecret);
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const page = await browser.navigate(url.href);
    const refused = await browser.submit(page, '/login', { ...user, csrf: 'forged' });
    expect(refused.status).to.equal(403);
    const again = await browser.submit(page, '/login', user);
    expect(again.status).to.be.oneOf([200, 303]);
  });
});
