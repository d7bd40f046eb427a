import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import pg from 'pg';
import * as oidc from 'openid-client';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { FormBrowser } from '../support/form-browser.js';
import { authorize, discover, REDIRECT_URI } from '../support/oidc.js';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { startTestServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);

describe('audit trail', () => {
  let server: TestServer;
  let admin: string;
  let adminClientId: string;
  // One relying party and user for the tests that cause tallied events: each
  // new (client, user) pair is a tally row, and the rows per hour are bounded
  // across the database the whole suite shares (docs/operations, audit trail).
  let rp: Awaited<ReturnType<TestServer['services']['clients']['create']>>;
  const user = { username: `lee-${Date.now()}`, password: 'audited password' };

  const audit = (query = '') => send(`${server.url}/v2/audit${query}`, { method: 'GET', headers: { authorization: `Bearer ${admin}` } });
  const events = async (clientId?: string) => ((await audit(`?limit=100${clientId ? `&client_id=${clientId}` : ''}`)).json.data as unknown as Array<Record<string, unknown>>);

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({ name: 'Auditor', grantTypes: ['client_credentials'], scope: ['admin'] });
    adminClientId = created.client.clientId;
    admin = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: basicAuth(adminClientId, created.clientSecret!) })).json.access_token as string;
    rp = await server.services.clients.create({ name: 'Audited RP', grantTypes: ['authorization_code', 'password', 'client_credentials'], redirectUris: [REDIRECT_URI], scope: ['openid', 'read'] });
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  it('records client creation, secret issue, update and deletion with the acting admin and IP', async () => {
    const made = (await postJson(`${server.url}/v2/clients`, { title: 'Audited', scope: ['user'] }, { authorization: `Bearer ${admin}` })).json.data as Record<string, string>;
    await send(`${server.url}/v2/clients/${made.client_id!}`, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Audited 2' }) });
    await send(`${server.url}/v2/clients/${made.client_id!}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
    const trail = await events(made.client_id);
    const names = trail.map((e) => e.event);
    expect(names).to.include.members(['client.created', 'client.secret_issued', 'client.updated', 'client.deleted']);
    const created = trail.find((e) => e.event === 'client.created')!;
    expect(created.actor).to.equal(`client:${adminClientId}`);
    expect(created.ip).to.be.a('string');
    expect(JSON.stringify(trail)).not.to.include(made.client_secret);
  });

  it('records what decides access before and after a change: a client’s scopes and redirect URIs, a user’s roles and active flag', async () => {
    const { client } = await server.services.clients.create({ name: 'Widened', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['read'] });
    await server.services.clients.update(client.clientId, { scope: ['read', 'admin'], redirectUris: [REDIRECT_URI, 'https://rp.example.test/other'], name: 'Widened 2' }, { actor: 'cli' });
    const updated = (await server.services.audit.list({ clientId: client.clientId })).items.find((e) => e.event === 'client.updated')!;
    expect(updated.detail.changes).to.deep.equal({
      client_name: { from: 'Widened', to: 'Widened 2' },
      scope: { from: 'read', to: 'read admin' },
      redirect_uris: { from: [REDIRECT_URI], to: [REDIRECT_URI, 'https://rp.example.test/other'] },
    });
    const account = await server.services.accounts.create({ username: `promoted-${Date.now()}`, password: 'promoted password' });
    await server.services.accounts.update(account.id, { roles: ['admin'], active: false, name: 'Promoted' }, { actor: 'cli' });
    const { items } = await server.services.audit.list({ perPage: 500 });
    const changed = items.find((e) => e.event === 'account.updated' && e.detail.account_id === account.id)!;
    expect(changed.detail.changes).to.deep.equal({ roles: { from: [], to: ['admin'] }, active: { from: true, to: false } });
    expect(changed.detail.fields).to.include('name');
  });

  it('records a client registering itself (RFC 7591), changing its redirect URIs and deleting itself (RFC 7592), by the client and without its secrets', async () => {
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const registered = await postJson(`${server.url}/reg`, { redirect_uris: [REDIRECT_URI], client_name: 'Self-made', grant_types: ['authorization_code'] }, { authorization: `Bearer ${token}` });
    expect(registered.status).to.equal(201);
    const { client_id: clientId, registration_access_token: rat, registration_client_uri: uri, client_secret: secret } = registered.json as Record<string, string>;
    const moved = await send(uri!, {
      method: 'PUT', headers: { authorization: `Bearer ${rat!}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: clientId, client_secret: secret, redirect_uris: ['https://elsewhere.example.test/cb'], client_name: 'Self-made', grant_types: ['authorization_code'] }),
    });
    expect(moved.status, moved.text).to.equal(200);
    const newRat = (moved.json as Record<string, string>).registration_access_token ?? rat!;
    expect((await send(uri!, { method: 'DELETE', headers: { authorization: `Bearer ${newRat}` } })).status).to.equal(204);

    const trail = (await events(clientId)).reverse();
    expect(trail.map((e) => e.event)).to.deep.equal(['client.created', 'client.updated', 'client.deleted']);
    expect(trail.map((e) => e.actor)).to.deep.equal(['registration', `client:${clientId!}`, `client:${clientId!}`]);
    expect((trail[1]!.detail as { changes: unknown }).changes).to.deep.equal({ redirect_uris: { from: [REDIRECT_URI], to: ['https://elsewhere.example.test/cb'] } });
    for (const value of [secret, rat, newRat]) expect(JSON.stringify(trail)).not.to.include(value);
  });

  it('records admin API calls, refusals, logins, failed password grants and revocations', async () => {
    await send(`${server.url}/v2/clients`, { method: 'GET' });
    await send(`${server.url}/v2/clients`, { method: 'GET', headers: { authorization: `Bearer ${admin}` } });
    const config = await discover(server, rp.client.clientId, rp.clientSecret!);
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    await authorize(config, user, { scope: 'openid', browser });
    const auth = { authorization: basicAuth(rp.client.clientId, rp.clientSecret!) };
    await postForm(`${server.url}/token`, { grant_type: 'password', username: user.username, password: 'not the one' }, auth);
    const token = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, auth)).json.access_token as string;
    await postForm(`${server.url}/token/revocation`, { token }, auth);

    const all = await events();
    const names = all.map((e) => e.event);
    expect(names).to.include.members(['admin.api', 'admin.denied', 'login.succeeded', 'password_grant.failed', 'token.revoked']);
    expect(all.find((e) => e.event === 'password_grant.failed' && e.client_id === rp.client.clientId)).to.include({ actor: `username:${user.username}` });
  });

  it('records a failed password grant or sign-in under the username as typed, never as the account an id-shaped username names', async () => {
    // user: holds account ids; typed text that is one must not read as that account's attempt.
    // A server of its own (embedded): the suite's shared database tallies at most 50 sources an hour per event.
    const own = await startTestServer({ DATABASE_URL: '', REDIS_URL: '' });
    try {
      const client = await own.services.clients.create({ name: 'Id typers', grantTypes: ['authorization_code', 'password'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
      const typed = (await own.services.accounts.create({ username: `typed-${Date.now()}`, password: 'the right one' })).id;
      const auth = { authorization: basicAuth(client.client.clientId, client.clientSecret!) };
      expect((await postForm(`${own.url}/token`, { grant_type: 'password', username: typed, password: 'not the one' }, auth)).status).to.equal(400);
      const browser = new FormBrowser(() => false);
      const config = await discover(own, client.client.clientId, client.clientSecret!);
      const login = await browser.navigate(oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' }).href);
      expect((await browser.submit(login, '/login', { username: typed, password: 'not the one' })).status).to.equal(401);

      const { items } = await own.services.audit.list({ perPage: 500 });
      const failures = items.filter((e) => e.event === 'password_grant.failed' || e.event === 'login.failed');
      expect(failures.map((e) => [e.event, e.actor]).sort()).to.deep.equal([['login.failed', `username:${typed}`], ['password_grant.failed', `username:${typed}`]]);
    } finally {
      await own.stop();
    }
  });

  it('records a refused admin call with the status it was answered with (400, 422, a conflict’s 422), not 404 or the error’s own', async () => {
    const headers = { authorization: `Bearer ${admin}` };
    const badPage = await send(`${server.url}/v2/clients?page=x`, { method: 'GET', headers });
    const invalid = await postJson(`${server.url}/v2/clients`, { title: '' }, headers);
    const broken = await send(`${server.url}/v2/clients`, { headers: { ...headers, 'content-type': 'application/json' }, body: '{"title":' });
    // A taken client_id: a conflict in the service, which Northstar answers 422.
    const taken = await postJson(`${server.url}/v2/clients`, { title: 'Taken', client_id: rp.client.clientId, scope: ['read'] }, headers);
    expect([badPage.status, invalid.status, broken.status, taken.status]).to.deep.equal([400, 422, 400, 422]);
    const calls = (await events(adminClientId)).filter((e) => e.event === 'admin.api').slice(0, 4);
    expect(calls.map((e) => (e.detail as { status: number }).status).sort()).to.deep.equal([400, 400, 422, 422]);
  });

  it('answers a failed password grant and a revocation only once their audit records are stored', async function () {
    // Another connection holding the table is what makes a slow write
    // visible; the embedded database has one session, so only PostgreSQL can.
    if (!process.env.DATABASE_URL) this.skip();
    const auth = { authorization: basicAuth(rp.client.clientId, rp.clientSecret!) };
    const token = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, auth)).json.access_token as string;
    const requests = {
      'password_grant.failed': () => postForm(`${server.url}/token`, { grant_type: 'password', username: user.username, password: 'not the one' }, auth),
      'token.revoked': () => postForm(`${server.url}/token/revocation`, { token }, auth),
    };
    for (const [event, request] of Object.entries(requests)) {
      const holder = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await holder.connect();
      let reply: Awaited<ReturnType<typeof request>>;
      try {
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE audit_events IN EXCLUSIVE MODE');
        const answer = request();
        const first = await Promise.race([answer.then(() => 'answered'), sleep(700).then(() => 'still waiting')]);
        expect(first, `${event}: the answer waits for its audit record`).to.equal('still waiting');
        await holder.query('ROLLBACK');
        reply = await answer;
      } finally {
        await holder.end();
      }
      expect(reply.status, event).to.be.oneOf([200, 400]);
      const trail = await events(rp.client.clientId);
      expect(trail.map((e) => e.event), event).to.include(event);
    }
  });

  it('paginates /v2/audit and refuses it to non-admins', async () => {
    const page = await audit('?limit=2&page=1');
    expect(page.json.data).to.have.length(2);
    expect(page.json.meta!.pagination).to.include({ per_page: 2, current_page: 1 });
    expect((await send(`${server.url}/v2/audit`, { method: 'GET' })).status).to.equal(401);
  });

  it('is readable through the CLI, filtered by client', async () => {
    const env = { ...process.env, GATEHOUSE_DATA_DIR: server.config.dataDir, DATABASE_URL: process.env.DATABASE_URL ?? '', REDIS_URL: process.env.REDIS_URL ?? '' };
    const { stdout } = await run(process.execPath, ['dist/src/cli/main.js', 'audit', '--client', adminClientId, '--json'], { env });
    const rows = JSON.parse(stdout) as Array<{ event: string; client_id: string }>;
    expect(rows.length).to.be.greaterThan(0);
    expect(rows.every((row) => row.client_id === adminClientId)).to.equal(true);
  });
});
