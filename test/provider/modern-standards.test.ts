import { createServer, type Server } from 'node:http';
import { expect } from 'chai';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { FormBrowser } from '../support/form-browser.js';
import { authorize, discover, REDIRECT_URI, redeem } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('modern standards, through openid-client', () => {
  let server: TestServer;
  const user = { username: `nia-${Date.now()}`, password: 'standards password' };

  before(async () => {
    server = await startTestServer({ ALLOW_LOOPBACK_CALLBACKS: 'true' });
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  it('pushed authorization requests (RFC 9126), required per client', async () => {
    const { client, clientSecret } = await server.services.clients.create({
      name: 'PAR only', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'], requirePushedAuthorizationRequests: true,
    });
    const config = await discover(server, client.clientId, clientSecret);
    expect(config.serverMetadata().pushed_authorization_request_endpoint).to.equal(`${server.issuer}/request`);

    const plain = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const refused = await fetch(plain, { redirect: 'manual' });
    expect(new URL(refused.headers.get('location')!).searchParams.get('error')).to.equal('invalid_request');

    const verifier = oidc.randomPKCECodeVerifier();
    const pushed = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid', state: 'par-state', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    expect(pushed.searchParams.get('request_uri')).to.match(/^urn:ietf:params:oauth:request_uri:/);
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    let page = await browser.navigate(pushed.href);
    page = await browser.submit(page, '/login', user);
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url), { pkceCodeVerifier: verifier, expectedState: 'par-state' });
    expect(tokens.access_token).to.be.a('string');
  });

  it('dynamic client registration (RFC 7591/7592) gated by an initial access token, with the registered client in every admin surface', async () => {
    const noToken = await fetch(`${server.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT_URI] }) });
    expect(noToken.status).to.equal(401);

    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const options = { initialAccessToken: token, execute: [oidc.allowInsecureRequests] };
    const config = await oidc.dynamicClientRegistration(new URL(server.issuer), {
      redirect_uris: [REDIRECT_URI], client_name: 'Self-registered', grant_types: ['authorization_code'], response_types: ['code'],
    }, undefined, options);
    const metadata = config.clientMetadata();
    expect(metadata.client_id).to.be.a('string');
    expect(metadata.scope, 'a default scope, never "everything"').to.equal('openid profile email');
    expect(metadata.registration_access_token).to.be.a('string');

    const stored = await server.services.clients.show(metadata.client_id);
    expect(stored.name).to.equal('Self-registered');
    const tokens = await redeem(config, await authorize(config, user, { scope: 'openid' }));
    expect(tokens.id_token).to.be.a('string');

    for (const bad of [
      { redirect_uris: ['http://evil.example.test/cb'] },
      { redirect_uris: [REDIRECT_URI], scope: 'openid admin' },
      { redirect_uris: [REDIRECT_URI], grant_types: ['password'] },
    ]) {
      const response = await fetch(`${server.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(bad) });
      expect(response.status, JSON.stringify(bad)).to.equal(400);
      expect(((await response.json()) as { error: string }).error).to.be.oneOf(['invalid_redirect_uri', 'invalid_client_metadata']);
    }

    // RFC 7592 §2.3: the client deletes itself, and with it the tokens it holds.
    expect(await server.services.storage.ephemeral.find('AccessToken', tokens.access_token), 'stored while the client lives').to.not.equal(undefined);
    const deleted = await fetch(String(metadata.registration_client_uri), { method: 'DELETE', headers: { authorization: `Bearer ${String(metadata.registration_access_token)}` } });
    expect(deleted.status).to.equal(204);
    expect(await server.services.storage.ephemeral.find('AccessToken', tokens.access_token), 'gone with its client').to.equal(undefined);
    expect(await server.services.clients.show(metadata.client_id).then(() => 'found', (error: Error) => error.name)).to.equal('NotFoundError');
  });

  describe('back-channel logout', () => {
    let listener: Server;
    let received: Promise<string>;
    let logoutUri: string;

    before(async () => {
      received = new Promise((resolve) => {
        listener = createServer((req, res) => {
          let body = '';
          req.on('data', (chunk) => { body += String(chunk); });
          req.on('end', () => { res.statusCode = 200; res.end(); resolve(new URLSearchParams(body).get('logout_token') ?? ''); });
        });
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      logoutUri = `http://127.0.0.1:${(listener.address() as { port: number }).port}/backchannel`;
    });

    after(() => listener.close());

    it('sends a signed logout token to the client when the user signs out', async () => {
      const { client, clientSecret } = await server.services.clients.create({
        name: 'Back-channel RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'], backchannelLogoutUri: logoutUri,
      });
      const config = await discover(server, client.clientId, clientSecret);
      expect(config.serverMetadata().backchannel_logout_supported).to.equal(true);
      const flow = await authorize(config, user, { scope: 'openid' });
      const tokens = await redeem(config, flow);
      const logout = await flow.browser.navigate(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token! }).href);
      await flow.browser.submit(logout, '/session/end/confirm', { logout: 'yes' });

      const logoutToken = await received;
      const { payload } = await jwtVerify(logoutToken, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.issuer, audience: client.clientId });
      expect(payload.events).to.have.property('http://schemas.openid.net/event/backchannel-logout');
      expect(payload.sub).to.equal(tokens.claims()!.sub);
      expect(payload).not.to.have.property('nonce');
    });
  });

  it('refuses registration with a forged initial access token', async () => {
    const response = await fetch(`${server.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer forged-token' }, body: JSON.stringify({ redirect_uris: [REDIRECT_URI] }) });
    expect(response.status).to.equal(401);
    expect(response.headers.get('www-authenticate')).to.match(/invalid_token/);
  });
});

describe('JWT-secured authorization requests and private_key_jwt, through openid-client', () => {
  let server: TestServer;
  const user = { username: `oto-${Date.now()}`, password: 'jar password here' };

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  it('registers a client with its own keys, signs its authorization request (RFC 9101) and authenticates with private_key_jwt (RFC 7523)', async () => {
    const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'rp-key', alg: 'ES256', use: 'sig' };
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const config = await oidc.dynamicClientRegistration(new URL(server.issuer), {
      redirect_uris: [REDIRECT_URI],
      jwks: JSON.parse(JSON.stringify({ keys: [jwk] })) as oidc.JsonValue,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      request_object_signing_alg: 'ES256',
    }, oidc.PrivateKeyJwt({ key: privateKey, kid: 'rp-key' }), { initialAccessToken: token, execute: [oidc.allowInsecureRequests] });
    expect(config.serverMetadata().request_parameter_supported).to.equal(true);

    const verifier = oidc.randomPKCECodeVerifier();
    const url = await oidc.buildAuthorizationUrlWithJAR(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid', state: 'jar-state', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }, { key: privateKey, kid: 'rp-key' });
    expect(url.searchParams.get('request')).to.be.a('string');
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    let page = await browser.navigate(url.href);
    page = await browser.submit(page, '/login', user);
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url), { pkceCodeVerifier: verifier, expectedState: 'jar-state' });
    expect(tokens.id_token).to.be.a('string');

    // A request object signed by another key is refused.
    const other = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const forged = await oidc.buildAuthorizationUrlWithJAR(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }, { key: other.privateKey, kid: 'rp-key' });
    const refused = await fetch(forged, { redirect: 'manual' });
    expect(refused.status === 400 || new URL(refused.headers.get('location') ?? 'x:/').searchParams.get('error') === 'invalid_request_object').to.equal(true);
  });
});
