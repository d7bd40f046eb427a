import { request } from 'node:http';
import { expect } from 'chai';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import * as oidc from 'openid-client';
import { adminApiHeaders } from '../support/admin.js';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth, type Reply } from '../support/http.js';
import { discover, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** A POST of exactly these bytes (fetch would send a string as UTF-8 whatever its Content-Type says). */
function postBytes(url: string, headers: Record<string, string>, body: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = {} as Reply['json'];
        try { json = JSON.parse(text) as Reply['json']; } catch { /* not JSON: the test asserts on text */ }
        resolve({ status: res.statusCode!, headers: new Headers(res.headers as Record<string, string>), text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const FORM = 'application/x-www-form-urlencoded';
const PASSWORD = 'café crème';

/** The reviewers' reproduction: `password=caf%E9+cr%E8me` is "café crème" in ISO-8859-1, and not UTF-8 at all. */
const latin1Form = (username: string, extra = '') => Buffer.from(`grant_type=password&username=${username}&password=caf%E9+cr%E8me${extra}`, 'latin1');

describe('request bodies are read in the charset their Content-Type declares', () => {
  let server: TestServer;
  let basic: string;
  const username = `charset-${Date.now()}`;

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({ name: 'Charset RP', grantTypes: ['password', 'refresh_token'], scope: ['write', 'read'] });
    basic = basicAuth(created.client.clientId, created.clientSecret!);
    await server.services.accounts.create({ username, password: PASSWORD });
  });

  after(() => server?.stop());

  const dot = (contentType: string, body: Buffer) => postBytes(`${server.url}/auth/oauth2/token/`, { 'content-type': contentType, authorization: basic }, body);

  describe('a form at a legacy dialect (django-oauth-toolkit /auth/oauth2/token/)', () => {
    for (const label of ['ISO-8859-1', 'iso-8859-1', 'latin1', 'Latin-1', '"ISO-8859-1"']) {
      it(`charset=${label}: percent-escapes are ISO-8859-1 bytes, and the password matches`, async () => {
        const reply = await dot(`${FORM}; charset=${label}`, latin1Form(username));
        expect(reply.status, reply.text).to.equal(200);
        expect(reply.json).to.have.property('access_token');
      });
    }

    it('charset=ISO-8859-1: raw bytes of the body are ISO-8859-1 characters too', async () => {
      const reply = await dot(`${FORM};charset=ISO-8859-1`, Buffer.from(`grant_type=password&username=${username}&password=caf\u00e9 cr\u00e8me`, 'latin1'));
      expect(reply.status, reply.text).to.equal(200);
    });

    it('UTF-8, declared in any case or not at all, reads as before', async () => {
      const body = Buffer.from(`grant_type=password&username=${username}&password=caf%C3%A9+cr%C3%A8me`);
      for (const contentType of [FORM, `${FORM}; charset=utf-8`, `${FORM}; charset="UTF-8"`, `${FORM}; CHARSET=Utf-8`]) {
        const reply = await dot(contentType, body);
        expect(reply.status, `${contentType}: ${reply.text}`).to.equal(200);
      }
    });

    it('charset=us-ascii: ASCII reads as ASCII; a byte beyond it is no character, so not é', async () => {
      const ascii = `grant_type=password&username=${username}&password=`;
      await server.services.accounts.create({ username: `${username}-ascii`, password: 'plain ascii password' });
      const plain = await dot(`${FORM}; charset=us-ascii`, Buffer.from(`${ascii.replace(username, `${username}-ascii`)}plain+ascii+password`));
      expect(plain.status, plain.text).to.equal(200);
      const high = await dot(`${FORM}; charset=US-ASCII`, latin1Form(username));
      expect(high.status, high.text).to.equal(400);
      expect(high.json.error).to.equal('invalid_grant');
    });

    it('an unknown charset is a 415 in the dialect’s shape, never guessed (nor a failed sign-in)', async () => {
      for (const label of ['koi8-r', 'x-made-up', '']) {
        const reply = await dot(`${FORM}; charset=${label}`, latin1Form(username));
        expect(reply.status, `${label}: ${reply.text}`).to.equal(415);
        expect(reply.json.error).to.equal('invalid_request');
        expect(reply.json.error_description).to.match(/^charset ".*" is not supported; send UTF-8/);
      }
    });

    it('JSON is UTF-8 only (RFC 8259 §8.1): another charset is a 415, UTF-8 declared is read', async () => {
      const json = Buffer.from(JSON.stringify({ grant_type: 'password', username, password: PASSWORD }));
      const latin1 = await dot('application/json; charset=ISO-8859-1', json);
      expect(latin1.status, latin1.text).to.equal(415);
      expect(latin1.json.error_description).to.match(/a JSON body is UTF-8 \(RFC 8259 §8\.1\)/);
      const utf8 = await dot('application/json; charset=utf-8', json);
      expect(utf8.status, utf8.text).to.equal(200);
    });
  });

  describe('a form a page posts (the sign-in page), read by the same reader as every other body', () => {
    /** The sign-in page of a fresh authorization request, and its form's hidden fields. */
    async function signInPage() {
      const created = await server.services.clients.create({ name: 'Charset pages RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
      const config = await discover(server, created.client.clientId, created.clientSecret);
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI, scope: 'openid', state: 'st',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
      });
      const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
      const page = await browser.navigate(url.href);
      const form = FormBrowser.forms(page).find((candidate) => candidate.action.endsWith('/login'));
      expect(form, page.html.slice(0, 300)).to.not.equal(undefined);
      return { browser, form: form! };
    }

    it('charset=ISO-8859-1: the password matches, as at the token endpoints', async () => {
      const { browser, form } = await signInPage();
      const body = Buffer.from(`csrf=${encodeURIComponent(form.fields.csrf ?? '')}&username=${username}&password=caf%E9+cr%E8me`, 'latin1');
      const next = await browser.navigate(form.action, { method: 'POST', body, contentType: `${FORM}; charset=ISO-8859-1` });
      // Signed in: on to consent or back to the client, not the sign-in page again.
      expect(next.html, 'not the sign-in page with an error').to.not.include('/login"');
      expect(next.status === 200 ? next.html : next.url).to.satisfy((reached: string) => reached.includes('/confirm') || reached.startsWith(REDIRECT_URI));
    });

    it('a form too large is a 413 page, as the sign-in page answers every refusal, not JSON', async () => {
      const { browser, form } = await signInPage();
      const next = await browser.request(form.action, { method: 'POST', body: new URLSearchParams({ csrf: form.fields.csrf ?? '', username, password: 'x'.repeat(20_000) }) });
      expect(next.status).to.equal(413);
      expect(next.headers.get('content-type')).to.match(/^text\/html/);
    });

    it('an unknown charset is a 415, never guessed (nor a failed sign-in counted against the account)', async () => {
      const { browser, form } = await signInPage();
      const body = Buffer.from(`csrf=${encodeURIComponent(form.fields.csrf ?? '')}&username=${username}&password=x`, 'latin1');
      const next = await browser.request(form.action, { method: 'POST', body, contentType: `${FORM}; charset=x-unknown` });
      expect(next.status).to.equal(415);
      expect(next.headers.get('content-type')).to.match(/^text\/html/);
    });
  });

  it('Northstar answers an unsupported charset 415 in its own shape', async () => {
    const admin = await adminApiHeaders(server, 'Charset admin job');
    const reply = await postBytes(`${server.url}/v2/clients`, { 'content-type': 'application/json; charset=iso-8859-1', ...admin },
      Buffer.from(JSON.stringify({ title: 'Caf\u00e9', scope: ['read'] }), 'latin1'));
    expect(reply.status, reply.text).to.equal(415);
    expect(reply.json.error).to.deep.include({ code: 415 });
  });

  describe('oidc-provider’s own endpoints read a form the same way', () => {
    it('/token with charset=ISO-8859-1: the password matches (oidc-provider alone would read %E9 as UTF-8)', async () => {
      const reply = await postBytes(`${server.url}/token`, { 'content-type': `${FORM}; charset=ISO-8859-1`, authorization: basic }, latin1Form(username, '&scope=read'));
      expect(reply.status, reply.text).to.equal(200);
      expect(reply.json).to.have.property('access_token');
    });

    it('/token with the client’s credentials in an ISO-8859-1 body (read by the client-auth throttle first)', async () => {
      const client = await server.services.clients.create({ name: 'Charset post RP', grantTypes: ['password'], scope: ['read'] });
      await server.services.storage.clients.replace({ ...(await server.services.storage.clients.find(client.client.clientId))!.metadata, token_endpoint_auth_method: 'client_secret_post' });
      const post = `&client_id=${encodeURIComponent(client.client.clientId)}&client_secret=${encodeURIComponent(client.clientSecret!)}`;
      const reply = await postBytes(`${server.url}/token`, { 'content-type': `${FORM}; charset=latin1` }, latin1Form(username, `&scope=read${post}`));
      expect(reply.status, reply.text).to.equal(200);
    });

    it('an unknown charset is a 415 in the RFC 6749 shape, not oidc-provider’s 400 "failed to parse"', async () => {
      const reply = await postBytes(`${server.url}/token`, { 'content-type': `${FORM}; charset=koi8-r`, authorization: basic }, latin1Form(username));
      expect(reply.status, reply.text).to.equal(415);
      expect(reply.json.error).to.equal('invalid_request');
      expect(reply.json.error_description).to.match(/^charset "koi8-r" is not supported/);
    });

    it('dynamic registration (JSON) in ISO-8859-1 is a 415; in UTF-8 it registers', async () => {
      const { token } = await issueInitialAccessToken(server.services.provider, 600);
      const body = { redirect_uris: [REDIRECT_URI], scope: 'openid', client_name: 'Café' };
      const latin1 = await postBytes(`${server.url}/reg`, { 'content-type': 'application/json; charset=ISO-8859-1', authorization: `Bearer ${token}` }, Buffer.from(JSON.stringify(body), 'latin1'));
      expect(latin1.status, latin1.text).to.equal(415);
      expect(latin1.json.error).to.equal('invalid_request');
      const utf8 = await postBytes(`${server.url}/reg`, { 'content-type': 'application/json; charset=UTF-8', authorization: `Bearer ${token}` }, Buffer.from(JSON.stringify(body)));
      expect(utf8.status, utf8.text).to.equal(201);
      expect(utf8.json.client_name).to.equal('Café');
    });
  });
});
