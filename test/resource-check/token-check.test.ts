import { expect } from 'chai';
import { basicAuth, postForm, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTokenCheck, TokenCheckError } from '../../src/resource-check/token-check.js';

describe('the resource check', () => {
  let server: TestServer;
  let opaque: { id: string; secret: string };
  let jwt: { id: string; secret: string };

  async function token(client: { id: string; secret: string }, scope: string): Promise<string> {
    const reply = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope }, { authorization: basicAuth(client.id, client.secret) });
    return reply.json.access_token as string;
  }

  const whoami = (authorization?: string) => send(`${server.url}/api/whoami`, { method: 'GET', headers: authorization ? { authorization } : {} });

  before(async () => {
    server = await startTestServer({ CLIENT_CREDENTIALS_TTL: '2' });
    const a = await server.services.clients.create({ name: 'opaque', grantTypes: ['client_credentials'], scope: ['read', 'write'] });
    const b = await server.services.clients.create({ name: 'jwt', grantTypes: ['client_credentials'], scope: ['read', 'write'], tokenFormat: 'jwt' });
    opaque = { id: a.client.clientId, secret: a.clientSecret! };
    jwt = { id: b.client.clientId, secret: b.clientSecret! };
  });

  after(() => server.stop());

  it('describes a valid opaque token and a valid JWT access token', async () => {
    for (const client of [opaque, jwt]) {
      const reply = await whoami(`Bearer ${await token(client, 'read')}`);
      expect(reply.status).to.equal(200);
      expect(reply.json).to.deep.equal({ client_id: client.id, sub: null, scope: 'read', token_type: 'Bearer' });
    }
  });

  it('answers a missing token with 401 and a bare challenge (RFC 6750 §3.1)', async () => {
    const reply = await whoami();
    expect(reply.status).to.equal(401);
    expect(reply.headers.get('www-authenticate')).to.equal('Bearer realm="gatehouse"');
  });

  it('answers an unknown scheme, a malformed token, a forged token and a tampered JWT correctly', async () => {
    expect((await whoami('Basic abc')).status).to.equal(401);
    expect((await whoami('Bearer not a token')).status).to.equal(400);
    const forged = await whoami('Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(forged.status).to.equal(401);
    expect(forged.headers.get('www-authenticate')).to.match(/error="invalid_token"/);
    const real = await token(jwt, 'read');
    const [h, p, s] = real.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, scope: 'read write admin' })).toString('base64url')}.${s}`;
    expect((await whoami(`Bearer ${tampered}`)).status).to.equal(401);
  });

  it('answers an expired token with 401 invalid_token, opaque or JWT, although it was accepted (and its signature verified) before', async () => {
    const tokens = [await token(opaque, 'read'), await token(jwt, 'read')];
    for (const value of tokens) expect((await whoami(`Bearer ${value}`)).status, 'accepted while valid').to.equal(200);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    for (const value of tokens) {
      const reply = await whoami(`Bearer ${value}`);
      expect(reply.status).to.equal(401);
      expect(reply.json.error).to.equal('invalid_token');
    }
  });

  it('enforces required scopes with 403 insufficient_scope', async () => {
    const check = server.services.tokenCheck;
    const value = await token(opaque, 'read');
    expect((await check(`Bearer ${value}`, ['read'])).scope).to.deep.equal(['read']);
    try {
      await check(`Bearer ${value}`, ['write']);
      expect.fail('expected insufficient_scope');
    } catch (error) {
      expect(error).to.be.instanceOf(TokenCheckError);
      const err = error as TokenCheckError;
      expect(err.status).to.equal(403);
      expect(err.challenge('api')).to.equal('Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="write"');
    }
  });

  it('verifies JWT access tokens from another process through the published JWKS (remote, cached)', async () => {
    const check = createTokenCheck({ issuer: server.issuer, audience: `${server.issuer}/api`, jwks: new URL(`${server.url}/jwks`) });
    const info = await check(`Bearer ${await token(jwt, 'write')}`, ['write']);
    expect(info).to.include({ clientId: jwt.id, format: 'jwt', tokenType: 'Bearer' });
  });
});
