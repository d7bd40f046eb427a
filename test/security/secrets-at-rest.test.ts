import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { calculateJwkThumbprint, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { SecretsKeyError } from '../../adapters/secrets-at-rest.js';
import type { SqlDatabase } from '../../adapters/sql/database.js';
import { SECRETS_KEY_FILE } from '../../src/config/secrets-key.js';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { startTestServer, storageMode, tempDir, type TestServer } from '../support/server.js';
import { sqlDatabaseOf } from '../../adapters/factory.js';
import { embeddedDataDir } from '../support/embedded-data.js';

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;
const CALLBACK = 'https://secrets-at-rest.example.test/cb';

/** Every row of every table of Gatehouse's schema, as text: what a stolen database dump holds. */
async function dumpDatabase(db: SqlDatabase): Promise<string> {
  const { rows: tables } = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
  );
  expect(tables.map((t) => t.table_name)).to.include.members(['clients', 'keys', 'oidc_payloads', 'accounts', 'audit_events']);
  const parts: string[] = [];
  for (const { table_name: table } of tables) {
    const { rows } = await db.query(`SELECT * FROM "${table.replace(/"/g, '""')}"`);
    parts.push(`${table}: ${JSON.stringify(rows)}`);
  }
  return parts.join('\n');
}

interface Credentials { id: string; secret: string; auth: 'basic' | 'post' }

function clientCredentials(server: TestServer, client: Credentials, scope: string) {
  const form = { grant_type: 'client_credentials', scope };
  return client.auth === 'post'
    ? postForm(`${server.url}/token`, { ...form, client_id: client.id, client_secret: client.secret })
    : postForm(`${server.url}/token`, form, { authorization: basicAuth(client.id, client.secret) });
}

