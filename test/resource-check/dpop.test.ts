import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { expect } from 'chai';
import { DPOP_PROOF_ALGS } from '../../src/resource-check/dpop.js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { discover } from '../support/oidc.js';
import { send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('DPoP (RFC 9449): sender-constrained tokens at the resource check', () => {
  let server: TestServer;
  const configs: Record<string, oidc.Configuration> = {};

  before(async () => {
    server = await startTestServer();
    for (const format of ['opaque', 'jwt'] as const) {
      const { client, clientSecret } = await server.services.clients.create({ name: `dpop ${format}`, grantTypes: ['client_credentials'], scope: ['read'], tokenFormat: format });
      configs[format] = await discover(server, client.clientId, clientSecret);
    }
  });

  after(() => server.stop());

  for (const format of ['opaque', 'jwt'] as const) {
    it(`accepts a DPoP-bound ${format} token only with a fresh proof from the bound key`, async () => {
      const config = configs[format]!;
      // Discovery advertises exactly the proof algorithms the resource check verifies.
      expect(config.serverMetadata().dpop_signing_alg_values_supported).to.deep.equal([...DPOP_PROOF_ALGS]);
      const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP });
      expect(tokens.token_type.toLowerCase()).to.equal('dpop');
      // htu names the issuer's URL, whatever address the request reached (RFC 9449 §4.3).
      const whoami = new URL(`${server.issuer}/api/whoami`);

      const ok = await oidc.fetchProtectedResource(config, tokens.access_token, whoami, 'GET', undefined, undefined, { DPoP });
      expect(ok.status).to.equal(200);
      expect(await ok.json()).to.include({ token_type: 'DPoP', scope: 'read' });

      // As a plain bearer token: refused.
      const bearer = await send(whoami.href, { method: 'GET', headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(bearer.status).to.equal(401);
      expect(bearer.headers.get('www-authenticate')).to.match(/^DPoP /);

      // A proof from another key, and a replayed proof: refused.
      const stranger = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
      const refused = await oidc.fetchProtectedResource(config, tokens.access_token, whoami, 'GET', undefined, undefined, { DPoP: stranger })
        .then((r) => r.status, (error: { response?: Response }) => error.response?.status);
      expect(refused).to.equal(401);
      let proof = '';
      const capture: oidc.CustomFetch = async (url, options) => {
        proof = new Headers(options.headers as HeadersInit).get('dpop') ?? '';
        return fetch(url, options as RequestInit);
      };
      config[oidc.customFetch] = capture;
      expect((await oidc.fetchProtectedResource(config, tokens.access_token, whoami, 'GET', undefined, undefined, { DPoP })).status).to.equal(200);
      delete config[oidc.customFetch];
      const replay = await send(whoami.href, { method: 'GET', headers: { authorization: `DPoP ${tokens.access_token}`, dpop: proof } });
      expect(replay.status).to.equal(401);
      expect(replay.json.error_description).to.match(/already used/);
    });
  }
});

describe('DPoP htu is judged against the issuer’s URL, never the Host header (issue 15 L2)', () => {
  let server: TestServer;
  let config: oidc.Configuration;

  before(async () => {
    server = await startTestServer();
    const { client, clientSecret } = await server.services.clients.create({ name: 'dpop host', grantTypes: ['client_credentials'], scope: ['read'] });
    config = await discover(server, client.clientId, clientSecret);
  });

  after(() => server.stop());

  /** A proof for `htu`, sent to this server's listener with `host` as the Host header. */
  async function present(keys: CryptoKeyPair, token: string, htu: string, host: string) {
    const jwk = await exportJWK(keys.publicKey);
    const proof = await new SignJWT({ htm: 'GET', htu, jti: randomUUID(), ath: createHash('sha256').update(token).digest('base64url') })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk }).setIssuedAt().sign(keys.privateKey);
    return new Promise<number>((resolve, reject) => {
      request(`${server.url}/api/whoami`, { headers: { host, authorization: `DPoP ${token}`, dpop: proof } }, (response) => {
        response.resume().on('end', () => resolve(response.statusCode ?? 0));
      }).on('error', reject).end();
    });
  }

  it('accepts a proof for the issuer’s URL whatever Host was sent, and refuses one for the Host the sender chose', async () => {
    const keys = await generateKeyPair('ES256');
    const DPoP = oidc.getDPoPHandle(config, keys);
    const { access_token: token } = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP });
    expect(await present(keys, token, `${server.issuer}/api/whoami`, 'evil.example.test')).to.equal(200);
    expect(await present(keys, token, 'http://evil.example.test/api/whoami', 'evil.example.test')).to.equal(401);
    expect(await present(keys, token, `${server.url}/api/whoami`, new URL(server.url).host)).to.equal(401);
  });
});

/**
 * The replay guard remembers each proof's `jti` (RFC 9449 §11.1), which the
 * client chooses: any length, any characters. What is stored is a digest of
 * it, so no `jti` is too long for the store's key, nor holds a character the
 * store cannot keep; each proof is judged as any other.
 */
describe('DPoP proof ids (jti) of any length or content at the resource check', () => {
  let server: TestServer;
  let config: oidc.Configuration;
  const whoami = () => `${server.issuer}/api/whoami`;

  before(async () => {
    server = await startTestServer();
    const { client, clientSecret } = await server.services.clients.create({ name: 'dpop jti', grantTypes: ['client_credentials'], scope: ['read'] });
    config = await discover(server, client.clientId, clientSecret);
  });

  after(() => server.stop());

  /** A DPoP-bound token and a sound proof for it at /api/whoami, with `jti` as given. */
  async function boundTokenAndProof(jti: string | undefined) {
    const keys = await generateKeyPair('ES256');
    const { access_token: token } = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP: oidc.getDPoPHandle(config, keys) });
    const proof = await new SignJWT({ htm: 'GET', htu: whoami(), jti, ath: createHash('sha256').update(token).digest('base64url') })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await exportJWK(keys.publicKey) }).setIssuedAt().sign(keys.privateKey);
    return { authorization: `DPoP ${token}`, dpop: proof };
  }

  const present = (headers: Record<string, string>) => send(`${server.url}/api/whoami`, { method: 'GET', headers });

  for (const [what, jti] of [
    ['4000 random characters (longer than any index key)', randomBytes(3000).toString('base64url')],
    ['a NUL character (which no text column can hold)', `proof\u0000${randomUUID()}`],
  ] as const) {
    it(`accepts a proof whose jti is ${what} once, and refuses its replay with 401 invalid_dpop_proof`, async () => {
      const headers = await boundTokenAndProof(jti);
      const first = await present(headers);
      expect(first.status, first.text).to.equal(200);
      const replay = await present(headers);
      expect(replay.status, replay.text).to.equal(401);
      expect(replay.json.error).to.equal('invalid_dpop_proof');
      expect(replay.json.error_description).to.match(/already used/);
      expect(replay.headers.get('www-authenticate')).to.match(/DPoP\b.*error="invalid_dpop_proof"/);
    });
  }

  it('refuses a proof without a jti, or with an empty one, as malformed: 401 invalid_dpop_proof', async () => {
    for (const jti of [undefined, '']) {
      const reply = await present(await boundTokenAndProof(jti));
      expect(reply.status, `${JSON.stringify(jti)}: ${reply.text}`).to.equal(401);
      expect(reply.json.error).to.equal('invalid_dpop_proof');
      expect(reply.json.error_description, JSON.stringify(jti)).to.equal('malformed DPoP proof');
    }
  });
});
