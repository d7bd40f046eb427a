import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { AUDIT_BOUNDS } from '../../src/audit/bounds.js';
import { AuditLog, TALLIED_EVENTS } from '../../src/audit/log.js';
import { basicAuth, postForm, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sleep } from '../support/waiting.js';
import { sqlDatabaseOf } from '../../adapters/factory.js';

interface Totals { rows: number; events: number }

describe('audit trail bounds', () => {
  let server: TestServer;
  let admin: string;

  /** Rows of `event` (optionally from one address), and the events they count (a tally counts many). */
  async function totals(event: string, ip?: string): Promise<Totals> {
    const { rows } = await sqlDatabaseOf(server.services.storage).query<Totals>(
      `SELECT count(*)::int AS rows, coalesce(sum(coalesce((detail->>'count')::int, 1)), 0)::int AS events
       FROM audit_events WHERE event = $1 AND ($2::text IS NULL OR ip = $2)`,
      [event, ip ?? null],
    );
    return rows[0]!;
  }

  before(async () => {
    // Trusting X-Forwarded-For lets a test speak from addresses of its own;
    // no lockout, so that every failed attempt reaches the audit trail.
    server = await startTestServer({ TRUST_PROXY: 'true', USER_FAILURE_LIMIT: '10000' });
    const created = await server.services.clients.create({ name: 'Bounds admin', grantTypes: ['client_credentials'], scope: ['admin'] });
    admin = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: basicAuth(created.client.clientId, created.clientSecret!) })).json.access_token as string;
  });

  after(() => server.stop());

  // Every admin surface, without a token and with a token that is not one.
  const refusedCalls: Array<{ surface: string; path: (n: number) => string; authorization?: string }> = [
    { surface: 'Northstar clients', path: () => '/v2/clients' },
    { surface: 'Northstar client', path: (n) => `/v2/clients/attempt-${n}`, authorization: 'Bearer not-a-token' },
    { surface: 'Northstar audit', path: () => '/v2/audit', authorization: 'Bearer not-a-token' },
    { surface: 'Lux query/', path: () => '/Lux/OAuth2/query/' },
    { surface: 'Lux query/ (bad token)', path: (n) => `/Lux/OAuth2/query/?client_id=${n}`, authorization: 'Bearer not-a-token' },
  ];

  it('adds a bounded number of rows for 200 refused admin calls across every admin surface, and still counts each one', async () => {
    const address = `2001:db8::${randomBytes(4).toString('hex')}`;
    const before = await totals('admin.denied', address);
    const calls = Array.from({ length: 200 }, (_, n) => refusedCalls[n % refusedCalls.length]!);
    // In parallel batches, as a flood arrives.
    for (let i = 0; i < calls.length; i += 25) {
      const replies = await Promise.all(calls.slice(i, i + 25).map((call, j) => send(`${server.url}${call.path(i + j)}`, {
        method: 'GET', headers: { 'x-forwarded-for': address, ...(call.authorization ? { authorization: call.authorization } : {}) },
      })));
      for (const reply of replies) expect(reply.status).to.be.oneOf([400, 401]);
    }
    const after = await totals('admin.denied', address);
    expect(after.events - before.events, 'every refusal is counted').to.equal(200);
    // One row per surface (northstar, lux) and reason (no token, bad token),
    // twice if the hour turned during the test.
    expect(after.rows - before.rows, 'rows added').to.be.at.most(2 * 2 * 2);
    const { rows } = await sqlDatabaseOf(server.services.storage).query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'admin.denied' AND ip = $1", [address],
    );
    expect(new Set(rows.map((row) => row.detail.surface))).to.deep.equal(new Set(['northstar', 'lux']));
    for (const row of rows) expect(row.detail).to.include.keys('reason', 'count', 'first_at', 'path');
  });

  it('tallies failed password grants per address and username, and still counts each one', async () => {
    const { client, clientSecret } = await server.services.clients.create({ name: 'Bounds RP', grantTypes: ['password'], scope: ['read'] });
    const address = `2001:db8::${randomBytes(4).toString('hex')}`;
    const before = await totals('password_grant.failed', address);
    const usernames = ['alice', 'bob', 'carol'];
    const replies = await Promise.all(Array.from({ length: 60 }, (_, n) => postForm(`${server.url}/token`,
      { grant_type: 'password', username: usernames[n % 3]!, password: `guess ${n}`, scope: 'read' },
      { authorization: basicAuth(client.clientId, clientSecret!), 'x-forwarded-for': address })));
    for (const reply of replies) expect(reply.status).to.equal(400);
    // The provider reports a failed grant as an event it does not wait for.
    let after = await totals('password_grant.failed', address);
    for (const deadline = Date.now() + 3000; after.events - before.events < 60 && Date.now() < deadline; await sleep(20)) {
      after = await totals('password_grant.failed', address);
    }
    expect(after.events - before.events, 'every failure is counted').to.equal(60);
    expect(after.rows - before.rows, 'one row per username, twice if the hour turned').to.be.at.most(2 * usernames.length);
  });

  it('bounds every source of unauthenticated events: past the per-hour bound, further addresses share one overflow row', async () => {
    const policy = { windowSeconds: 3600, maxPerWindow: 5 };
    const audit = new AuditLog(server.services.storage.audit, (error) => { throw error; }, policy);
    for (const event of TALLIED_EVENTS) {
      const before = await totals(event);
      // 40 events from each of 20 addresses, as many different usernames and surfaces.
      await Promise.all(Array.from({ length: 800 }, (_, n) => audit.record({
        event, ip: `198.51.100.${n % 20}`, actor: `username:guess-${n % 20}`, clientId: null, detail: { surface: 'any', reason: 'denied' },
      })));
      const after = await totals(event);
      expect(after.events - before.events, event).to.equal(800);
      // Rows already in this hour count towards the bound, so at most the bound (+ overflow), twice if the hour turned.
      expect(after.rows - before.rows, event).to.be.at.most(2 * (policy.maxPerWindow + 1));
    }
  });

  it('stores at most the documented bound of a 12,000-character path, allowed or refused, and of any detail', async () => {
    const longPath = `/v2/clients/${'x'.repeat(12_000)}`;
    const address = `2001:db8::${randomBytes(4).toString('hex')}`;
    expect((await send(`${server.url}${longPath}`, { method: 'GET', headers: { 'x-forwarded-for': address } })).status).to.equal(401);
    expect((await send(`${server.url}${longPath}`, { method: 'GET', headers: { 'x-forwarded-for': address, authorization: `Bearer ${admin}` } })).status).to.equal(404);
    await server.services.audit.record({
      event: 'bounds.probe', actor: 'a'.repeat(5000), ip: address,
      detail: { list: Array.from({ length: 1000 }, (_, n) => `item ${n} ${'y'.repeat(100)}`), deep: { a: { b: { c: { d: { e: 'deep' } } } } }, nul: 'a\u0000b' },
    });
    const { rows } = await sqlDatabaseOf(server.services.storage).query<{ event: string; actor: string | null; detail: Record<string, unknown> }>(
      'SELECT event, actor, detail FROM audit_events WHERE ip = $1', [address],
    );
    expect(rows.map((row) => row.event).sort()).to.deep.equal(['admin.api', 'admin.denied', 'bounds.probe']);
    for (const row of rows) {
      expect(Buffer.byteLength(JSON.stringify(row.detail)), row.event).to.be.at.most(AUDIT_BOUNDS.detailBytes);
      if (row.detail.path !== undefined) {
        expect((row.detail.path as string).length, row.event).to.be.at.most(AUDIT_BOUNDS.text);
        expect(row.detail.path as string).to.match(/^\/v2\/clients\/x+…$/);
      }
    }
    const probe = rows.find((row) => row.event === 'bounds.probe')!;
    expect(probe.actor!.length).to.be.at.most(AUDIT_BOUNDS.column);
    expect((probe.detail.list as unknown[]).length).to.be.at.most(AUDIT_BOUNDS.items + 1);
    expect(probe.detail.nul).to.equal('a\uFFFDb');
  });
});
