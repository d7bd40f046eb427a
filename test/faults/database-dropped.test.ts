import { expect } from 'chai';
import pg from 'pg';
import { basicAuth, postForm, postJson, send, type Reply } from '../support/http.js';
import { skipBecause, startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 15 L3: a database dropped (or renamed, or its role removed) under a
 * running server is an outage like a stopped server: 503
 * temporarily_unavailable in each surface's shape (Northstar's
 * `{error: {code: 503, message}}`), never a 500.
 */
describe('faults: the PostgreSQL database dropped under a running server', function () {
  this.timeout(60_000);
  const base = process.env.DATABASE_URL;
  const name = `gatehouse_dropped_${process.pid}_${Date.now()}`;
  let admin: pg.Client | undefined;
  let server: TestServer | undefined;

  before(async () => {
    if (!base) return;
    admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  });

  after(async () => {
    await server?.stop();
    await admin?.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin?.end();
  });

  it('answers 503 temporarily_unavailable at the token endpoints, the dialects and the admin API, and /readyz says so', async function () {
    if (!base || !admin) skipBecause(this, 'DATABASE_URL is unset: the embedded database cannot be dropped from outside');
    const url = new URL(base);
    url.pathname = `/${name}`;
    server = await startTestServer({ DATABASE_URL: url.href });
    const m2m = await server.services.clients.create({ name: 'dropped m2m', grantTypes: ['client_credentials'], scope: ['admin', 'read'] });
    const auth = { authorization: basicAuth(m2m.client.clientId, m2m.clientSecret!) };
    const adminToken = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, auth)).json.access_token as string;
    const dot = await server.services.clients.create({ name: 'dropped dot', grantTypes: ['password'], scope: ['read'] });

    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    // Past the one-second client cache, so client lookups reach the database too.
    await new Promise((resolve) => setTimeout(resolve, 1200));

    const replies: Record<string, { reply: Reply; body: Record<string, unknown> | undefined }> = {};
    const record = (what: string, reply: Reply, body: Record<string, unknown> | undefined = reply.json) => { replies[what] = { reply, body }; };
    const ready = await send(`${server.url}/readyz`, { method: 'GET' });
    expect(ready.status).to.equal(503);
    record('/token client_credentials', await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, auth));
    record('DOT password', await postJson(`${server.url}/auth/oauth2/token/`, { grant_type: 'password', username: 'nobody', password: 'x' }, { authorization: basicAuth(dot.client.clientId, dot.clientSecret!) }));
    const los = await postJson(`${server.url}/api/v1.1/oauth/token`, { grant_type: 'client_credentials', client_id: m2m.client.clientId, client_secret: m2m.clientSecret, scope: '*' });
    record('LOS', los, los.json.data);
    const northstar = await send(`${server.url}/v2/clients`, { method: 'GET', headers: { authorization: `Bearer ${adminToken}` } });
    record('Lux query', await send(`${server.url}/Lux/OAuth2/query/`, { method: 'GET', headers: { authorization: `Bearer ${adminToken}` } }));
    for (const [what, { reply, body }] of Object.entries(replies)) {
      expect(reply.status, `${what}: ${reply.text}`).to.equal(503);
      expect(JSON.stringify(body), what).to.include('temporarily_unavailable');
      expect(reply.text, what).not.to.match(/does not exist|\n\s+at /);
    }
    // Northstar answers every error in its own shape, an outage included.
    expect(northstar.status, northstar.text).to.equal(503);
    expect(northstar.json).to.deep.equal({ error: { code: 503, message: 'the service is temporarily unavailable; retry shortly' } });
  });
});
