import { expect } from 'chai';
import * as oidc from 'openid-client';
import { migrations } from '../../adapters/sql/migrations.js';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { authorize, discover, oauthError, REDIRECT_URI, redeem } from '../support/oidc.js';
import { createScratchDatabase, pgbouncerBinary, startPgBouncer, type PgBouncer, type ScratchDatabase } from '../support/pgbouncer.js';
import { spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { skipBecause, startTestServer, type TestServer } from '../support/server.js';
import { TEST_SECRETS_KEY } from '../support/environment.js';

/**
 * Issue 19: PostgreSQL behind PgBouncer in transaction pooling mode, where
 * consecutive transactions of one client may run on different server
 * connections. Session-level advisory locks, SET outside a transaction,
 * LISTEN and named prepared statements would all misbehave there; Gatehouse
 * uses none of them (transaction-scoped advisory locks only, unnamed
 * statements), and these tests prove the result on a real pgbouncer against
 * a database of their own on the local PostgreSQL server.
 */
describe('PostgreSQL through PgBouncer in transaction pooling mode', function () {
  this.timeout(120_000);
  const binary = pgbouncerBinary();
  const missing = 'the pgbouncer binary is not installed (Debian package pgbouncer)';
  let database: ScratchDatabase | undefined;
  let bouncer: PgBouncer | undefined;
  const storageEnv = () => ({ DATABASE_URL: bouncer!.url, SECRETS_KEY: process.env.SECRETS_KEY ?? TEST_SECRETS_KEY });

  before(async () => {
    if (!binary) return;
    database = await createScratchDatabase();
    bouncer = await startPgBouncer(binary, database);
  });

  after(async () => {
    await bouncer?.stop();
    await database?.drop();
  });

  it('four processes starting together on a fresh database migrate it once, make exactly one key of each kind, and all become ready', async function () {
    if (!binary) skipBecause(this, missing);
    const started = await Promise.allSettled([1, 2, 3, 4].map(() => spawnGatehouse(storageEnv())));
    const processes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    try {
      expect(started.filter((result) => result.status === 'rejected').map((result) => String((result as PromiseRejectedResult).reason)), 'every process became ready').to.deep.equal([]);
      const applied = await database!.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
      expect(applied.map((row) => row.id)).to.deep.equal(migrations.map((migration) => migration.id).sort());
      const keys = await database!.query<{ use: string; alg: string | null; count: string }>(
        'SELECT use, alg, count(*) AS count FROM keys GROUP BY use, alg ORDER BY use, alg',
      );
      expect(keys.length, 'some keys were made').to.be.greaterThan(1);
      for (const group of keys) expect(Number(group.count), `keys of use ${group.use}, alg ${group.alg ?? '-'}`).to.equal(1);
      const published = await Promise.all(processes.map(async (p) => ((await (await fetch(`${p.url}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort()));
      for (const kids of published) expect(kids).to.deep.equal(published[0]);
    } finally {
      await stopAll(processes);
    }
  });

  describe('the standard flows and every legacy dialect, through the pooler', () => {
    let server: TestServer;
    let config: oidc.Configuration;
    let auth: Record<string, string>;
    let clientId: string;
    let clientSecret: string;
    const user = { username: `pooled-${Date.now()}`, password: 'through the bouncer' };

    before(async function () {
      if (!binary) return;
      server = await startTestServer(storageEnv());
      const created = await server.services.clients.create({
        name: 'Pooled RP',
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', 'password'],
        redirectUris: [REDIRECT_URI],
        scope: ['openid', 'profile', 'email', 'read', 'write'],
      });
      clientId = created.client.clientId;
      clientSecret = created.clientSecret!;
      auth = { authorization: basicAuth(clientId, clientSecret) };
      await server.services.accounts.create(user);
      config = await discover(server, clientId, clientSecret);
    });

    after(async () => { await server?.stop(); });

    it('client_credentials: the token introspects as active, and is inactive once revoked', async function () {
      if (!binary) skipBecause(this, missing);
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' });
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(true);
      await oidc.tokenRevocation(config, tokens.access_token);
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(false);
    });

    it('code flow: a code is redeemed once, its refresh token rotates, and the rotated one is refused', async function () {
      if (!binary) skipBecause(this, missing);
      const flow = await authorize(config, user, { scope: 'openid profile read' });
      const tokens = await redeem(config, flow);
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(true);
      const first = tokens.refresh_token!;
      const rotated = await oidc.refreshTokenGrant(config, first);
      expect(rotated.refresh_token).to.be.a('string').and.not.equal(first);
      expect((await oauthError(oidc.refreshTokenGrant(config, first))).error).to.equal('invalid_grant');
      await oidc.tokenRevocation(config, rotated.refresh_token!);
      expect((await oidc.tokenIntrospection(config, rotated.refresh_token!)).active).to.equal(false);
      // Last: replaying a code also revokes what it was exchanged for (RFC 6749 §4.1.2).
      expect((await oauthError(redeem(config, flow))).error, 'the code is single-use').to.equal('invalid_grant');
    });

    // Lux's own authorize/ and access_token/ endpoints, without PKCE, as its old apps use them.
    const lux = async (s: TestServer) => {
      const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
      let page = await browser.navigate(`${s.url}/Lux/OAuth2/authorize/?${new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT_URI, response_type: 'code', state: 's' }).toString()}`);
      if (page.html.includes('/login"')) page = await browser.submit(page, '/login', user);
      if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
      const code = new URL(page.url).searchParams.get('code')!;
      const reply = await postForm(`${s.url}/Lux/OAuth2/access_token/`, { client_id: clientId, client_secret: clientSecret, redirect_uri: REDIRECT_URI, code, grant_type: 'authorization_code' });
      return reply.json.access_token as string;
    };
    const dialects: Record<string, (s: TestServer) => Promise<string>> = {
      LOS: async (s) => (await postJson(`${s.url}/api/v1.1/oauth/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: '*' })).json.data!.access_token as string,
      'LE Enterprise': async (s) => (await postForm(`${s.url}/liveexpert/oauth/authorize`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret })).json.access_token as string,
      'django-oauth-toolkit': async (s) => (await postJson(`${s.url}/auth/oauth2/token/`, { grant_type: 'password', ...user }, auth)).json.access_token as string,
      Lux: lux,
    };
    for (const [dialect, mint] of Object.entries(dialects)) {
      it(`${dialect}: a token it issues is accepted and introspects as active, and is refused once revoked`, async function () {
        if (!binary) skipBecause(this, missing);
        const token = await mint(server);
        expect(token, `${dialect} issued a token`).to.be.a('string');
        expect((await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status).to.equal(200);
        expect((await postForm(`${server.url}/token/introspection`, { token }, auth)).json.active).to.equal(true);
        expect((await postForm(`${server.url}/token/revocation`, { token }, auth)).status).to.equal(200);
        expect((await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status).to.equal(401);
      });
    }
  });
});

/** Stops every process by its PID and waits for each to be gone. */
async function stopAll(processes: GatehouseProcess[]): Promise<void> {
  for (const p of processes) if (p.child.exitCode === null) process.kill(p.pid, 'SIGTERM');
  await Promise.all(processes.map((p) => p.exited));
}
