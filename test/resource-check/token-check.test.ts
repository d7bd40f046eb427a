import { expect } from 'chai';
import { basicAuth, postForm, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { decodeProtectedHeader, exportJWK, generateKeyPair, type JSONWebKeySet, SignJWT } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenCheck, SigningKeysUnavailableError, TokenCheckError } from '../../src/resource-check/token-check.js';
import { eventually } from '../support/waiting.js';

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

  it('answers a missing token with 401 and bare challenges, Bearer and DPoP (RFC 6750 §3.1, RFC 9449 §7.2)', async () => {
    const reply = await whoami();
    expect(reply.status).to.equal(401);
    expect(reply.headers.get('www-authenticate')).to.match(/^Bearer realm="gatehouse", DPoP realm="gatehouse", algs="[^"]+"$/);
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

describe('verified JWT access tokens and the signing keys that verified them', () => {
  const issuer = 'https://issuer.example.test';
  const audience = `${issuer}/api`;

  async function signingKey(kid: string) {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    return { privateKey, jwk: { ...await exportJWK(publicKey), kid, alg: 'ES256', use: 'sig' } };
  }

  function accessToken(key: { privateKey: CryptoKey; jwk: { kid: string } }, claims: Record<string, unknown>, omit: string[] = []) {
    const now = Math.floor(Date.now() / 1000);
    const all: Record<string, unknown> = { client_id: 'rs-client', scope: 'read', jti: `jti-${Math.random()}`, iat: now, exp: now + 600, aud: audience, ...claims };
    for (const name of omit) delete all[name];
    return new SignJWT(all).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.jwk.kid }).setIssuer(issuer).sign(key.privateKey);
  }

  async function refused(check: ReturnType<typeof createTokenCheck>, token: string): Promise<number> {
    try {
      await check(`Bearer ${token}`);
    } catch (error) {
      expect(error).to.be.instanceOf(TokenCheckError);
      return (error as TokenCheckError).status;
    }
    return 200;
  }

  it('refuses, at once, a token it accepted before once the key that signed it is gone from the set', async () => {
    const [kept, retired] = [await signingKey('kept'), await signingKey('retired')];
    let jwks: JSONWebKeySet = { keys: [kept.jwk, retired.jwk] };
    const check = createTokenCheck({ issuer, audience, jwks: async () => jwks });
    const [byRetired, byKept] = [await accessToken(retired, {}), await accessToken(kept, {})];
    expect(await refused(check, byRetired)).to.equal(200);
    expect(await refused(check, byKept)).to.equal(200);
    jwks = { keys: [kept.jwk] };
    expect(await refused(check, byRetired), 'verified before, by a key since retired').to.equal(401);
    expect(await refused(check, byKept), 'its own key is still there').to.equal(200);
  });

  it('refuses a JWT access token without exp, iat, jti or client_id, although its signature is good (RFC 9068 §2.2)', async () => {
    const key = await signingKey('k1');
    const check = createTokenCheck({ issuer, audience, jwks: async () => ({ keys: [key.jwk] }) });
    expect(await refused(check, await accessToken(key, {}))).to.equal(200);
    for (const claim of ['exp', 'iat', 'jti', 'client_id']) {
      expect(await refused(check, await accessToken(key, {}, [claim])), `without ${claim}`).to.equal(401);
    }
  });

  it('in a running server: a JWT it accepted is refused once its signing key is force-retired, without a restart', async function () {
    this.timeout(60_000);
    const server = await startTestServer();
    try {
      const created = await server.services.clients.create({ name: 'retired key', grantTypes: ['client_credentials'], scope: ['read'], tokenFormat: 'jwt' });
      const auth = { authorization: basicAuth(created.client.clientId, created.clientSecret!) };
      const mint = async () => (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, auth)).json.access_token as string;
      const whoami = async (token: string) => (await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status;
      const before = await mint();
      const oldKid = decodeProtectedHeader(before).kid!;
      expect(await whoami(before)).to.equal(200);
      await server.services.keys.rotate(decodeProtectedHeader(before).alg);
      await server.services.keys.retire(oldKid, { force: true });
      // Every process reads the key store every 2 s.
      await eventually(async () => !(await (await fetch(`${server.url}/jwks`)).json() as JSONWebKeySet).keys.some((key) => key.kid === oldKid), 10_000);
      expect(await whoami(before), 'signed by the retired key, accepted before').to.equal(401);
      const after = await mint();
      expect(decodeProtectedHeader(after).kid).not.to.equal(oldKid);
      expect(await whoami(after)).to.equal(200);
    } finally {
      await server.stop();
    }
  });
});

describe('a resource check whose issuer’s keys cannot be fetched', () => {
  const issuer = 'https://issuer.example.test';
  const audience = `${issuer}/api`;
  let jwksServer: Server;
  let answer: (res: import('node:http').ServerResponse) => void;
  let jwksUrl: URL;
  let token: string;
  let jwks: JSONWebKeySet;

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    jwks = { keys: [{ ...await exportJWK(publicKey), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    const now = Math.floor(Date.now() / 1000);
    token = await new SignJWT({ client_id: 'rs-client', scope: 'read', jti: 'jti-1', iat: now, exp: now + 600, aud: audience })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' }).setIssuer(issuer).sign(privateKey);
    jwksServer = createServer((_req, res) => answer(res));
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = new URL(`http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`);
  });

  after(() => new Promise((resolve) => jwksServer.close(resolve)));

  async function outcome(check: ReturnType<typeof createTokenCheck>, presented = token): Promise<unknown> {
    try {
      return await check(`Bearer ${presented}`);
    } catch (error) {
      return error;
    }
  }

  it('says it cannot judge the token (503), rather than that the token is invalid, while the key set answers an error or is not one', async () => {
    for (const [what, reply] of [
      ['500', (res: import('node:http').ServerResponse) => { res.writeHead(500).end('down'); }],
      ['not JSON', (res: import('node:http').ServerResponse) => { res.writeHead(200, { 'content-type': 'application/json' }).end('<html>'); }],
    ] as const) {
      answer = reply;
      const error = await outcome(createTokenCheck({ issuer, audience, jwks: jwksUrl }));
      expect(error, what).to.be.instanceOf(SigningKeysUnavailableError);
      expect(error).to.include({ status: 503, code: 'temporarily_unavailable' });
    }
  });

  it('says the same when nothing listens at the key set’s address', async () => {
    const nowhere = createServer();
    await new Promise<void>((resolve) => nowhere.listen(0, '127.0.0.1', resolve));
    const url = new URL(`http://127.0.0.1:${(nowhere.address() as AddressInfo).port}/jwks`);
    await new Promise((resolve) => nowhere.close(resolve));
    expect(await outcome(createTokenCheck({ issuer, audience, jwks: url }))).to.be.instanceOf(SigningKeysUnavailableError);
  });

  it('still refuses a token as invalid (401) when the key set answers and has no key for it, and accepts a good one', async () => {
    answer = (res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)); };
    const check = createTokenCheck({ issuer, audience, jwks: jwksUrl });
    expect(await outcome(check)).to.include({ clientId: 'rs-client', format: 'jwt' });
    const foreign = `${token.split('.')[0]!.replace(/.$/, 'A')}.${token.split('.')[1]}.${token.split('.')[2]}`;
    const refused = await outcome(check, foreign);
    expect(refused).to.be.instanceOf(TokenCheckError);
    expect(refused).to.include({ status: 401 });
  });
});
