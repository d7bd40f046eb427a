import { expect } from 'chai';
import * as oidc from 'openid-client';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { postJson } from '../support/http.js';
import { authorizationUrl, discover, frontChannel, redeem, authorize, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CHALLENGE = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

/** Whether an authorization request with this redirect URI goes on to sign-in (true) or is refused with an error page, never redirecting (false). */
async function redirectAccepted(server: TestServer, clientId: string, redirectUri: string): Promise<boolean> {
  const reply = await frontChannel(authorizationUrl(server, { client_id: clientId, response_type: 'code', scope: 'openid', state: 'st', redirect_uri: redirectUri, ...CHALLENGE }));
  if (reply.location?.pathname.startsWith('/interaction/')) return true;
  expect(reply.status, `${redirectUri}: ${reply.status} ${reply.location?.href ?? reply.html.slice(0, 200)}`).to.equal(400);
  expect(reply.location, redirectUri).to.equal(null);
  return false;
}

/**
 * RFC 8252 native apps, made in Gatehouse's admin surfaces (which describe a
 * client as public or confidential with its redirect URIs): a public client
 * whose redirect URIs are loopback http or a private-use scheme is taken for
 * a native app, so any loopback port is accepted at run time (RFC 8252 §7.3,
 * RFC 9700 §4.1.3) and private-use schemes can be registered at all.
 */
describe('native apps (RFC 8252) registered by an administrator', () => {
  let server: TestServer;
  const user = { username: `native-${Date.now()}`, password: 'native app password' };

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create(user);
  });
  after(() => server.stop());

  it('registers a private-use scheme and loopback redirect URIs, and redeems a code sent to a loopback port chosen at run time', async () => {
    const { client } = await server.services.clients.create({
      name: 'Desktop app', grantTypes: ['authorization_code', 'refresh_token'], public: true, scope: ['openid', 'offline_access'],
      redirectUris: ['http://127.0.0.1/callback', 'com.example.desktop:/callback'],
    });
    const config = await discover(server, client.clientId);
    const redirectUri = 'http://127.0.0.1:51004/callback';
    const tokens = await redeem(config, await authorize(config, user, { scope: 'openid', redirectUri }), { redirect_uri: redirectUri });
    expect(tokens.id_token).to.be.a('string');
  });

  it('still holds a web client to its exact redirect URIs: no port of its own choosing, no private-use scheme', async () => {
    const { client } = await server.services.clients.create({
      name: 'Local web app', grantTypes: ['authorization_code'], scope: ['openid'],
      redirectUris: ['http://127.0.0.1/callback'],
    });
    const refused = await fetch(`${server.url}/auth?${new URLSearchParams({
      client_id: client.clientId, response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:51004/callback', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
    })}`, { redirect: 'manual' });
    expect(refused.status).to.equal(400);
    const publicWeb = await server.services.clients.create({ name: 'SPA', grantTypes: ['authorization_code'], public: true, scope: ['openid'], redirectUris: [REDIRECT_URI] });
    const spaRefused = await fetch(`${server.url}/auth?${new URLSearchParams({
      client_id: publicWeb.client.clientId, response_type: 'code', scope: 'openid', redirect_uri: 'https://rp.example.test:8443/callback', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
    })}`, { redirect: 'manual' });
    expect(spaRefused.status).to.equal(400);
    const mixed = await server.services.clients.create({ name: 'Confidential', grantTypes: ['authorization_code'], scope: ['openid'], redirectUris: ['com.example.other:/cb'] })
      .then(() => 'created', (error: Error) => error.name);
    expect(mixed, 'a confidential client is a web client: no private-use scheme').to.equal('ValidationError');
  });
});

/**
 * RFC 7591 registration: what kind of application a client is, and so
 * whether a loopback redirect may change its port, is derived from its
 * metadata as for every other client, never taken from the
 * `application_type` it states (RFC 7591 §2: the server may replace a
 * requested value; the response says which was registered).
 */
