import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import Koa from 'koa';
import * as oidc from 'openid-client';
import { DPOP_PROOF_ALGS, dpopProofProblem } from '../../src/resource-check/dpop.js';
import { createTokenCheck, requireToken } from '../../src/resource-check/token-check.js';
import { discover } from '../support/oidc.js';
import { basicAuth, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** A DPoP proof (RFC 9449 §4.2) signed by `keys`, for `htm` `htu` and `token`. */
async function dpopProof(keys: CryptoKeyPair, { htm, htu, token }: { htm: string; htu: string; token: string }): Promise<string> {
  return new SignJWT({ htm, htu, jti: randomUUID(), ath: createHash('sha256').update(token).digest('base64url') })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await exportJWK(keys.publicKey) })
    .setIssuedAt()
    .sign(keys.privateKey);
}

/** The parameters of one scheme's challenge in a WWW-Authenticate value (RFC 9110 §11.6.1: quoted strings may hold commas and scheme names). */
function challengeFor(header: string | null, scheme: string): Record<string, string> | undefined {
  const challenges: Array<[string, Record<string, string>]> = [];
  for (const [, param, quoted, bare, name] of (header ?? '').matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))|([\w-]+)/g)) {
    if (name) challenges.push([name, {}]);
    else if (challenges.length) challenges.at(-1)![1][param!] = quoted ?? bare ?? '';
  }
  return challenges.find(([name]) => name === scheme)?.[1];
}

const ALGS = DPOP_PROOF_ALGS.join(' ');

/**
 * What every resource check answers when it refuses a request, in RFC 6750 §3
 * and RFC 9449 §7 terms: the same on Gatehouse's own /api/whoami and on a
 * registered resource server's own check in its own process.
 */
