import { expect } from 'chai';
import { discover, redeem, authorize, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

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
