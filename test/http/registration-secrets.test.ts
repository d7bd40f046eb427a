import { expect } from 'chai';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * RFC 7592 client configuration with secrets stored as keyed hashes: the
 * client's secret goes on working through reads and updates, whether or not
 * it sends the secret back, and the stored form never leaves.
 */
describe('client configuration endpoint (RFC 7592) and secrets at rest', () => {
  let server: TestServer;

  before(async () => { server = await startTestServer(); });
  after(() => server.stop());

  async function register() {
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const registered = await postJson(`${server.url}/reg`, {
      redirect_uris: ['https://rp.example.test/cb'], client_name: 'Configured', grant_types: ['authorization_code', 'client_credentials'], response_types: ['code'],
    }, { authorization: `Bearer ${token}` });
    expect(registered.status, registered.text).to.equal(201);
    return registered.json as Record<string, string>;
  }

  const tokenWith = async (clientId: string, secret: string) => (await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(clientId, secret) })).status;
  const update = (client: Record<string, string>, rat: string, body: Record<string, unknown>) => send(client.registration_client_uri!, {
    method: 'PUT', headers: { authorization: `Bearer ${rat}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });

  it('never answers the stored secret on a read or an update; the issued secret goes on working', async () => {
    const client = await register();
    const read = await send(client.registration_client_uri!, { method: 'GET', headers: { authorization: `Bearer ${client.registration_access_token!}` } });
    expect(read.status).to.equal(200);
    const updated = await update(client, client.registration_access_token!, { client_id: client.client_id, redirect_uris: ['https://rp.example.test/cb2'], grant_types: ['authorization_code', 'client_credentials'], response_types: ['code'] });
    expect(updated.status, updated.text).to.equal(200);
    for (const answer of [read, updated]) {
      expect(answer.json, answer.text).not.to.have.property('client_secret');
      expect(answer.text).not.to.include('hmac-sha256');
    }
    expect(await tokenWith(client.client_id!, client.client_secret!)).to.equal(200);
  });

  it('accepts an update that sends the client\'s secret back (RFC 7592 §2.2) and refuses one with a wrong secret, changing nothing', async () => {
    const client = await register();
    const metadata = { client_id: client.client_id, grant_types: ['authorization_code', 'client_credentials'], response_types: ['code'] };
    const wrong = await update(client, client.registration_access_token!, { ...metadata, client_secret: 'not the secret', redirect_uris: ['https://evil.example.test/cb'] });
    expect(wrong.status).to.equal(400);
    expect((wrong.json as { error: string }).error).to.equal('invalid_request');
    const right = await update(client, client.registration_access_token!, { ...metadata, client_secret: client.client_secret, redirect_uris: ['https://rp.example.test/moved'] });
    expect(right.status, right.text).to.equal(200);
    expect((right.json as { redirect_uris: string[] }).redirect_uris).to.deep.equal(['https://rp.example.test/moved']);
    expect((await server.services.clients.show(client.client_id!)).redirectUris).to.deep.equal(['https://rp.example.test/moved']);
    expect(await tokenWith(client.client_id!, client.client_secret!)).to.equal(200);
  });

  it('accepts the client\'s secret back at every spelling of the client\'s URI the provider serves (a trailing slash, another case)', async () => {
    const client = await register();
    let rat = client.registration_access_token!;
    const metadata = { client_id: client.client_id, grant_types: ['authorization_code', 'client_credentials'], response_types: ['code'] };
    const uri = new URL(client.registration_client_uri!);
    for (const spelling of [`${uri.href}/`, `${uri.origin}${uri.pathname.replace('/reg/', '/REG/')}`]) {
      const answer = await send(spelling, { method: 'PUT', headers: { authorization: `Bearer ${rat}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...metadata, client_secret: client.client_secret, redirect_uris: ['https://rp.example.test/cb'] }) });
      expect(answer.status, `${spelling}: ${answer.text}`).to.equal(200);
      rat = (answer.json as { registration_access_token?: string }).registration_access_token ?? rat;
    }
  });

  it('tests no secret without the registration access token: a right and a wrong secret get the same refusal', async () => {
    const client = await register();
    const metadata = { client_id: client.client_id, redirect_uris: ['https://rp.example.test/cb'], grant_types: ['authorization_code', 'client_credentials'], response_types: ['code'] };
    const withRight = await update(client, 'forged', { ...metadata, client_secret: client.client_secret });
    const withWrong = await update(client, 'forged', { ...metadata, client_secret: 'wrong' });
    expect([withRight.status, withRight.text]).to.deep.equal([withWrong.status, withWrong.text]);
    expect(withRight.status).to.equal(401);
  });

  it('compares no secret at all without the client’s registration access token (none, forged, or another client’s)', async () => {
    // A client whose secret came as a slow Django hash: a comparison that proves it replaces the
    // hash (ClientService.adoptProvenSecret), so the stored hash shows whether one was made.
    const secret = 'imported-secret-of-a-legacy-client-0123456789';
    const salt = 'registration-salt';
    const { pbkdf2Sync } = await import('node:crypto');
    const hash = `pbkdf2_sha256$1000$${salt}$${pbkdf2Sync(secret, salt, 1000, 32, 'sha256').toString('base64')}`;
    const clientId = `reg-imported-${Date.now()}`;
    await server.services.clients.importClient({ clientId, name: 'Imported, slow hash', public: false, grantTypes: ['client_credentials'], redirectUris: [], scope: ['read'], clientSecretHash: hash });
    const other = await register();
    const uri = `${server.url}/reg/${clientId}`;
    for (const authorization of [undefined, 'Bearer forged', `Bearer ${other.registration_access_token!}`]) {
      const reply = await send(uri, {
        method: 'PUT', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ client_id: clientId, client_secret: secret, grant_types: ['client_credentials'] }),
      });
      expect(reply.status, `${authorization ?? 'no token'}: ${reply.text}`).to.be.oneOf([400, 401]);
      // Before: the secret was compared first, proved right, and the hash replaced.
      expect((await server.services.storage.clients.storedSecret(clientId)).hash, authorization ?? 'no token').to.equal(hash);
    }
  });

  it('counts a registration token holder’s wrong secrets against the client-authentication limits', async () => {
    const client = await register();
    const metadata = { client_id: client.client_id, redirect_uris: ['https://rp.example.test/cb'], grant_types: ['authorization_code', 'client_credentials'], response_types: ['code'] };
    const statuses: number[] = [];
    for (let i = 0; i < 12; i += 1) statuses.push((await update(client, client.registration_access_token!, { ...metadata, client_secret: `wrong ${i}` })).status);
    // CLIENT_FAILURE_LIMIT (10 by default) wrong secrets refused by the provider, then the limit's 429.
    expect(statuses.slice(0, 10)).to.deep.equal(new Array(10).fill(400));
    expect(statuses.slice(10)).to.deep.equal([429, 429]);
  });

  it('refuses a client secret compared outside any request the limits guard (logged as an error, naming the client)', async () => {
    const client = await register();
    const found = await server.services.provider.Client.find(client.client_id!);
    const compare = (found as unknown as { compareClientSecret(secret: string): Promise<boolean> | boolean }).compareClientSecret.bind(found);
    // The right secret: a comparison no guard counts would be an oracle, so it proves nothing.
    expect(await compare(client.client_secret!)).to.equal(false);
    expect(await tokenWith(client.client_id!, client.client_secret!), 'the same secret through a guarded route').to.equal(200);
  });
});