describe('secrets at rest', () => {
  // Kept across restarts: the embedded database and its generated key file live here.
  let dataDir: string;
  let server: TestServer;
  const clients: Record<'standard' | 'admin' | 'northstar' | 'lux' | 'registered', Credentials> = {} as never;
  let rotatedKid: string;
  // Taken as soon as the clients and keys were written, before a restart could convert anything.
  let firstDump: string;
  // The rotated (and the legacy) key sign as soon as they exist: these tests are about storage, not the activation delay.
  const keysSignAtOnce = { SIGNING_KEY_ACTIVATION_DELAY: '0' };

  const restart = async (env: Record<string, string> = {}) => {
    await server.stop();
    server = await startTestServer({ GATEHOUSE_DATA_DIR: dataDir, ...keysSignAtOnce, ...env });
  };

  before(async () => {
    dataDir = storageMode.postgres ? await tempDir('gh-secrets-') : await embeddedDataDir('gh-secrets-');
    server = await startTestServer({ GATEHOUSE_DATA_DIR: dataDir, ...keysSignAtOnce });
    const service = server.services.clients;
    const standard = await service.create({ name: `at-rest standard ${Date.now()}`, grantTypes: ['client_credentials'], scope: ['read'], tokenFormat: 'jwt' });
    clients.standard = { id: standard.client.clientId, secret: standard.clientSecret!, auth: 'basic' };
    const admin = await service.create({ name: `at-rest admin ${Date.now()}`, grantTypes: ['client_credentials'], scope: ['admin'] });
    clients.admin = { id: admin.client.clientId, secret: admin.clientSecret!, auth: 'basic' };
    const adminToken = (await clientCredentials(server, clients.admin, 'admin')).json.access_token as string;

    const northstar = await send(`${server.url}/v2/clients`, {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ title: `at-rest northstar ${Date.now()}`, scope: ['user'] }),
    });
    expect(northstar.status, northstar.text).to.equal(200);
    clients.northstar = { id: northstar.json.data!.client_id as string, secret: northstar.json.data!.client_secret as string, auth: 'basic' };

    const lux = await postJson(`${server.url}/Lux/OAuth2/adjust/`, { client_name: `at-rest lux ${Date.now()}`, redirect_uri: CALLBACK }, { authorization: `Bearer ${adminToken}` });
    expect(lux.status, lux.text).to.equal(200);
    const luxDoc = lux.json.doc as Record<string, string>;
    clients.lux = { id: luxDoc.client_id!, secret: luxDoc.client_secret!, auth: 'basic' };

    // RFC 7591: oidc-provider generates this secret and writes the client through the adapter.
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const registered = await postJson(`${server.url}/reg`, {
      client_name: 'at-rest registered', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post', scope: 'read',
    }, { authorization: `Bearer ${token}` });
    expect(registered.status, registered.text).to.equal(201);
    clients.registered = { id: registered.json.client_id as string, secret: registered.json.client_secret as string, auth: 'post' };

    rotatedKid = (await server.services.keys.rotate()).kid;
    firstDump = await dumpDatabase(sqlDatabaseOf(server.services.storage));
    // Every process signs with the newest key from its next start.
    await restart();
  });

  after(async () => {
    await server?.stop();
    // Passed in as GATEHOUSE_DATA_DIR, so the server leaves it.
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  for (const when of ['as written', 'after a restart'] as const) {
    it(`a database dump alone yields no client secret, private key parameter, cookie key or the SECRETS_KEY (${when})`, async () => {
      await checkDump(when === 'as written' ? firstDump : await dumpDatabase(sqlDatabaseOf(server.services.storage)));
    });
  }

  async function checkDump(dump: string): Promise<void> {
    const privateJwks = (await server.services.keys.privateJwks()).keys;
    expect(privateJwks.map((key) => key.kid)).to.include(rotatedKid);

    // The dump is of the right rows: every client and every key is in it, by id.
    for (const client of Object.values(clients)) expect(dump).to.include(client.id);
    for (const key of privateJwks) expect(dump).to.include(key.kid!);

    // The admin surfaces never show the dashboard's own secret; the store still opens it.
    const dashboardSecret = await server.services.storage.clients.revealSecret('gatehouse-dashboard');
    for (const [name, client] of Object.entries({ ...clients, dashboard: { secret: dashboardSecret! } })) {
      expect(client.secret, name).to.be.a('string').with.length.of.at.least(43);
      expect(dump.includes(client.secret), `${name} client secret in the dump`).to.equal(false);
    }
    for (const key of privateJwks) {
      // RSA keys have all six private members; EC and OKP keys only d.
      for (const member of key.kty === 'RSA' ? PRIVATE_JWK_MEMBERS : ['d'] as const) {
        const value = (key as Record<string, unknown>)[member];
        expect(value, `${key.kid}.${member}`).to.be.a('string');
        expect(dump.includes(value as string), `${key.kid}.${member} in the dump`).to.equal(false);
      }
    }
    for (const secret of server.services.cookieSecrets) expect(dump.includes(secret), 'a cookie key in the dump').to.equal(false);
    if (process.env.SECRETS_KEY) expect(dump.includes(process.env.SECRETS_KEY)).to.equal(false);
  }

  it('the same secrets still authenticate at /token (Basic and post), the stored hash does not, a wrong secret gets invalid_client', async () => {
    for (const [name, client] of Object.entries({ standard: clients.standard, northstar: clients.northstar, registered: clients.registered })) {
      const reply = await clientCredentials(server, client, name === 'northstar' ? 'user' : 'read');
      expect(reply.status, `${name}: ${reply.text}`).to.equal(200);
    }
    // Lux clients only redeem codes: a made-up code gets past client authentication to invalid_grant.
    const lux = await postForm(`${server.url}/token`, { grant_type: 'authorization_code', code: 'made-up', redirect_uri: CALLBACK }, { authorization: basicAuth(clients.lux.id, clients.lux.secret) });
    expect(lux.json.error, lux.text).to.equal('invalid_grant');

    const { rows } = await sqlDatabaseOf(server.services.storage).query<{ client_id: string; secret_hash: string }>(
      'SELECT client_id, secret_hash FROM clients WHERE client_id = ANY($1)', [[clients.standard.id, clients.registered.id]],
    );
    expect(rows).to.have.length(2);
    for (const row of rows) {
      const client = row.client_id === clients.standard.id ? clients.standard : clients.registered;
      expect(row.secret_hash).to.be.a('string');
      for (const wrong of [row.secret_hash, `${client.secret.slice(0, -1)}x`]) {
        const reply = await clientCredentials(server, { ...client, secret: wrong }, 'read');
        expect(reply.status, `secret ${wrong}`).to.equal(401);
        expect(reply.json.error).to.equal('invalid_client');
      }
    }
  });

  it('tokens are signed with the rotated key after the restart and verify with the public JWKS alone', async () => {
    const reply = await clientCredentials(server, clients.northstar, 'user');
    const token = reply.json.access_token as string;
    expect(decodeProtectedHeader(token)).to.include({ alg: 'RS256', kid: rotatedKid });
    const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
    const { payload } = await jwtVerify(token, jwks, { issuer: server.issuer });
    expect(payload.client_id).to.equal(clients.northstar.id);
    const published = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    for (const key of published.keys) for (const member of PRIVATE_JWK_MEMBERS) expect(key).not.to.have.property(member);
  });

  it('Northstar GET and Lux query/ still show the secret again, opened from its sealed copy', async () => {
    const adminToken = (await clientCredentials(server, clients.admin, 'admin')).json.access_token as string;
    const shown = await send(`${server.url}/v2/clients/${clients.northstar.id}`, { method: 'GET', headers: { authorization: `Bearer ${adminToken}` } });
    expect(shown.json.data).to.include({ client_id: clients.northstar.id, client_secret: clients.northstar.secret });
    const luxName = (await server.services.clients.show(clients.lux.id)).name;
    const found = await send(`${server.url}/Lux/OAuth2/query/?client_name=${encodeURIComponent(luxName)}`, { method: 'GET', headers: { authorization: `Bearer ${adminToken}` } });
    expect(found.json.doc).to.be.an('array');
    expect((found.json.doc as Record<string, unknown>[]).find((doc) => doc.client_id === clients.lux.id)).to.include({ client_secret: clients.lux.secret });
  });

  it('discovery offers no method or algorithm that would use a client secret as a key', async () => {
    const metadata = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<string, string[] | undefined>;
    expect(metadata.token_endpoint_auth_methods_supported).to.include.members(['client_secret_basic', 'client_secret_post']).and.not.include('client_secret_jwt');
    for (const field of ['token_endpoint_auth_signing_alg_values_supported', 'request_object_signing_alg_values_supported', 'id_token_signing_alg_values_supported', 'userinfo_signing_alg_values_supported']) {
      for (const alg of metadata[field] ?? []) expect(alg, field).not.to.match(/^HS/);
    }
  });

  it('an existing deployment upgrades: plaintext rows from before 0006 are sealed at start-up, and their client and key keep working', async () => {
    const db = sqlDatabaseOf(server.services.storage);
    const legacySecret = randomBytes(32).toString('base64url');
    const legacyId = `legacy-${randomUUID()}`;
    await db.query('INSERT INTO clients (client_id, metadata) VALUES ($1, $2::jsonb)', [legacyId, JSON.stringify({
      client_id: legacyId, client_name: 'Legacy row', client_secret: legacySecret, grant_types: ['client_credentials'], response_types: [],
      redirect_uris: [], scope: 'read', token_endpoint_auth_method: 'client_secret_basic', access_token_format: 'jwt',
    })]);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = privateKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint({ kty: 'RSA', n: jwk.n!, e: jwk.e! });
    await db.query("INSERT INTO keys (kid, use, alg, material, created_at) VALUES ($1, 'sig', 'RS256', $2::jsonb, clock_timestamp())", [
      kid, JSON.stringify({ ...jwk, kid, alg: 'RS256', use: 'sig' }),
    ]);
    expect(await dumpDatabase(db)).to.include(legacySecret).and.include(jwk.d!);

    await restart();
    const dump = await dumpDatabase(sqlDatabaseOf(server.services.storage));
    expect(dump).to.include(legacyId).and.include(kid);
    expect(dump.includes(legacySecret), 'the legacy secret after the upgrade').to.equal(false);
    for (const member of PRIVATE_JWK_MEMBERS) expect(dump.includes(jwk[member]!), `legacy key ${member} after the upgrade`).to.equal(false);

    const reply = await clientCredentials(server, { id: legacyId, secret: legacySecret, auth: 'basic' }, 'read');
    expect(reply.status, reply.text).to.equal(200);
    const token = reply.json.access_token as string;
    expect(decodeProtectedHeader(token).kid, 'the newest key, inserted as a legacy row, signs').to.equal(kid);
    await jwtVerify(token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.issuer });
  });

  it('a start-up with another SECRETS_KEY stops with an error naming SECRETS_KEY, not with garbage', async () => {
    const wrongKey = randomBytes(32).toString('base64');
    await server.stop();
    let failure: unknown;
    try {
      server = await startTestServer({ GATEHOUSE_DATA_DIR: dataDir, ...keysSignAtOnce, SECRETS_KEY: wrongKey });
    } catch (error) {
      failure = error;
    }
    expect(failure).to.be.instanceOf(SecretsKeyError);
    expect((failure as Error).message).to.match(/^SECRETS_KEY does not match the key the stored secrets were sealed with/);
    expect((failure as Error).message).not.to.include(wrongKey);

    // Nothing was sealed under the wrong key: the right one still opens everything.
    server = await startTestServer({ GATEHOUSE_DATA_DIR: dataDir, ...keysSignAtOnce });
    expect((await clientCredentials(server, clients.standard, 'read')).status).to.equal(200);
  });

  it('without SECRETS_KEY the embedded default generates its key into the data folder, readable by its owner only', async function () {
    if (storageMode.postgres) this.skip(); // with DATABASE_URL, SECRETS_KEY is required (test/config/load.test.ts)
    const info = await stat(join(dataDir, SECRETS_KEY_FILE));
    expect(info.mode & 0o777).to.equal(0o600);
  });
});