describe('native apps that register themselves (RFC 7591)', () => {
  let server: TestServer;
  const user = { username: `native-reg-${Date.now()}`, password: 'native registration password' };

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create(user);
  });
  after(() => server.stop());

  const register = async (metadata: Record<string, unknown>) => {
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    return postJson(`${server.url}/reg`, { scope: 'openid', ...metadata }, { authorization: `Bearer ${token}` });
  };

  it('takes a public client with a loopback IP redirect URI for a native app whatever it says, and redeems a code sent to a port chosen at run time', async () => {
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const config = await oidc.dynamicClientRegistration(new URL(server.issuer), {
      application_type: 'web', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1/callback'], scope: 'openid',
    }, oidc.None(), { initialAccessToken: token, execute: [oidc.allowInsecureRequests] });
    expect(config.clientMetadata().application_type).to.equal('native');
    const redirectUri = 'http://127.0.0.1:51005/callback';
    const tokens = await redeem(config, await authorize(config, user, { scope: 'openid', redirectUri }), { redirect_uri: redirectUri });
    expect(tokens.id_token).to.be.a('string');
  });

  const heldExactly: Array<[string, Record<string, unknown>, string, string]> = [
    ['a confidential client', { token_endpoint_auth_method: 'client_secret_basic', redirect_uris: ['http://127.0.0.1/cb'] }, 'http://127.0.0.1/cb', 'http://127.0.0.1:9999/cb'],
    ['a confidential client (the default authentication method)', { redirect_uris: ['http://[::1]/cb'] }, 'http://[::1]/cb', 'http://[::1]:9999/cb'],
    ['a public client with loopback and https redirect URIs', { token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1/cb', REDIRECT_URI] }, 'http://127.0.0.1/cb', 'http://127.0.0.1:9999/cb'],
  ];
  for (const [what, metadata, registered, otherPort] of heldExactly) {
    it(`registers ${what} that says it is native as a web client, held to its redirect URIs exactly`, async () => {
      const reply = await register({ application_type: 'native', ...metadata });
      expect(reply.status, reply.text).to.equal(201);
      const clientId = reply.json.client_id as string;
      expect(await redirectAccepted(server, clientId, registered), 'the registered URI (the control)').to.equal(true);
      expect(await redirectAccepted(server, clientId, otherPort)).to.equal(false);
      expect(reply.json.application_type, 'the answer says what was registered (RFC 7591 §3.2.1)').to.equal('web');
    });
  }

  it('refuses a private-use scheme to a confidential client that says it is native, with invalid_redirect_uri', async () => {
    const reply = await register({ application_type: 'native', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: ['com.example.app:/cb'] });
    expect(reply.status, reply.text).to.equal(400);
    expect(reply.json.error).to.equal('invalid_redirect_uri');
    expect(reply.json.error_description).to.include('com.example.app:/cb is a private-use scheme, which only a native app may register');
  });

  it('reads a client stored as native by an earlier registration as its metadata makes it', async () => {
    const stamp = Date.now();
    await server.services.storage.clients.insert({
      client_id: `stored-native-confidential-${stamp}`, client_name: 'Old native', client_secret: 'stored native confidential secret', client_id_issued_at: Math.floor(stamp / 1000),
      application_type: 'native', token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: ['http://127.0.0.1/cb'], scope: 'openid',
    });
    const clientId = `stored-native-confidential-${stamp}`;
    expect(await redirectAccepted(server, clientId, 'http://127.0.0.1/cb'), 'the registered URI (the control)').to.equal(true);
    expect(await redirectAccepted(server, clientId, 'http://127.0.0.1:9999/cb')).to.equal(false);
    // One whose private-use scheme only a native app may have is refused as a client that is not valid, never a 500.
    await server.services.storage.clients.insert({
      client_id: `stored-native-scheme-${stamp}`, client_name: 'Old native scheme', client_secret: 'stored native scheme secret long enough', client_id_issued_at: Math.floor(stamp / 1000),
      application_type: 'native', token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: ['com.example.old:/cb'], scope: 'openid',
    });
    expect(await redirectAccepted(server, `stored-native-scheme-${stamp}`, 'com.example.old:/cb')).to.equal(false);
  });
});
