import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);

describe('Northstar client admin API (/v2)', () => {
  let server: TestServer;
  const tokens: Record<string, string> = {};
  let tokenClient: { id: string; secret: string };

  async function password(username: string, pw: string, scope: string): Promise<string> {
    const reply = await postForm(`${server.url}/token`, { grant_type: 'password', username, password: pw, scope }, { authorization: basicAuth(tokenClient.id, tokenClient.secret) });
    expect(reply.status, reply.text).to.equal(200);
    return reply.json.access_token as string;
  }

  const api = (method: string, path: string, token?: string, body?: unknown) => send(`${server.url}/v2${path}`, {
    method,
    headers: { accept: 'application/json', 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

  before(async () => {
    server = await startTestServer();
    const { clients, accounts } = server.services;
    const admin = await clients.create({ name: 'Admin job', grantTypes: ['client_credentials'], scope: ['admin'] });
    tokens.admin = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: basicAuth(admin.client.clientId, admin.clientSecret!) })).json.access_token as string;
    const app = await clients.create({ name: 'Northstar app', grantTypes: ['password', 'refresh_token'], scope: ['user', 'role:admin'] });
    tokenClient = { id: app.client.clientId, secret: app.clientSecret! };
    const stamp = Date.now();
    await accounts.create({ username: `boss-${stamp}`, password: 'admin password!', roles: ['admin'] });
    await accounts.create({ username: `pleb-${stamp}`, password: 'plain password!' });
    tokens.roleAdminWithAdmin = await password(`boss-${stamp}`, 'admin password!', 'role:admin');
    tokens.roleAdminWithUser = await password(`pleb-${stamp}`, 'plain password!', 'role:admin');
    tokens.user = await password(`pleb-${stamp}`, 'plain password!', 'user');
  });

  after(() => server.stop());

  describe('authorization, exactly as the document says', () => {
    const routes: Array<[string, string]> = [['GET', '/clients'], ['GET', '/key'], ['POST', '/clients'], ['GET', '/clients/x'], ['PUT', '/clients/x'], ['DELETE', '/clients/x']];
    for (const [method, path] of routes) {
      it(`${method} ${path}: 401 without or with a bad token, 403 for a user token or role:admin of a plain user`, async () => {
        const none = await api(method, path);
        expect(none.status).to.equal(401);
        expect(none.headers.get('www-authenticate')).to.match(/^Bearer realm="northstar"/);
        expect(none.json.error).to.have.property('code', 401);
        expect((await api(method, path, 'bogus-token-value')).status).to.equal(401);
        expect((await api(method, path, tokens.user)).status).to.equal(403);
        const plain = await api(method, path, tokens.roleAdminWithUser);
        expect(plain.status).to.equal(403);
        expect(plain.json.error).to.include({ code: 403 });
      });
    }

    it('takes the token alone, with no scheme, as the document’s examples send it (Authorization: ${ACCESS_TOKEN})', async () => {
      const bare = (method: string, path: string, value: string | undefined) => send(`${server.url}/v2${path}`, { method, headers: { accept: 'application/json', authorization: value ?? '' } });
      expect((await bare('GET', '/clients', tokens.admin)).status).to.equal(200);
      expect((await bare('GET', '/key', tokens.roleAdminWithAdmin)).status).to.equal(200);
      // The same rules as with the scheme.
      expect((await bare('GET', '/clients', tokens.user)).status).to.equal(403);
      expect((await bare('GET', '/clients', 'bogus-token-value')).status).to.equal(401);
      expect((await bare('GET', '/clients', `Basic ${tokens.admin}`)).status).to.equal(401);
    });

    it('lets an admin-scope token and role:admin with an admin user in', async () => {
      expect((await api('GET', '/clients', tokens.admin)).status).to.equal(200);
      expect((await api('GET', '/clients', tokens.roleAdminWithAdmin)).status).to.equal(200);
      expect((await api('GET', '/key', tokens.roleAdminWithAdmin)).status).to.equal(200);
    });
  });

  it('GET /v2/scopes is public and lists the registry with descriptions and warnings as the document does', async () => {
    const reply = await api('GET', '/scopes');
    expect(reply.status).to.equal(200);
    expect(reply.json['role:admin']).to.deep.equal({ description: 'Allows this client to act as an administrator if the user has that role.', warning: true });
    expect(reply.json['role:staff']).to.deep.equal({ description: 'Allows this client to act as a staff member if the user has that role.' });
    expect(reply.json.admin).to.deep.equal({ description: 'Grant administrative privileges to this token, whether or not the user has the admin role.', warning: true });
    expect(reply.json.user).to.deep.equal({ description: "Allows actions to be made on a user's behalf." });
  });

  it('creates a client from the document’s example and shows it the documented way', async () => {
    const id = `test-application-${Date.now()}`;
    const created = await api('POST', '/clients', tokens.admin, { title: 'Test Application', description: 'An example app.', client_id: id, scope: ['user'] });
    expect(created.status).to.equal(200);
    const data = created.json.data!;
    expect(Object.keys(data)).to.deep.equal(['title', 'description', 'client_id', 'client_secret', 'scope', 'refresh_tokens', 'updated_at', 'created_at']);
    expect(data).to.include({ title: 'Test Application', description: 'An example app.', client_id: id, refresh_tokens: 0 });
    expect(data.scope).to.deep.equal(['user']);
    expect(data.client_secret).to.be.a('string').with.length.of.at.least(32);
    expect(data.created_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);

    const shown = await api('GET', `/clients/${id}`, tokens.admin);
    expect(shown.json.data).to.deep.equal(data);
    const updated = await api('PUT', `/clients/${id}`, tokens.admin, { scope: ['admin', 'user'] });
    expect(updated.json.data).to.include({ client_secret: data.client_secret, title: 'Test Application' });
    expect(updated.json.data!.scope).to.deep.equal(['admin', 'user']);
  });

  it('answers validation problems with 422 and the offending fields, changing nothing', async () => {
    const id = `dup-${Date.now()}`;
    await api('POST', '/clients', tokens.admin, { title: 'First', client_id: id, scope: ['user'] });
    const cases: Array<[unknown, string]> = [
      [{ title: 'Again', client_id: id, scope: ['user'] }, 'client_id'],
      [{ title: 'Bad scope', scope: ['user', 'superpowers'] }, 'scope'],
      [{ description: 'no title', scope: ['user'] }, 'title'],
      [{ title: 42, scope: ['user'] }, 'title'],
      [{ title: 'No scope array', scope: 'user' }, 'scope'],
    ];
    const before = (await api('GET', '/clients?limit=100', tokens.admin)).json.meta!.pagination as { total: number };
    for (const [body, field] of cases) {
      const reply = await api('POST', '/clients', tokens.admin, body);
      expect(reply.status, JSON.stringify(body)).to.equal(422);
      expect(reply.json.error).to.have.property('fields').that.has.property(field);
    }
    const after = (await api('GET', '/clients?limit=100', tokens.admin)).json.meta!.pagination as { total: number };
    expect(after.total).to.equal(before.total);
    expect((await api('PUT', `/clients/${id}`, tokens.admin, { client_secret: 'mine now' })).status).to.equal(422);
    expect((await api('PUT', '/clients/no-such-client', tokens.admin, { title: 'x' })).status).to.equal(404);
    const malformed = await send(`${server.url}/v2/clients`, { method: 'POST', headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' }, body: '{"title":' });
    expect(malformed.status).to.equal(400);
    expect(malformed.json.error).to.have.property('code', 400);
  });

  it('paginates: defaults, limits, last page, out of range and absurd values', async () => {
    for (let i = 0; i < 3; i += 1) await api('POST', '/clients', tokens.admin, { title: `Page filler ${i}`, scope: ['user'] });
    const first = await api('GET', '/clients', tokens.admin);
    const p = first.json.meta!.pagination as Record<string, unknown>;
    expect(p.per_page).to.equal(20);
    expect(p.current_page).to.equal(1);
    const total = p.total as number;
    const two = await api('GET', '/clients?limit=2&page=1', tokens.admin);
    const meta = two.json.meta!.pagination as Record<string, unknown>;
    expect(meta).to.include({ count: 2, per_page: 2, total_pages: Math.ceil(total / 2) });
    expect(meta.links).to.have.property('next');
    const last = await api('GET', `/clients?limit=2&page=${Math.ceil(total / 2)}`, tokens.admin);
    expect((last.json.meta!.pagination as Record<string, unknown>).links).not.to.have.property('next');
    const beyond = await api('GET', '/clients?limit=2&page=9999', tokens.admin);
    expect(beyond.status).to.equal(200);
    expect(beyond.json.data).to.deep.equal([]);
    expect((await api('GET', '/clients?limit=1000000', tokens.admin)).json.meta!.pagination).to.include({ per_page: 100 });
    expect((await api('GET', '/clients?limit=-5', tokens.admin)).json.meta!.pagination).to.include({ per_page: 1, current_page: 1 });
    expect((await api('GET', '/clients?page=abc', tokens.admin)).status, 'a malformed page is refused (see test/admin/paging.test.ts)').to.equal(400);
    expect((await api('GET', '/clients?limit=0', tokens.admin)).json.meta!.pagination).to.include({ per_page: 1 });
  });

  it('issues RFC 9068 JWTs to its clients that verify with only /v2/key’s PEM, carrying the user’s role', async () => {
    const created = (await api('POST', '/clients', tokens.admin, { title: 'JWT app', scope: ['user', 'role:admin'] })).json.data!;
    const key = (await api('GET', '/key', tokens.admin)).json;
    expect(key).to.include({ algorithm: 'RS256', issuer: server.issuer });
    expect(key.public_key).to.match(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    const publicKey = await importSPKI(key.public_key as string, 'RS256');

    const cc = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'user' }, { authorization: basicAuth(created.client_id as string, created.client_secret as string) });
    expect(decodeProtectedHeader(cc.json.access_token as string)).to.include({ alg: 'RS256', typ: 'at+jwt' });
    const { payload } = await jwtVerify(cc.json.access_token as string, publicKey, { issuer: server.issuer });
    for (const claim of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope']) expect(payload, claim).to.have.property(claim);
    expect(payload).to.include({ client_id: created.client_id, scope: 'user' });

    const username = `role-${Date.now()}`;
    await server.services.accounts.create({ username, password: 'a role password', roles: ['admin'] });
    const pw = await postForm(`${server.url}/token`, { grant_type: 'password', username, password: 'a role password', scope: 'user' }, { authorization: basicAuth(created.client_id as string, created.client_secret as string) });
    const user = await jwtVerify(pw.json.access_token as string, publicKey, { issuer: server.issuer });
    expect(user.payload).to.include({ role: 'admin' });
    expect(user.payload.sub).to.not.equal(created.client_id);
  });

  it('refuses a revoked JWT at introspection and the resource check although its signature is valid', async () => {
    const created = (await api('POST', '/clients', tokens.admin, { title: 'Revoked JWT app', scope: ['user'] })).json.data!;
    const auth = { authorization: basicAuth(created.client_id as string, created.client_secret as string) };
    const jwt = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'user' }, auth)).json.access_token as string;
    const introspected = await postForm(`${server.url}/token/introspection`, { token: jwt }, auth);
    expect(introspected.status).to.equal(200);
    expect(introspected.json).to.include({ active: true, client_id: created.client_id });
    expect((await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${jwt}` } })).status).to.equal(200);

    expect((await postForm(`${server.url}/token/revocation`, { token: jwt }, auth)).status).to.equal(200);
    expect((await postForm(`${server.url}/token/introspection`, { token: jwt }, auth)).json).to.deep.equal({ active: false });
    expect((await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${jwt}` } })).status).to.equal(401);
    // A bad client may not use the endpoint at all.
    expect((await postForm(`${server.url}/token/introspection`, { token: jwt }, { authorization: basicAuth(created.client_id as string, 'wrong') })).status).to.equal(401);
  });

  it('deletes a client with its refresh tokens, access tokens and grants; afterwards it is 404 everywhere', async () => {
    const created = (await api('POST', '/clients', tokens.admin, { title: 'Doomed', scope: ['user'] })).json.data!;
    const auth = { authorization: basicAuth(created.client_id as string, created.client_secret as string) };
    const username = `doomed-${Date.now()}`;
    await server.services.accounts.create({ username, password: 'short lived one' });
    const issued = [];
    for (let i = 0; i < 2; i += 1) {
      issued.push((await postForm(`${server.url}/token`, { grant_type: 'password', username, password: 'short lived one', scope: 'user' }, auth)).json);
    }
    expect((await api('GET', `/clients/${created.client_id as string}`, tokens.admin)).json.data).to.include({ refresh_tokens: 2 });

    const deleted = await api('DELETE', `/clients/${created.client_id as string}`, tokens.admin);
    expect(deleted.json).to.deep.equal({ success: { code: 200, message: 'Deleted client.' } });
    expect((await api('GET', `/clients/${created.client_id as string}`, tokens.admin)).status).to.equal(404);
    expect((await api('DELETE', `/clients/${created.client_id as string}`, tokens.admin)).status).to.equal(404);
    expect((await server.services.storage.clientTokens.countRefreshTokens(created.client_id as string))).to.equal(0);
    for (const pair of issued) {
      expect((await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${pair.access_token as string}` } })).status).to.equal(401);
      expect((await postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: pair.refresh_token as string }, auth)).status).to.equal(401);
    }
  });

  it('shares clients with the CLI both ways', async () => {
    const env = { ...process.env, GATEHOUSE_DATA_DIR: server.config.dataDir, DATABASE_URL: process.env.DATABASE_URL ?? '', REDIS_URL: process.env.REDIS_URL ?? '' };
    const viaApi = (await api('POST', '/clients', tokens.admin, { title: 'Made in Northstar', scope: ['user'] })).json.data!;
    const shown = JSON.parse((await run(process.execPath, ['dist/src/cli/main.js', 'client', 'show', viaApi.client_id as string, '--json'], { env })).stdout) as Record<string, unknown>;
    expect(shown).to.include({ client_name: 'Made in Northstar', token_format: 'jwt' });
    const viaCli = JSON.parse((await run(process.execPath, ['dist/src/cli/main.js', 'client', 'create', '--name', 'Made in the CLI', '--grant-types', 'client_credentials', '--scope', 'user', '--json'], { env })).stdout) as Record<string, string>;
    const seen = await api('GET', `/clients/${viaCli.client_id!}`, tokens.admin);
    expect(seen.json.data).to.include({ title: 'Made in the CLI', client_secret: viaCli.client_secret });
  });
});
