import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { sqlDatabaseOf } from '../../adapters/factory.js';
import { hashPassword } from '../../src/accounts/passwords.js';
import { basicAuth, postForm } from '../support/http.js';
import pg from 'pg';
import { removeRevocationSet, startTestServer, storageMode, tempDir, type TestServer } from '../support/server.js';
import { DotService, ensureDjangoOAuthToolkit, type SeededApplication, sourceServerProblem } from '../support/dot-service.js';

const exec = promisify(execFile);
// The CLI of this build (beside this test), not whatever dist/ holds.
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface CliResult { code: number; stdout: string; stderr: string }
interface KindSummary { created: number; updated: number; unchanged: number; skipped: number; skips: Array<{ id: string; reason: string }> }

async function cli(server: TestServer, ...args: string[]): Promise<CliResult> {
  const env = {
    ...process.env,
    GATEHOUSE_DATA_DIR: server.config.dataDir,
    DATABASE_URL: server.config.databaseUrl ?? '',
    REDIS_URL: server.config.redisUrl ?? '',
    REDIS_PREFIX: server.config.redisPrefix,
  };
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function json<T = Record<string, unknown>>(result: Promise<CliResult>): Promise<T> {
  const done = await result;
  expect(done.code, done.stderr).to.equal(0);
  return JSON.parse(done.stdout) as T;
}

const counts = ({ created, updated, unchanged, skipped }: KindSummary) => ({ created, updated, unchanged, skipped });

/**
 * An import is re-run until the cut-over, and Gatehouse is managed in the
 * meantime: a re-run writes only what changed at the source since the last
 * import, and never undoes what was changed in Gatehouse (a rotated secret,
 * a role taken away, a deactivation, a description, a deletion).
 */
describe('re-running an import keeps the changes made in Gatehouse since the last one', function () {
  this.timeout(120_000);
  let server: TestServer;
  let dir: string;
  const stamp = Date.now();

  before(async () => {
    server = await startTestServer();
    dir = await tempDir('gh-reimport-');
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const file = async (name: string, lines: unknown[]) => {
    const path = join(dir, name);
    await writeFile(path, lines.map((line) => JSON.stringify(line)).join('\n'));
    return path;
  };
  const importFile = (kind: string, path: string, ...extra: string[]) =>
    json<Record<string, KindSummary>>(cli(server, 'import', kind, '--file', path, '--json', ...extra));
  const tokenStatus = async (clientId: string, secret: string) =>
    (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(clientId, secret) })).status;
  const show = (clientId: string) => server.services.clients.show(clientId);
  const forgetFingerprints = (kind: string, key: string) =>
    sqlDatabaseOf(server.services.storage).query('DELETE FROM import_fingerprints WHERE kind = $1 AND key = $2', [kind, key]);

  it('import clients: a secret rotated and a description set in Gatehouse survive a re-run; only what changed at the source is written', async () => {
    const id = `le-partner-${stamp}`;
    const row = { client_id: id, client_secret: 'leaked-at-the-old-server-0123456789abcdef', name: 'LE partner', description: 'from the source', grant_types: 'client_credentials', scope: 'read' };
    const path = await file('le.jsonl', [row]);
    expect(counts((await importFile('clients', path)).clients!)).to.deep.equal({ created: 1, updated: 0, unchanged: 0, skipped: 0 });
    const rotated = await json<{ client_secret: string }>(cli(server, 'client', 'rotate-secret', id, '--json'));
    expect((await cli(server, 'client', 'update', id, '--description', 'set in Gatehouse')).code).to.equal(0);

    expect(counts((await importFile('clients', path)).clients!), 'the source did not change').to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(await tokenStatus(id, rotated.client_secret), 'the secret rotated in Gatehouse').to.equal(200);
    expect(await tokenStatus(id, row.client_secret), 'the leaked one stays refused').to.equal(401);
    expect((await show(id)).description).to.equal('set in Gatehouse');

    // A change at the source is written, and nothing else.
    const renamed = await file('le-renamed.jsonl', [{ ...row, name: 'LE partner (renamed at the source)' }]);
    expect(counts((await importFile('clients', renamed)).clients!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect(await show(id)).to.include({ name: 'LE partner (renamed at the source)', description: 'set in Gatehouse' });
    expect(await tokenStatus(id, rotated.client_secret)).to.equal(200);
    expect(await tokenStatus(id, row.client_secret)).to.equal(401);
    const imported = (await server.services.audit.list({ clientId: id, perPage: 50 })).items.find((event) => event.event === 'client.imported' && event.detail.outcome === 'updated');
    expect(imported?.detail.fields).to.deep.equal(['client_name']);

    // A secret changed at the source is the source's news: it is taken.
    const newSecret = 'changed-at-the-source-0123456789abcdef012';
    const resecreted = await file('le-resecreted.jsonl', [{ ...row, name: 'LE partner (renamed at the source)', client_secret: newSecret }]);
    expect(counts((await importFile('clients', resecreted)).clients!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect(await tokenStatus(id, newSecret)).to.equal(200);
    expect(await tokenStatus(id, rotated.client_secret)).to.equal(401);
    expect((await show(id)).description).to.equal('set in Gatehouse');
  });

  it('import northstar: a secret rotated in Gatehouse is not put back by a re-run of the same pages', async () => {
    const id = `northstar-${stamp}`;
    const secret = 'Mq3kXQZldCXmDKs2XxJvC2qsuzfUus9Q';
    const pages = [{ data: [{ title: 'Northstar client', description: 'A client.', client_id: id, client_secret: secret, scope: ['user'] }],
      meta: { pagination: { total: 1, count: 1, per_page: 20, current_page: 1, total_pages: 1, links: [] } } }];
    const path = join(dir, 'northstar.json');
    await writeFile(path, JSON.stringify(pages));
    expect(counts((await importFile('northstar', path)).clients!).created).to.equal(1);
    const rotated = await json<{ client_secret: string }>(cli(server, 'client', 'rotate-secret', id, '--json'));
    expect(counts((await importFile('northstar', path)).clients!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    const status = async (s: string) => (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'user' }, { authorization: basicAuth(id, s) })).status;
    expect(await status(rotated.client_secret)).to.equal(200);
    expect(await status(secret)).to.equal(401);
  });

  it('import users: a role taken away and a deactivation in Gatehouse survive a re-run; a change at the source is written alone', async () => {
    const root = `root-${stamp}`;
    const other = `x-${stamp}`;
    const users = [
      { username: root, email: 'root@example.test', roles: ['admin'], active: true, password_hash: await hashPassword('root password') },
      { username: other, email: 'x@example.test', active: true, password_hash: await hashPassword('x password') },
    ];
    const path = await file('users.jsonl', users);
    expect(counts((await importFile('users', path)).users!).created).to.equal(2);
    expect((await cli(server, 'user', 'update', root, '--role', 'user')).code).to.equal(0);
    expect((await cli(server, 'user', 'update', other, '--active', 'false')).code).to.equal(0);

    expect(counts((await importFile('users', path)).users!)).to.deep.equal({ created: 0, updated: 0, unchanged: 2, skipped: 0 });
    expect((await server.services.accounts.show(root)).roles).to.deep.equal(['user']);
    expect((await server.services.accounts.show(other)).active).to.equal(false);
    expect(await server.services.accounts.authenticate(other, 'x password'), 'the deactivated user stays out').to.equal(undefined);

    const moved = await file('users-moved.jsonl', [{ ...users[0], email: 'root@new.example.test' }, users[1]]);
    expect(counts((await importFile('users', moved)).users!)).to.deep.equal({ created: 0, updated: 1, unchanged: 1, skipped: 0 });
    expect(await server.services.accounts.show(root)).to.deep.include({ email: 'root@new.example.test', roles: ['user'] });
    expect((await server.services.accounts.show(other)).active).to.equal(false);
  });

  it('a client or user deleted in Gatehouse after an import is not brought back by a re-run', async () => {
    const id = `deleted-${stamp}`;
    const username = `deleted-${stamp}`;
    const clients = await file('deleted-client.jsonl', [{ client_id: id, client_secret: 'deleted-client-secret-0123456789abcdef', name: 'Deleted', grant_types: 'client_credentials', scope: 'read' }]);
    const users = await file('deleted-user.jsonl', [{ username, active: true, password_hash: await hashPassword('deleted password') }]);
    await importFile('clients', clients);
    await importFile('users', users);
    expect((await cli(server, 'client', 'delete', id)).code).to.equal(0);
    expect((await cli(server, 'user', 'delete', username)).code).to.equal(0);

    const again = (await importFile('clients', clients)).clients!;
    expect(counts(again)).to.deep.equal({ created: 0, updated: 0, unchanged: 0, skipped: 1 });
    expect(again.skips[0]!.reason).to.match(/deleted in Gatehouse after an earlier import/);
    expect(await server.services.clients.exists(id)).to.equal(false);
    expect(counts((await importFile('users', users)).users!)).to.deep.equal({ created: 0, updated: 0, unchanged: 0, skipped: 1 });
    expect(await server.services.accounts.authenticate(username, 'deleted password')).to.equal(undefined);
  });

  it('the first re-run after upgrading (no fingerprint yet) reverts nothing, and records the source so that its next change is imported', async () => {
    const id = `upgraded-${stamp}`;
    const username = `upgraded-${stamp}`;
    const row = { client_id: id, client_secret: 'before-the-upgrade-0123456789abcdef0123', name: 'Upgraded', grant_types: 'client_credentials', scope: 'read' };
    const clients = await file('upgraded-client.jsonl', [row]);
    const user = { username, roles: ['admin'], active: true, password_hash: await hashPassword('first password') };
    const users = await file('upgraded-user.jsonl', [user]);
    await importFile('clients', clients);
    await importFile('users', users);
    const rotated = await json<{ client_secret: string }>(cli(server, 'client', 'rotate-secret', id, '--json'));
    expect((await cli(server, 'user', 'update', username, '--role', 'user', '--active', 'false')).code).to.equal(0);
    // As an import made before fingerprints were kept left them.
    await forgetFingerprints('client', id);
    await forgetFingerprints('account', username);

    expect(counts((await importFile('clients', clients, '--dry-run')).clients!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(counts((await importFile('clients', clients)).clients!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(await tokenStatus(id, rotated.client_secret)).to.equal(200);
    expect(await tokenStatus(id, row.client_secret)).to.equal(401);
    const adopted = (await server.services.audit.list({ clientId: id, perPage: 50 })).items.find((event) => event.event === 'client.import_adopted');
    expect(adopted?.detail.kept).to.deep.equal(['client_secret']);
    expect(counts((await importFile('users', users)).users!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(await server.services.accounts.show(username)).to.deep.include({ roles: ['user'], active: false });

    // From now on the source's changes are known as changes.
    const renamed = await file('upgraded-client-2.jsonl', [{ ...row, name: 'Upgraded, renamed at the source' }]);
    expect(counts((await importFile('clients', renamed)).clients!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect((await show(id)).name).to.equal('Upgraded, renamed at the source');
    expect(await tokenStatus(id, rotated.client_secret)).to.equal(200);
  });

  it('--dry-run records nothing: the real run after it still sees the source change', async () => {
    const id = `dry-${stamp}`;
    const row = { client_id: id, client_secret: 'dry-run-secret-0123456789abcdef01234567', name: 'Dry', grant_types: 'client_credentials', scope: 'read' };
    await importFile('clients', await file('dry.jsonl', [row]));
    const changed = await file('dry-2.jsonl', [{ ...row, description: 'new at the source' }]);
    expect(counts((await importFile('clients', changed, '--dry-run')).clients!).updated).to.equal(1);
    expect((await show(id)).description).to.equal(null);
    expect(counts((await importFile('clients', changed)).clients!).updated).to.equal(1);
    expect((await show(id)).description).to.equal('new at the source');
  });

  it('client.updated records name and description changes, and no scope change when scopes were only reordered', async () => {
    const { client } = await server.services.clients.create({ name: 'Audited', grantTypes: ['client_credentials'], scope: ['read', 'openid'] });
    await server.services.clients.update(client.clientId, { scope: ['openid', 'read'] }, { actor: 'cli' });
    const events = async () => (await server.services.audit.list({ clientId: client.clientId, perPage: 50 })).items.filter((event) => event.event === 'client.updated');
    expect(await events(), 'a reorder is no change').to.have.length(0);
    await server.services.clients.update(client.clientId, { scope: ['openid', 'read'], name: 'Audited 2', description: 'described' }, { actor: 'cli' });
    const [updated] = await events();
    expect(updated!.detail.fields).to.deep.equal(['name', 'description']);
    expect(updated!.detail.changes).to.deep.equal({ client_name: { from: 'Audited', to: 'Audited 2' }, description: { from: null, to: 'described' } });
  });
});

/**
 * A server with storage of its own (the DOT fixture's client ids and
 * usernames are fixed, and other tests import them into a fresh Gatehouse):
 * embedded, a new folder; with PostgreSQL, a database created beside the
 * suite's (dropped after), and its own Redis prefix.
 */
async function serverOfItsOwn(): Promise<{ server: TestServer; stop(): Promise<void> }> {
  if (!storageMode.postgres) {
    const server = await startTestServer();
    return { server, stop: () => server.stop() };
  }
  const suite = new URL(process.env.DATABASE_URL!);
  const name = `${suite.pathname.slice(1)}_reimport_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  suite.pathname = `/${name}`;
  const server = await startTestServer({ DATABASE_URL: suite.toString(), REDIS_PREFIX: `${name}:` });
  return {
    server,
    async stop() {
      await server.stop();
      await removeRevocationSet(server.config);
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

describe('re-running import django-oauth-toolkit on an unchanged DOT database keeps the changes made in Gatehouse', function () {
  this.timeout(600_000);
  let dot: DotService | undefined;
  let server: TestServer | undefined;
  let own: { server: TestServer; stop(): Promise<void> } | undefined;
  let apps: Record<string, SeededApplication>;

  before(async function () {
    const missing = await sourceServerProblem() ?? await ensureDjangoOAuthToolkit();
    if (missing) {
      this.test!.parent!.title += ` (skipped: ${missing})`;
      this.skip();
    }
    dot = await DotService.create('gh_f3_dot');
    apps = Object.fromEntries((await dot.seed()).applications.map((a) => [a.client_id, a]));
    own = await serverOfItsOwn();
    server = own.server;
  });
  after(async () => {
    await own?.stop();
    await dot?.destroy();
  });

  const importDot = async () => {
    const summary = await json<{ tables: Record<string, { created: number; updated: number; unchanged: number; skipped: number }> }>(
      cli(server!, 'import', 'django-oauth-toolkit', '--database-url', dot!.database.url, '--skip-unverifiable', '--json'));
    return summary.tables;
  };
  const passwordGrant = (username: string, secret: string) => postForm(`${server!.url}/auth/oauth2/token/`,
    { grant_type: 'password', username, password: `${username} correct horse battery` }, { authorization: basicAuth('community-app', secret) });

  it('a rotated secret, a superuser made a user and a deactivated user stay as Gatehouse has them; a change at DOT is written alone', async () => {
    expect((await importDot()).applications).to.include({ created: 4 });
    const rotated = await json<{ client_secret: string }>(cli(server!, 'client', 'rotate-secret', 'community-app', '--json'));
    expect((await cli(server!, 'user', 'update', 'root', '--role', 'user')).code).to.equal(0);
    expect((await cli(server!, 'user', 'update', 'holder', '--active', 'false')).code).to.equal(0);

    const tables = await importDot();
    expect(tables.applications).to.include({ created: 0, updated: 0, unchanged: 4 });
    expect(tables.users).to.include({ created: 0, updated: 0 });
    expect((await passwordGrant('user-pbkdf2-sha256', apps['community-app']!.client_secret)).status, 'the old secret stays refused').to.equal(401);
    expect((await passwordGrant('user-pbkdf2-sha256', rotated.client_secret)).status).to.equal(200);
    expect((await passwordGrant('holder', rotated.client_secret)).status, 'the deactivated user stays out').not.to.equal(200);
    expect((await server!.services.accounts.show('root')).roles).to.deep.equal(['user']);

    await dot!.python('seed.py', 'set-email', 'root', 'root@new.example.org');
    expect((await importDot()).users).to.include({ updated: 1, created: 0 });
    expect(await server!.services.accounts.show('root')).to.deep.include({ email: 'root@new.example.org', roles: ['user'] });
    expect((await server!.services.accounts.show('holder')).active).to.equal(false);
  });
});
