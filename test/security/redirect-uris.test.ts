import { expect } from 'chai';
import * as oidc from 'openid-client';
import { ValidationError } from '../../src/errors/app-error.js';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { authorizationUrl, frontChannel, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** URIs no surface may register (RFC 6749 §3.1.2, RFC 8252 §7.3, RFC 9700 §4.1.3). */
const UNREGISTRABLE = [
  'https://rp.example.test/callback#fragment',
  'javascript:alert(document.domain)',
  'http://rp.example.test/callback',
];

/**
 * Redirect URIs are compared exactly (RFC 9700 §4.1.3, §2.1); the only
 * leeway is the port of a loopback URI for native apps (RFC 8252 §7.3).
 */
describe('redirect URIs', () => {
  let server: TestServer;
  let clientId: string;
  let admin: Record<string, string>;
  const WITH_QUERY = 'https://rp.example.test/callback?tenant=a';
  const LOOPBACK = 'http://127.0.0.1:8123/callback';
  const challenge = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({
      name: 'Exact RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI, WITH_QUERY, LOOPBACK],
      postLogoutRedirectUris: ['https://rp.example.test/signed-out'], scope: ['openid'],
    });
    clientId = created.client.clientId;
    const m2m = await server.services.clients.create({ name: 'Redirect admin', grantTypes: ['client_credentials'], scope: ['admin'] });
    const token = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: basicAuth(m2m.client.clientId, m2m.clientSecret!) });
    admin = { authorization: `Bearer ${token.json.access_token as string}` };
  });

  after(() => server.stop());

  const authorizeWith = (redirectUri: string, client = clientId) => frontChannel(authorizationUrl(server, {
    client_id: client, response_type: 'code', scope: 'openid', state: 'st', redirect_uri: redirectUri, ...challenge,
  }));

  describe('at registration, on every surface', () => {
    async function namesOfClients(): Promise<number> {
      return (await server.services.clients.list({ perPage: 1 })).total;
    }

    it('the client service (CLI, dashboard, Lux, Northstar) refuses a fragment, javascript: and non-loopback http:', async () => {
      for (const uri of UNREGISTRABLE) {
        const attempt = server.services.clients.create({ name: 'Bad', grantTypes: ['authorization_code'], redirectUris: [uri], scope: ['openid'] });
        const error = await attempt.then(() => undefined, (caught: unknown) => caught);
        expect(error, uri).to.be.instanceOf(ValidationError);
        const update = await server.services.clients.update(clientId, { redirectUris: [uri] }).then(() => undefined, (caught: unknown) => caught);
        expect(update, `update to ${uri}`).to.be.instanceOf(ValidationError);
      }
      expect((await server.services.clients.show(clientId)).redirectUris).to.deep.equal([REDIRECT_URI, WITH_QUERY, LOOPBACK]);
    });

    it('the client service refuses the same in post_logout_redirect_uris', async () => {
      for (const uri of UNREGISTRABLE) {
        const error = await server.services.clients.create({
          name: 'Bad logout', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], postLogoutRedirectUris: [uri], scope: ['openid'],
        }).then(() => undefined, (caught: unknown) => caught);
        expect(error, uri).to.be.instanceOf(ValidationError);
      }
    });

    it('accepts https with a query and http on loopback (the control: the refusals are about the URI)', async () => {
      const made = await server.services.clients.create({ name: 'Good', grantTypes: ['authorization_code'], redirectUris: [WITH_QUERY, 'http://localhost/cb', 'http://[::1]:9000/cb'], scope: ['openid'] });
      expect(made.client.redirectUris).to.have.length(3);
    });

    it('dynamic registration (/reg) answers invalid_redirect_uri, for registration and for an update (RFC 7592)', async () => {
      const { token } = await issueInitialAccessToken(server.services.provider, 600);
      const before = await namesOfClients();
      for (const uri of UNREGISTRABLE) {
        for (const field of ['redirect_uris', 'post_logout_redirect_uris']) {
          const body = { redirect_uris: [REDIRECT_URI], [field]: [uri] };
          const reply = await postJson(`${server.url}/reg`, body, { authorization: `Bearer ${token}` });
          expect(reply.status, `${field} ${uri}`).to.equal(400);
          expect(reply.json.error, `${field} ${uri}`).to.be.oneOf(['invalid_redirect_uri', 'invalid_client_metadata']);
        }
      }
      expect(await namesOfClients()).to.equal(before);

      const registered = await postJson(`${server.url}/reg`, { redirect_uris: [REDIRECT_URI] }, { authorization: `Bearer ${token}` });
      expect(registered.status, registered.text).to.equal(201);
      const { client_id: id, registration_client_uri: uri, registration_access_token: rat } = registered.json as Record<string, string>;
      for (const bad of UNREGISTRABLE) {
        const update = await send(`${uri!.replace(server.issuer, server.url)}`, {
          method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${rat!}` },
          body: JSON.stringify({ client_id: id, redirect_uris: [bad] }),
        });
        expect(update.status, `PUT ${bad}: ${update.text}`).to.equal(400);
        expect(update.json.error, `PUT ${bad}: ${update.text}`).to.be.oneOf(['invalid_redirect_uri', 'invalid_client_metadata']);
      }
      expect((await server.services.clients.show(id!)).redirectUris).to.deep.equal([REDIRECT_URI]);
    });

    it('the Northstar admin API answers 422 and creates nothing', async () => {
      const before = await namesOfClients();
      for (const uri of UNREGISTRABLE) {
        for (const body of [{ redirect_uri: uri }, { redirect_uris: [uri] }]) {
          const reply = await postJson(`${server.url}/v2/clients`, { title: 'Bad', scope: ['openid'], ...body }, admin);
          expect(reply.status, `${JSON.stringify(body)}: ${reply.text}`).to.equal(422);
        }
      }
      expect(await namesOfClients()).to.equal(before);
    });

    it('Lux adjust/ refuses them for a new client and for an update', async () => {
      const before = await namesOfClients();
      for (const uri of UNREGISTRABLE) {
        const created = await postJson(`${server.url}/Lux/OAuth2/adjust/`, { client_name: 'Bad Lux', redirect_uri: uri }, admin);
        expect(created.status, `${uri}: ${created.text}`).to.be.within(400, 422);
        const updated = await postJson(`${server.url}/Lux/OAuth2/adjust/`, { client_id: clientId, redirect_uri: uri }, admin);
        expect(updated.status, `update ${uri}: ${updated.text}`).to.be.within(400, 422);
      }
      expect(await namesOfClients()).to.equal(before);
      expect((await server.services.clients.show(clientId)).redirectUris).to.include(REDIRECT_URI);
    });
  });

  describe('at authorization', () => {
    it('goes on to sign-in for each registered URI exactly as registered (the control)', async () => {
      for (const uri of [REDIRECT_URI, WITH_QUERY, LOOPBACK]) {
        const reply = await authorizeWith(uri);
        expect(reply.status, uri).to.be.within(302, 303);
        expect(reply.location!.pathname, uri).to.match(/^\/interaction\//);
      }
    });

    const variants: Array<[string, string]> = [
      ['an added query', `${REDIRECT_URI}?next=https://evil.example.test`],
      ['a changed query', 'https://rp.example.test/callback?tenant=b'],
      ['a query added to a registered query', `${WITH_QUERY}&x=1`],
      ['a fragment', `${REDIRECT_URI}#x`],
      ['a trailing slash', `${REDIRECT_URI}/`],
      ['a changed case', REDIRECT_URI.toUpperCase()],
      ['http: instead of https:', REDIRECT_URI.replace('https:', 'http:')],
      ['another host', 'https://evil.example.test/callback'],
      ['a subdomain', REDIRECT_URI.replace('rp.example.test', 'rp.example.test.evil.example')],
      ['javascript:', 'javascript:alert(1)'],
      ['a data: URI', 'data:text/html,<script>alert(1)</script>'],
      ['another loopback port, for a web client', 'http://127.0.0.1:9999/callback'],
    ];
    for (const [what, uri] of variants) {
      it(`refuses ${what} with an error page and never redirects`, async () => {
        const reply = await authorizeWith(uri);
        expect(reply.status, reply.html.slice(0, 200)).to.equal(400);
        expect(reply.location).to.equal(null);
        expect(reply.html).to.include('redirect_uri');
      });
    }

    it('lets a native app’s loopback redirect URI vary only in its port (RFC 8252 §7.3)', async () => {
      const { token } = await issueInitialAccessToken(server.services.provider, 600);
      const registered = await postJson(`${server.url}/reg`, {
        application_type: 'native', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', scope: 'openid',
      }, { authorization: `Bearer ${token}` });
      expect(registered.status, registered.text).to.equal(201);
      const nativeId = registered.json.client_id as string;
      const anyPort = await authorizeWith('http://127.0.0.1:51234/callback', nativeId);
      expect(anyPort.location?.pathname ?? '', anyPort.html.slice(0, 200)).to.match(/^\/interaction\//);
      for (const uri of ['http://127.0.0.1:51234/other', 'http://127.0.0.1:51234/callback?x=1', 'http://127.0.0.2:51234/callback']) {
        const reply = await authorizeWith(uri, nativeId);
        expect(reply.status, uri).to.equal(400);
        expect(reply.location, uri).to.equal(null);
      }
    });
  });

  describe('at logout', () => {
    it('never redirects to an unregistered post_logout_redirect_uri', async () => {
      const endSession = (uri: string) => frontChannel(`${server.url}/session/end?${new URLSearchParams({ client_id: clientId, post_logout_redirect_uri: uri, state: 'bye' }).toString()}`);
      const control = await endSession('https://rp.example.test/signed-out');
      expect(control.status, 'a registered one gets the logout page').to.equal(200);
      for (const uri of ['https://evil.example.test/signed-out', 'https://rp.example.test/signed-out?x=1', 'https://rp.example.test/signed-out#x', 'javascript:alert(1)', REDIRECT_URI]) {
        const reply = await endSession(uri);
        expect(reply.status, uri).to.equal(400);
        expect(reply.location, uri).to.equal(null);
        expect(reply.html).not.to.include('evil.example.test');
      }
    });

    it('never redirects after logout to an unregistered post_logout_redirect_uri presented with a forged id_token_hint', async () => {
      const reply = await frontChannel(oidc.buildEndSessionUrl(
        await oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] }),
        { id_token_hint: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', post_logout_redirect_uri: 'https://evil.example.test/x' },
      ));
      expect(reply.status).to.equal(400);
      expect(reply.location).to.equal(null);
    });
  });
});
