import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { FormBrowser, type Page } from '../support/form-browser.js';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('django-oauth-toolkit dialect: /auth/oauth2/token/ and /auth/oauth2/revoke_token/', () => {
  let server: TestServer;
  let tokenUrl: string;
  let revokeUrl: string;
  let clientId: string;
  let clientSecret: string;
  let auth: Record<string, string>;
  const user = { username: `grace-${Date.now()}`, password: 'translator password' };

  before(async () => {
    server = await startTestServer();
    tokenUrl = `${server.url}/auth/oauth2/token/`;
    revokeUrl = `${server.url}/auth/oauth2/revoke_token/`;
    const created = await server.services.clients.create({
      name: 'Community app', grantTypes: ['password', 'refresh_token'], scope: ['write', 'read'],
    });
    clientId = created.client.clientId;
    clientSecret = created.clientSecret!;
    auth = { authorization: basicAuth(clientId, clientSecret) };
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  it('answers the document’s password request (Basic auth, JSON) with the documented fields', async () => {
    const reply = await postJson(tokenUrl, `{
        "grant_type": "password",
        "username": "${user.username}",
        "password": "${user.password}"
    }`, auth);
    expect(reply.status).to.equal(200);
    expect(Object.keys(reply.json)).to.deep.equal(['access_token', 'refresh_token', 'token_type', 'expires_in', 'scope']);
    // Seconds, not the document's "milliseconds": the real service sends 600.
    expect(reply.json).to.include({ token_type: 'Bearer', expires_in: 600, scope: 'write read' });
  });

  it('ignores a DPoP proof (RFC 9449 §5: the dialect does not do DPoP): a Bearer token, as its answer says', async () => {
    const keys = await generateKeyPair('ES256');
    const proof = await new SignJWT({ htm: 'POST', htu: tokenUrl.replace(server.url, server.issuer), jti: randomBytes(12).toString('hex') })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) }).setIssuedAt().sign(keys.privateKey);
    const reply = await postJson(tokenUrl, { grant_type: 'password', ...user }, { ...auth, dpop: proof });
    // Before: the proof was judged against the provider's /token (400 htu mismatch); one made for
    // /token bound a token the answer called Bearer.
    expect(reply.status, reply.text).to.equal(200);
    expect(reply.json.token_type).to.equal('Bearer');
    const me = await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${reply.json.access_token as string}` } });
    expect(me.status, 'usable as a Bearer token: not bound to the key').to.equal(200);
  });

  it('refreshes with rotation: the new pair works, the old refresh token is dead', async () => {
    const first = await postJson(tokenUrl, { grant_type: 'password', ...user }, auth);
    const refreshed = await postJson(tokenUrl, `{
        "grant_type" : "refresh_token",
        "refresh_token" : "${first.json.refresh_token as string}"
    }`, auth);
    expect(refreshed.status).to.equal(200);
    expect(refreshed.json).to.include({ token_type: 'Bearer', expires_in: 600, scope: 'write read' });
    expect(refreshed.json.refresh_token).to.be.a('string').and.not.equal(first.json.refresh_token);
    const reused = await postJson(tokenUrl, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token }, auth);
    expect(reused.status).to.equal(400);
    expect(reused.json.error).to.equal('invalid_grant');
  });

  it('gives refresh tokens a one-day lifetime', async () => {
    const { json } = await postJson(tokenUrl, { grant_type: 'password', ...user }, auth);
    const info = await postForm(`${server.url}/token/introspection`, { token: json.refresh_token as string }, auth);
    expect(Number(info.json.exp) - Number(info.json.iat)).to.equal(86_400);
  });

  it('keeps the one-day lifetime for the family when a refresh token is rotated at the standard /token', async () => {
    const { json } = await postJson(tokenUrl, { grant_type: 'password', ...user }, auth);
    const rotated = await postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: json.refresh_token as string }, auth);
    expect(rotated.status, rotated.text).to.equal(200);
    const info = await postForm(`${server.url}/token/introspection`, { token: rotated.json.refresh_token as string }, auth);
    expect(Number(info.json.exp) - Number(info.json.iat), 'not REFRESH_TOKEN_TTL (14 days)').to.equal(86_400);
  });

  it('accepts client credentials in the body and form-encoded requests', async () => {
    const reply = await postForm(tokenUrl, { grant_type: 'password', ...user, client_id: clientId, client_secret: clientSecret });
    expect(reply.status).to.equal(200);
  });

  it('answers a wrong password and an unknown user with the same 400 invalid_grant', async () => {
    const wrong = await postJson(tokenUrl, { grant_type: 'password', username: user.username, password: 'not it at all' }, auth);
    const unknown = await postJson(tokenUrl, { grant_type: 'password', username: 'nobody-here', password: 'not it at all' }, auth);
    expect(wrong.status).to.equal(400);
    expect(wrong.json).to.deep.equal(unknown.json);
    expect(wrong.json.error).to.equal('invalid_grant');
  });

  it('answers a bad client with 401, and other bad requests with 400', async () => {
    const badClient = await postJson(tokenUrl, { grant_type: 'password', ...user }, { authorization: basicAuth(clientId, 'nope') });
    expect(badClient.status).to.equal(401);
    expect(badClient.headers.get('www-authenticate')).to.match(/^Basic /);
    expect((await postJson(tokenUrl, { grant_type: 'password', ...user })).status, 'no client at all').to.equal(401);
    const cases: Array<[unknown, string]> = [
      [{ grant_type: 'implicit' }, 'unsupported_grant_type'],
      [{ grant_type: 'toString' }, 'unsupported_grant_type'],
      [{ username: user.username }, 'invalid_request'],
      [{ grant_type: 'password', username: user.username }, 'invalid_request'],
      [{ grant_type: 'password', username: 7, password: 'x' }, 'invalid_request'],
      ['{"grant_type":"password"', 'invalid_request'],
      [{ grant_type: 'refresh_token', refresh_token: 'forged' }, 'invalid_grant'],
      [{ grant_type: 'password', ...user, scope: 'admin' }, 'invalid_scope'],
    ];
    for (const [body, error] of cases) {
      const reply = await postJson(tokenUrl, body, auth);
      expect(reply.status, JSON.stringify(body)).to.equal(400);
      expect(reply.json.error, JSON.stringify(body)).to.equal(error);
    }
  });

  it('refuses a grant to a client whose grant types do not list it', async () => {
    const other = await server.services.clients.create({ name: 'M2M', grantTypes: ['client_credentials'], scope: ['read'] });
    const reply = await postJson(tokenUrl, { grant_type: 'password', ...user }, { authorization: basicAuth(other.client.clientId, other.clientSecret!) });
    expect(reply.status).to.be.oneOf([400, 401]);
    expect(reply.json.error).to.equal('unauthorized_client');
    const machine = await postJson(tokenUrl, { grant_type: 'client_credentials' }, auth);
    expect(machine.status, 'the password client asking for client_credentials').to.equal(400);
    expect(machine.json.error).to.equal('unauthorized_client');
    expect(machine.json.access_token).to.equal(undefined);
  });

  it('revokes access and refresh tokens with the documented JSON body, and answers 200 for unknown tokens', async () => {
    const { json } = await postJson(tokenUrl, { grant_type: 'password', ...user }, auth);
    for (const token of [json.access_token, json.refresh_token]) {
      const reply = await postJson(revokeUrl, `{
        "token" : "${token as string}",
        "client_id" : "${clientId}",
        "client_secret" : "${clientSecret}"
    }`);
      expect(reply.status).to.equal(200);
      const info = await postForm(`${server.url}/token/introspection`, { token: token as string }, auth);
      expect(info.json.active).to.equal(false);
    }
    expect((await postJson(revokeUrl, { token: 'never-issued', client_id: clientId, client_secret: clientSecret })).status).to.equal(200);
  });

  it('answers a revocation with a bad client with 401, and without a token with 400', async () => {
    expect((await postJson(revokeUrl, { token: 'x', client_id: clientId, client_secret: 'wrong' })).status).to.equal(401);
    expect((await postJson(revokeUrl, { client_id: clientId, client_secret: clientSecret })).status).to.equal(400);
  });

  it('serves the password grant at the standard token endpoint too, to an independent client (oauth4webapi)', async () => {
    const issuer = new URL(server.issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
    expect(as.grant_types_supported).to.include('password');
    const client: oauth.Client = { client_id: clientId };
    const response = await oauth.genericTokenEndpointRequest(
      as, client, oauth.ClientSecretBasic(clientSecret), 'password',
      { username: user.username, password: user.password, scope: 'read' },
      { [oauth.allowInsecureRequests]: true },
    );
    const tokens = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(tokens.token_type).to.equal('bearer');
    expect(tokens.scope).to.equal('read');
    expect(tokens.expires_in, 'the standard endpoint keeps the standard lifetime').to.equal(server.config.accessTokenTtl);
    expect(tokens.refresh_token).to.be.a('string');
  });

  describe('the other grants DOT applications are registered for', () => {
    const CALLBACK = 'https://dot-web.example.test/callback';
    let machine: { id: string; secret: string; auth: Record<string, string> };
    let web: { id: string; secret: string; auth: Record<string, string> };
    let spa: { id: string };

    const pkce = () => {
      const verifier = randomBytes(32).toString('base64url');
      return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
    };
    const authorizeUrl = (params: Record<string, string>) => `${server.url}/auth/oauth2/authorize/?${new URLSearchParams(params).toString()}`;
    /** The browser leg at DOT's authorize/: sign in, consent, stop at the client's callback. */
    async function authorize(params: Record<string, string>): Promise<Page> {
      const browser = new FormBrowser((next) => next.href.startsWith(CALLBACK));
      let page = await browser.navigate(authorizeUrl({ redirect_uri: CALLBACK, response_type: 'code', ...params }));
      if (page.html.includes('/login"')) page = await browser.submit(page, '/login', user);
      if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
      return page;
    }
    async function codeFor(params: Record<string, string>): Promise<string> {
      const page = await authorize(params);
      const code = new URL(page.url).searchParams.get('code');
      expect(code, page.html.slice(0, 300)).to.be.a('string');
      return code!;
    }
    const introspect = async (token: string) => (await postForm(`${server.url}/token/introspection`, { token }, web.auth)).json;

    before(async () => {
      const m2m = await server.services.clients.create({ name: 'Batch job', grantTypes: ['client_credentials'], scope: ['read', 'write'] });
      machine = { id: m2m.client.clientId, secret: m2m.clientSecret!, auth: { authorization: basicAuth(m2m.client.clientId, m2m.clientSecret!) } };
      // What the import makes of a DOT `authorization-code` application.
      const app = await server.services.clients.create({
        name: 'Web app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK], scope: ['read', 'write'],
      });
      web = { id: app.client.clientId, secret: app.clientSecret!, auth: { authorization: basicAuth(app.client.clientId, app.clientSecret!) } };
      const pub = await server.services.clients.create({
        name: 'Public web app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK], scope: ['read'], public: true,
      });
      spa = { id: pub.client.clientId };
    });

    it('answers client_credentials as DOT does: DOT’s lifetime, every registered scope by default, no refresh token', async () => {
      const reply = await postJson(tokenUrl, { grant_type: 'client_credentials' }, machine.auth);
      expect(reply.status, reply.text).to.equal(200);
      // What DOT 1.7 answers: {"access_token", "expires_in": 600, "token_type": "Bearer", "scope": "read write"}.
      expect(Object.keys(reply.json).sort()).to.deep.equal(['access_token', 'expires_in', 'scope', 'token_type']);
      expect(reply.json).to.include({ token_type: 'Bearer', expires_in: 600, scope: 'read write' });
      expect(reply.headers.get('cache-control')).to.equal('no-store');
      const info = await introspect(reply.json.access_token as string);
      expect(info).to.include({ active: true, client_id: machine.id, scope: 'read write' });
      expect(Number(info.exp) - Number(info.iat)).to.equal(600);

      const narrowed = await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'read', client_id: machine.id, client_secret: machine.secret });
      expect(narrowed.status, narrowed.text).to.equal(200);
      expect(narrowed.json.scope).to.equal('read');
      const wider = await postJson(tokenUrl, { grant_type: 'client_credentials', scope: 'admin' }, machine.auth);
      expect(wider.status).to.equal(400);
      expect(wider.json.error).to.equal('invalid_scope');
    });

    it('runs the code flow through authorize/ and token/ without PKCE for a confidential client, as DOT 1.x did', async () => {
      const state = 'opaque state/with spaces & symbols=1';
      const page = await authorize({ client_id: web.id, state });
      const callback = new URL(page.url);
      expect(`${callback.origin}${callback.pathname}`).to.equal(CALLBACK);
      expect(callback.searchParams.get('state')).to.equal(state);
      const code = callback.searchParams.get('code')!;
      const reply = await postForm(tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK }, web.auth);
      expect(reply.status, reply.text).to.equal(200);
      // What DOT 1.7 answers: access_token, expires_in (600), token_type, scope (every scope when none was asked), refresh_token.
      expect(Object.keys(reply.json).sort()).to.deep.equal(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
      expect(reply.json).to.include({ token_type: 'Bearer', expires_in: 600, scope: 'read write' });
      const refreshInfo = await introspect(reply.json.refresh_token as string);
      expect(Number(refreshInfo.exp) - Number(refreshInfo.iat), 'DOT’s one-day refresh token').to.equal(86_400);
      const me = await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${reply.json.access_token as string}` } });
      expect(me.status).to.equal(200);

      const refreshed = await postJson(tokenUrl, { grant_type: 'refresh_token', refresh_token: reply.json.refresh_token }, web.auth);
      expect(refreshed.status, refreshed.text).to.equal(200);
      expect(refreshed.json).to.include({ expires_in: 600, scope: 'read write' });
      const again = await postForm(tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK }, web.auth);
      expect(again.status).to.equal(400);
      expect(again.json.error).to.equal('invalid_grant');
    });

    it('holds a code bound to a challenge to its code_verifier at token/', async () => {
      const { verifier, challenge } = pkce();
      const withChallenge = { client_id: web.id, scope: 'read', code_challenge: challenge, code_challenge_method: 'S256' };
      const wrong = await postJson(tokenUrl, { grant_type: 'authorization_code', code: await codeFor(withChallenge), redirect_uri: CALLBACK, code_verifier: pkce().verifier }, web.auth);
      expect(wrong.status, wrong.text).to.equal(400);
      expect(wrong.json.error).to.equal('invalid_grant');
      const right = await postJson(tokenUrl, { grant_type: 'authorization_code', code: await codeFor(withChallenge), redirect_uri: CALLBACK, code_verifier: verifier }, web.auth);
      expect(right.status, right.text).to.equal(200);
      expect(right.json.scope).to.equal('read');
    });

    it('still requires PKCE of a public client, which then redeems its code with its client_id alone', async () => {
      const refused = await fetch(authorizeUrl({ client_id: spa.id, redirect_uri: CALLBACK, response_type: 'code', state: 's' }), { redirect: 'manual' });
      expect(new URL(refused.headers.get('location')!).searchParams.get('error')).to.equal('invalid_request');
      const { verifier, challenge } = pkce();
      const code = await codeFor({ client_id: spa.id, code_challenge: challenge, code_challenge_method: 'S256' });
      const reply = await postForm(tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: spa.id, code_verifier: verifier });
      expect(reply.status, reply.text).to.equal(200);
      expect(reply.json).to.include({ expires_in: 600, scope: 'read' });
      const revoked = await postJson(revokeUrl, { token: reply.json.access_token, client_id: spa.id });
      expect(revoked.status, 'a public client revokes with its client_id, as at DOT').to.equal(200);
      expect((await introspect(reply.json.access_token as string)).active).to.equal(false);
    });

    it('refuses a confidential client that names itself without its secret', async () => {
      const code = await codeFor({ client_id: web.id });
      const reply = await postForm(tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: web.id });
      expect(reply.status).to.equal(401);
      expect(reply.json.error).to.equal('invalid_client');
    });

    it('never redirects for an unknown client or an unregistered redirect_uri', async () => {
      const cases: Array<Record<string, string>> = [
        { client_id: web.id, redirect_uri: 'https://attacker.example.test/cb', response_type: 'code', state: 's' },
        { client_id: 'nobody', redirect_uri: CALLBACK, response_type: 'code', state: 's' },
        { redirect_uri: CALLBACK, response_type: 'code', state: 's' },
      ];
      for (const params of cases) {
        const response = await fetch(authorizeUrl(params), { redirect: 'manual' });
        expect(response.status, JSON.stringify(params)).to.equal(400);
        expect(response.headers.get('location'), JSON.stringify(params)).to.equal(null);
      }
    });

    it('refuses the implicit flow, redirecting its error only to the registered redirect_uri', async () => {
      const response = await fetch(authorizeUrl({ client_id: web.id, redirect_uri: CALLBACK, response_type: 'token', state: 's' }), { redirect: 'manual' });
      const location = response.headers.get('location');
      if (location) {
        const callback = new URL(location);
        expect(`${callback.origin}${callback.pathname}`).to.equal(CALLBACK);
        // response_type=token answers in the fragment (OAuth 2.0 Multiple Response Types §5).
        const answer = new URLSearchParams(callback.hash.slice(1) || callback.search);
        expect(answer.get('error')).to.equal('unsupported_response_type');
        expect(location).not.to.include('access_token');
      } else {
        expect(response.status).to.equal(400);
      }
    });
  });
});
