import { expect } from 'chai';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { ValidationError } from '../../src/errors/app-error.js';
import { KEY_REFRESH_INTERVAL_MS } from '../../src/keys/signing-key-refresh.js';
import { basicAuth, postForm } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sleep } from '../support/waiting.js';

// Every server-wide lifetime 1 s (sign-in sessions too, which bound how long
// an ID token is presented as a logout hint: id-token-hint-retirement.test.ts)
// and a rotated key signing at once: by these settings alone, a replaced key
// would be retirable 1 s after its successor (plus the refresh interval in
// which every process starts signing with it).
const SERVER_WIDE = {
  SIGNING_KEY_ACTIVATION_DELAY: '0', ACCESS_TOKEN_TTL: '1', CLIENT_CREDENTIALS_TTL: '1', ID_TOKEN_TTL: '1',
  LOS_ACCESS_TOKEN_TTL: '1', LE_ACCESS_TOKEN_TTL: '1', DOT_ACCESS_TOKEN_TTL: '1', SESSION_TTL: '1',
};
const SERVER_WIDE_SECONDS = 1;

// The suite's other files may share this database (PostgreSQL mode) and
// register longer lifetimes of their own, which only push the bound later:
// each test states what must hold whatever else is registered.
describe('retiring a replaced signing key: the longest token lifetime counts lifetimes set on resource servers and clients', () => {
  let server: TestServer;
  const stamp = Date.now();

  before(async () => {
    server = await startTestServer(SERVER_WIDE);
  });

  after(() => server?.stop());

  const keyOf = async (kid: string, now?: number) => (await server.services.keys.list(now)).find((key) => key.kid === kid)!;

  /**
   * Rotates `alg`, waits until the server-wide lifetimes alone would allow
   * the retirement of `oldKid`, and checks that it is still refused then,
   * with the time it becomes safe: no earlier than `token`'s expiry and the
   * `ownSeconds` lifetime after the successor began signing. Answers when
   * the successor began signing and when the old key becomes retirable.
   */
  async function refusedPastTheServerWideBound(alg: string, oldKid: string, token: string, ownSeconds: number): Promise<{ signsFrom: number; retirableFrom: number }> {
    const successor = await server.services.keys.rotate(alg);
    const signsFrom = Date.parse(successor.signsFrom);
    const replaced = await keyOf(oldKid);
    const retirableFrom = Date.parse(replaced.retirableFrom!);
    expect(retirableFrom, 'not before its own lifetime after the successor signs').to.be.at.least(signsFrom + ownSeconds * 1000 + KEY_REFRESH_INTERVAL_MS);
    expect(retirableFrom, 'not before the token it signed expires').to.be.at.least(decodeJwt(token).exp! * 1000);

    const serverWideBound = signsFrom + SERVER_WIDE_SECONDS * 1000 + KEY_REFRESH_INTERVAL_MS;
    await sleep(Math.max(0, serverWideBound - Date.now()) + 100);
    expect((await keyOf(oldKid)).state).to.equal('retiring');
    const refused = await server.services.keys.retire(oldKid).then(() => undefined, (error: unknown) => error);
    expect(refused).to.be.instanceOf(ValidationError);
    expect((refused as ValidationError).message).to.include(`valid until ${replaced.retirableFrom}`);
    expect((await keyOf(oldKid)).retired).to.equal(false);
    expect((await keyOf(oldKid, retirableFrom - 1)).state).to.equal('retiring');
    expect((await keyOf(oldKid, retirableFrom)).state, 'retirable once the bound has passed').to.equal('retirable');
    return { signsFrom, retirableFrom };
  }

  it('keeps a key while a JWT it signed for a resource server with a longer access_token_ttl may be valid', async () => {
    const uri = `https://reports-${stamp}.example.test/`;
    await server.services.resourceServers.save({ uri, scope: ['read'], tokenFormat: 'jwt', accessTokenTtl: 8, signingAlg: 'ES256' });
    try {
      const { client, clientSecret } = await server.services.clients.create({ name: 'reports job', grantTypes: ['client_credentials'], scope: ['read'] });
      const minted = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read', resource: uri }, { authorization: basicAuth(client.clientId, clientSecret!) });
      const token = minted.json.access_token as string;
      const claims = decodeJwt(token);
      expect(claims.exp! - claims.iat!, 'the resource server’s lifetime').to.equal(8);
      await refusedPastTheServerWideBound('ES256', decodeProtectedHeader(token).kid!, token, 8);
    } finally {
      // So later files sharing the database are not bound by it.
      await server.services.resourceServers.remove(uri);
    }
  });

  it('keeps a key while a JWT it signed through a dialect with a client’s own longer lifetime may be valid; a refresh-token lifetime does not count', async () => {
    const clientId = `le-import-${stamp}`;
    const clientSecret = 'le-import-secret-0123456789-0123456789';
    await server.services.clients.importClient({
      clientId, clientSecret, name: 'imported LE job', public: false, grantTypes: ['client_credentials'], redirectUris: [], scope: ['read'],
      tokenFormat: 'jwt', dialectLifetimes: { clientCredentials: 9, refreshToken: 300_000_000 },
    });
    try {
      const minted = await postForm(`${server.url}/liveexpert/oauth/authorize`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
      const token = minted.json.access_token as string;
      const claims = decodeJwt(token);
      expect(claims.exp! - claims.iat!, 'the client’s own lifetime').to.equal(9);
      const { signsFrom, retirableFrom } = await refusedPastTheServerWideBound('RS256', decodeProtectedHeader(token).kid!, token, 9);
      // Refresh tokens are opaque: their lifetime never holds a key back.
      expect(retirableFrom).to.be.below(signsFrom + 300_000_000 * 1000);
    } finally {
      await server.services.clients.delete(clientId);
    }
  });

  it('reads the clients’ longest own lifetime in one query over the metadata, counting only numbers under the keys asked for', async () => {
    // A property of this test's own, so clients other files left in a shared database do not count.
    const property = `lifetimes_${stamp}`;
    const store = server.services.storage.clients;
    expect(await store.largestMetadataNumber(property, ['accessToken', 'clientCredentials']), 'no client has it').to.equal(0);
    const ids = [`a-${stamp}`, `b-${stamp}`, `c-${stamp}`, `d-${stamp}`];
    await store.insert({ client_id: ids[0]!, client_name: 'a', [property]: { accessToken: 40, refreshToken: 900 } });
    await store.insert({ client_id: ids[1]!, client_name: 'b', [property]: { clientCredentials: 70, accessToken: '5000' } });
    await store.insert({ client_id: ids[2]!, client_name: 'c', [property]: 'not an object' });
    await store.insert({ client_id: ids[3]!, client_name: 'd' });
    try {
      expect(await store.largestMetadataNumber(property, ['accessToken', 'clientCredentials'])).to.equal(70);
      expect(await store.largestMetadataNumber(property, ['accessToken'])).to.equal(40);
    } finally {
      for (const id of ids) await store.delete(id);
    }
  });
});

describe('the key list', () => {
  let server: TestServer;

  before(async () => { server = await startTestServer({ SIGNING_KEY_ACTIVATION_DELAY: '60' }); });
  after(() => server.stop());

  it('lists the first key of each algorithm as signing from its creation (a successor waits out the activation delay)', async () => {
    const keys = await server.services.keys.list();
    for (const alg of new Set(keys.map((key) => key.alg))) {
      const ofAlg = keys.filter((key) => key.alg === alg);
      const first = ofAlg[ofAlg.length - 1]!;
      expect(first.signsFrom, `${alg}: the first key signed at once`).to.equal(first.createdAt);
    }
  });
});
