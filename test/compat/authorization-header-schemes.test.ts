import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth, postForm, postJson } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * RFC 6749 §2.3: only HTTP Basic (or the client's credentials in the body)
 * authenticates a client at a token endpoint. An app whose HTTP client
 * attaches its (expired) access token to every request, the refresh call
 * included, sends `Authorization: Bearer …` (or LE's `LEAccess …`) beside its
 * credentials: each dialect's token path ignores that header and uses the
 * credentials, as django-oauth-toolkit does.
 */
describe('Dialect token endpoints count only HTTP Basic as client authentication', () => {
  let server: TestServer;
  const user = { username: `schemes-${Date.now()}`, password: 'header schemes password' };
  const stale = { authorization: 'Bearer an-expired-access-token' };
  let dotUrl: string;
  let revokeUrl: string;
  let confidential: { id: string; secret: string };
  let mobile: { id: string };
  const CALLBACK = 'https://mobile.example.test/callback';

  /** A public client's tokens through DOT's authorize/ (sign in, consent, PKCE) and token/ with its client_id alone. */
  async function publicClientTokens(): Promise<Record<string, unknown>> {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const params = { client_id: mobile.id, redirect_uri: CALLBACK, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256' };
    const browser = new FormBrowser((next) => next.href.startsWith(CALLBACK));
    let page = await browser.navigate(`${server.url}/auth/oauth2/authorize/?${new URLSearchParams(params).toString()}`);
    if (page.html.includes('/login"')) page = await browser.submit(page, '/login', user);
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
    const code = new URL(page.url).searchParams.get('code');
    expect(code, page.html.slice(0, 300)).to.be.a('string');
    const reply = await postForm(dotUrl, { grant_type: 'authorization_code', code: code!, redirect_uri: CALLBACK, client_id: mobile.id, code_verifier: verifier });
    expect(reply.status, reply.text).to.equal(200);
    return reply.json;
  }
  let machine: { id: string; secret: string };

  before(async () => {
    server = await startTestServer();
    dotUrl = `${server.url}/auth/oauth2/token/`;
    revokeUrl = `${server.url}/auth/oauth2/revoke_token/`;
    const community = await server.services.clients.create({ name: 'Community app', grantTypes: ['password', 'refresh_token'], scope: ['read', 'write'] });
    confidential = { id: community.client.clientId, secret: community.clientSecret! };
    // A public DOT application, as the import brings it (no secret; Gatehouse gives public clients the code flow, not password).
    const app = await server.services.clients.create({
      name: 'Mobile app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK], scope: ['read', 'write'], public: true,
    });
    mobile = { id: app.client.clientId };
    const service = await server.services.clients.create({ name: 'Machine', grantTypes: ['client_credentials'], scope: ['read', 'write'] });
    machine = { id: service.client.clientId, secret: service.clientSecret! };
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  describe('django-oauth-toolkit token/ and revoke_token/', () => {
    it('uses the body’s credentials when the request also carries a Bearer token', async () => {
      const reply = await postJson(dotUrl, { grant_type: 'password', ...user, client_id: confidential.id, client_secret: confidential.secret }, stale);
      expect(reply.status, reply.text).to.equal(200);
      const refreshed = await postJson(dotUrl, {
        grant_type: 'refresh_token', refresh_token: reply.json.refresh_token, client_id: confidential.id, client_secret: confidential.secret,
      }, { authorization: `Bearer ${reply.json.access_token as string}` });
      expect(refreshed.status, refreshed.text).to.equal(200);
      const revoked = await postJson(revokeUrl, { token: refreshed.json.access_token, client_id: confidential.id, client_secret: confidential.secret }, stale);
      expect(revoked.status, revoked.text).to.equal(200);
    });

    it('answers a Bearer token without credentials as a request without client authentication: 401 invalid_client', async () => {
      const reply = await postJson(dotUrl, { grant_type: 'password', ...user }, stale);
      expect(reply.status, reply.text).to.equal(401);
      expect(reply.json.error).to.equal('invalid_client');
    });

    it('accepts HTTP Basic with the same credentials repeated in the body, in any case of the scheme name', async () => {
      const body = { grant_type: 'password', ...user, client_id: confidential.id, client_secret: confidential.secret };
      const both = await postJson(dotUrl, body, { authorization: basicAuth(confidential.id, confidential.secret) });
      expect(both.status, both.text).to.equal(200);
      const lowerCase = await postJson(dotUrl, { grant_type: 'password', ...user }, { authorization: basicAuth(confidential.id, confidential.secret).replace('Basic', 'basic') });
      expect(lowerCase.status, lowerCase.text).to.equal(200);
    });

    it('refuses HTTP Basic beside different credentials in the body with 400 invalid_request', async () => {
      const header = { authorization: basicAuth(confidential.id, confidential.secret) };
      const otherSecret = await postJson(dotUrl, { grant_type: 'password', ...user, client_id: confidential.id, client_secret: 'another secret' }, header);
      expect(otherSecret.status, otherSecret.text).to.equal(400);
      expect(otherSecret.json.error).to.equal('invalid_request');
      const otherClient = await postJson(dotUrl, { grant_type: 'password', ...user, client_id: mobile.id }, header);
      expect(otherClient.status, otherClient.text).to.equal(400);
      expect(otherClient.json.error).to.equal('invalid_request');
    });

    it('takes a public client’s id from HTTP Basic with an empty password, or from the body beside a Bearer token', async () => {
      const signIn = await publicClientTokens();
      const viaBasic = await postJson(dotUrl, { grant_type: 'refresh_token', refresh_token: signIn.refresh_token }, { authorization: basicAuth(mobile.id, '') });
      expect(viaBasic.status, viaBasic.text).to.equal(200);
      const viaBody = await postJson(dotUrl, { grant_type: 'refresh_token', refresh_token: viaBasic.json.refresh_token, client_id: mobile.id }, stale);
      expect(viaBody.status, viaBody.text).to.equal(200);
      expect(viaBody.json).to.include({ token_type: 'Bearer', scope: 'read write' });
    });

    it('refuses a confidential client that sends HTTP Basic with an empty password: 401 invalid_client, as DOT', async () => {
      const reply = await postJson(dotUrl, { grant_type: 'password', ...user }, { authorization: basicAuth(confidential.id, '') });
      expect(reply.status, reply.text).to.equal(401);
      expect(reply.json.error).to.equal('invalid_client');
    });
  });

  describe('LE Enterprise authorize', () => {
    const body = () => ({ grant_type: 'client_credentials', client_id: machine.id, client_secret: machine.secret });

    it('uses the body’s credentials beside an old LEAccess or Bearer token', async () => {
      for (const authorization of ['LEAccess an-old-token', 'Bearer an-old-token']) {
        const reply = await postForm(`${server.url}/liveexpert/oauth/authorize`, body(), { authorization });
        expect(reply.status, `${authorization}: ${reply.text}`).to.equal(200);
        expect(reply.json).to.include({ token_type: 'LEAccess', scope: 'read;write' });
      }
    });

    it('accepts HTTP Basic with the same credentials in the body, and refuses different ones', async () => {
      const same = await postForm(`${server.url}/liveexpert/oauth/authorize`, body(), { authorization: basicAuth(machine.id, machine.secret) });
      expect(same.status, same.text).to.equal(200);
      const different = await postForm(`${server.url}/liveexpert/oauth/authorize`, { ...body(), client_secret: 'not it' }, { authorization: basicAuth(machine.id, machine.secret) });
      expect(different.status, different.text).to.equal(400);
      expect(different.json.error).to.equal('invalid_request');
    });
  });

  describe('LOS and Lux, whose documents take credentials in the body only', () => {
    it('LOS: answers the documented request beside a Bearer token', async () => {
      const reply = await postJson(`${server.url}/api/v1.1/oauth/token`, { grant_type: 'client_credentials', client_id: machine.id, client_secret: machine.secret, scope: '*' }, stale);
      expect(reply.status, reply.text).to.equal(200);
      expect(reply.json.meta).to.include({ success: true });
    });

    it('Lux: judges the code, not the header (invalid_grant for a forged code beside a Bearer token)', async () => {
      const lux = await server.services.clients.create({ name: 'Lux app', grantTypes: ['authorization_code'], redirectUris: ['https://lux.example.org/cb'], scope: ['openid'] });
      const reply = await postForm(`${server.url}/Lux/OAuth2/access_token/`, {
        grant_type: 'authorization_code', code: 'forged', redirect_uri: 'https://lux.example.org/cb', client_id: lux.client.clientId, client_secret: lux.clientSecret!,
      }, stale);
      expect(reply.status, reply.text).to.equal(400);
      expect(reply.json.error).to.equal('invalid_grant');
    });
  });
});