describe('the resource check refuses in RFC 6750 and RFC 9449 terms', () => {
  let server: TestServer;
  let config: oidc.Configuration;
  let whoamiUrl: string;
  let rsWithDpop: { url: string; close(): void };
  let rsBearerOnly: { url: string; close(): void };
  const resource = `https://reports-${Date.now()}.example.test/`;

  /** A resource server as the docs describe one: createTokenCheck over /jwks, requireToken, its own origin. */
  async function resourceServer(dpop: boolean): Promise<{ url: string; close(): void }> {
    const seen = new Set<string>();
    const check = createTokenCheck({
      issuer: server.issuer, audience: resource, jwks: new URL(`${server.url}/jwks`),
      ...(dpop ? { dpopReplay: async (jti: string) => !seen.has(jti) && Boolean(seen.add(jti)) } : {}),
    });
    const app = new Koa();
    app.use(requireToken(check, { origin: resource, scopes: ['read'] }));
    app.use((ctx) => { ctx.body = { client_id: ctx.state.token!.clientId }; });
    const listener = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listener.once('listening', resolve));
    return { url: `http://127.0.0.1:${(listener.address() as AddressInfo).port}/reports`, close: () => listener.close() };
  }

  before(async () => {
    server = await startTestServer();
    await server.services.resourceServers.save({ uri: resource, scope: ['read'], tokenFormat: 'jwt' });
    const { client, clientSecret } = await server.services.clients.create({ name: 'refusals', grantTypes: ['client_credentials'], scope: ['read'] });
    config = await discover(server, client.clientId, clientSecret);
    whoamiUrl = `${server.issuer}/api/whoami`;
    rsWithDpop = await resourceServer(true);
    rsBearerOnly = await resourceServer(false);
  });

  after(async () => {
    rsWithDpop?.close();
    rsBearerOnly?.close();
    await server.services.resourceServers.remove(resource);
    await server.stop();
  });

  const get = (url: string, headers: Record<string, string> = {}) => send(url, { method: 'GET', headers });
  const atWhoami = (headers: Record<string, string> = {}) => get(`${server.url}/api/whoami`, headers);

  describe('without credentials it understands', () => {
    it('GET /api/whoami without a token challenges for Bearer and for DPoP with the proof algorithms, without an error (RFC 9449 §7.2 Figure 17)', async () => {
      const reply = await atWhoami();
      expect(reply.status).to.equal(401);
      expect(reply.headers.get('www-authenticate')).to.equal(`Bearer realm="gatehouse", DPoP realm="gatehouse", algs="${ALGS}"`);
    });

    it('answers no token as oidc-provider’s own /me does: 401, invalid_token in the body, the same DPoP proof algorithms', async () => {
      const [me, whoami] = [await get(config.serverMetadata().userinfo_endpoint!.replace(server.issuer, server.url)), await atWhoami()];
      expect([me.status, me.json.error]).to.deep.equal([401, 'invalid_token']);
      expect([whoami.status, whoami.json.error]).to.deep.equal([me.status, me.json.error]);
      const meAlgs = challengeFor(me.headers.get('www-authenticate'), 'DPoP')?.algs;
      expect(meAlgs, me.headers.get('www-authenticate') ?? '').to.be.a('string');
      expect(challengeFor(whoami.headers.get('www-authenticate'), 'DPoP')?.algs).to.equal(meAlgs);
    });

    it('answers a scheme it does not take (Basic) as a request without a token: 401, a bare challenge, invalid_token in the body (RFC 6750 §3.1)', async () => {
      const none = await atWhoami();
      for (const authorization of ['Basic abc', basicAuth('someone', 'secret'), 'Negotiate abc']) {
        const reply = await atWhoami({ authorization });
        expect(reply.status, authorization).to.equal(401);
        expect(reply.headers.get('www-authenticate'), authorization).to.equal(none.headers.get('www-authenticate'));
        expect(reply.headers.get('www-authenticate'), authorization).not.to.include('error=');
        expect(reply.json.error, authorization).to.equal('invalid_token');
      }
    });

    it('answers a malformed token with 400 invalid_request, status and code agreeing (RFC 6750 §3.1)', async () => {
      const reply = await atWhoami({ authorization: 'Bearer not a token' });
      expect(reply.status).to.equal(400);
      expect(reply.json.error).to.equal('invalid_request');
      expect(challengeFor(reply.headers.get('www-authenticate'), 'Bearer')).to.include({ error: 'invalid_request' });
    });

    it('an invalid Bearer token: the error on the Bearer challenge, then a DPoP challenge with the algorithms (RFC 9449 §7.2 Figure 18)', async () => {
      const reply = await atWhoami({ authorization: 'Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
      expect(reply.status).to.equal(401);
      const header = reply.headers.get('www-authenticate');
      expect(header).to.match(/^Bearer realm="gatehouse", error="invalid_token", /);
      expect(challengeFor(header, 'DPoP')).to.deep.equal({ realm: 'gatehouse', algs: ALGS });
    });
  });

  describe('a DPoP-bound token with a refused proof', () => {
    let keys: CryptoKeyPair;
    let token: string;

    before(async () => {
      keys = await generateKeyPair('ES256');
      ({ access_token: token } = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP: oidc.getDPoPHandle(config, keys) }));
    });

    async function refusal(proof: string) {
      const reply = await atWhoami({ authorization: `DPoP ${token}`, dpop: proof });
      return { status: reply.status, body: reply.json.error, challenge: challengeFor(reply.headers.get('www-authenticate'), 'DPoP') };
    }

    it('is accepted with a good proof (the control)', async () => {
      expect((await atWhoami({ authorization: `DPoP ${token}`, dpop: await dpopProof(keys, { htm: 'GET', htu: whoamiUrl, token }) })).status).to.equal(200);
    });

    it('a replayed proof, a proof for another method (htm) or another URL (htu): 401 invalid_dpop_proof on the DPoP challenge, with the algorithms (RFC 9449 §7.1)', async () => {
      const used = await dpopProof(keys, { htm: 'GET', htu: whoamiUrl, token });
      expect((await atWhoami({ authorization: `DPoP ${token}`, dpop: used })).status).to.equal(200);
      const cases = {
        replayed: used,
        'wrong htm': await dpopProof(keys, { htm: 'POST', htu: whoamiUrl, token }),
        'wrong htu': await dpopProof(keys, { htm: 'GET', htu: `${server.issuer}/api/other`, token }),
      };
      for (const [name, proof] of Object.entries(cases)) {
        const { status, body, challenge } = await refusal(proof);
        expect({ status, body }, name).to.deep.equal({ status: 401, body: 'invalid_dpop_proof' });
        expect(challenge, name).to.include({ realm: 'gatehouse', error: 'invalid_dpop_proof', algs: ALGS });
      }
    });

    it('a sound proof from a key other than the token’s cnf.jkt, or the token sent as Bearer: 401 invalid_token (RFC 9449 §7.1 Figure 16)', async () => {
      const stranger = await generateKeyPair('ES256');
      const { status, body, challenge } = await refusal(await dpopProof(stranger, { htm: 'GET', htu: whoamiUrl, token }));
      expect({ status, body }).to.deep.equal({ status: 401, body: 'invalid_token' });
      expect(challenge).to.include({ error: 'invalid_token', algs: ALGS });
      const asBearer = await atWhoami({ authorization: `Bearer ${token}` });
      expect([asBearer.status, asBearer.json.error]).to.deep.equal([401, 'invalid_token']);
      expect(challengeFor(asBearer.headers.get('www-authenticate'), 'DPoP')).to.include({ error: 'invalid_token', algs: ALGS });
    });
  });

  describe('a registered resource server’s own check answers the same', () => {
    it('with DPoP accepted: the same challenges, the same codes for an unsupported scheme and a replayed proof', async () => {
      const none = await get(rsWithDpop.url);
      expect(none.status).to.equal(401);
      expect(none.headers.get('www-authenticate')).to.equal(`Bearer realm="gatehouse", DPoP realm="gatehouse", algs="${ALGS}"`);
      const basic = await get(rsWithDpop.url, { authorization: 'Basic abc' });
      expect([basic.status, basic.json.error, basic.headers.get('www-authenticate')]).to.deep.equal([401, 'invalid_token', none.headers.get('www-authenticate')]);

      const keys = await generateKeyPair('ES256');
      const { access_token: token } = await oidc.clientCredentialsGrant(config, { scope: 'read', resource }, { DPoP: oidc.getDPoPHandle(config, keys) });
      const proof = await dpopProof(keys, { htm: 'GET', htu: `${resource}reports`, token });
      expect((await get(rsWithDpop.url, { authorization: `DPoP ${token}`, dpop: proof })).status).to.equal(200);
      const replay = await get(rsWithDpop.url, { authorization: `DPoP ${token}`, dpop: proof });
      expect([replay.status, replay.json.error]).to.deep.equal([401, 'invalid_dpop_proof']);
      expect(challengeFor(replay.headers.get('www-authenticate'), 'DPoP')).to.include({ error: 'invalid_dpop_proof', algs: ALGS });
    });

    it('without a DPoP replay guard (so taking no DPoP): challenges for Bearer alone, with or without an error', async () => {
      const none = await get(rsBearerOnly.url);
      expect([none.status, none.headers.get('www-authenticate')]).to.deep.equal([401, 'Bearer realm="gatehouse"']);
      const basic = await get(rsBearerOnly.url, { authorization: 'Basic abc' });
      expect([basic.status, basic.json.error, basic.headers.get('www-authenticate')]).to.deep.equal([401, 'invalid_token', 'Bearer realm="gatehouse"']);
      const forged = await get(rsBearerOnly.url, { authorization: 'Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
      expect(forged.status).to.equal(401);
      expect(forged.headers.get('www-authenticate')).to.match(/^Bearer realm="gatehouse", error="invalid_token", error_description="[^"]+"$/);
    });
  });

  it('a replay guard that cannot answer (its store is down) fails the check as an outage, never as a refused proof', async () => {
    const keys = await generateKeyPair('ES256');
    const { access_token: token } = await oidc.clientCredentialsGrant(config, { scope: 'read', resource }, { DPoP: oidc.getDPoPHandle(config, keys) });
    const url = `${resource}reports`;
    const proof = await dpopProof(keys, { htm: 'GET', htu: url, token });
    const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey));
    const down = new Error('the replay store cannot be reached');
    const outcome = await dpopProofProblem({ proof, method: 'GET', url, accessToken: token, jkt }, async () => { throw down; }).then((refusal) => refusal, (error: unknown) => error);
    expect(outcome).to.equal(down);
    // The same proof with a guard that answers is accepted (the control).
    expect(await dpopProofProblem({ proof, method: 'GET', url, accessToken: token, jkt }, async () => true)).to.equal(undefined);
  });

  it('an admin surface, which takes no DPoP, answers an unsupported scheme as no token too, advertising no DPoP', async () => {
    const none = await get(`${server.url}/v2/clients`);
    const basic = await get(`${server.url}/v2/clients`, { authorization: 'Basic abc' });
    expect(none.status).to.equal(401);
    expect([basic.status, basic.headers.get('www-authenticate')]).to.deep.equal([401, none.headers.get('www-authenticate')]);
    expect(basic.headers.get('www-authenticate')).not.to.match(/error=|DPoP/);
  });
});
