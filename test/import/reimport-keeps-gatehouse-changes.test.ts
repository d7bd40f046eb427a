import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
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
    // Other suites sharing the database count the resource servers registered.
    for (const { uri } of await server.services.resourceServers.list()) {
      if (uri.includes(`-${stamp}.example.test`)) await server.services.resourceServers.remove(uri);
    }
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
  const tokenStatus = async (clientId: string, secret: string, scope = 'read') =>
    (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope }, { authorization: basicAuth(clientId, secret) })).status;
  /**
   * The token endpoint's answer for a secret, once the server has caught up:
   * the CLI changes clients in a process of its own, and a server serves a
   * copy of a client up to a second old (docs/operations: within a second).
   */
  const settledTokenStatus = async (clientId: string, secret: string, expected: number, scope = 'read') => {
    let status = await tokenStatus(clientId, secret, scope);
    // Every 300 ms: a refused secret counts against the client's brute-force limit.
    for (const deadline = Date.now() + 2500; status !== expected && Date.now() < deadline; status = await tokenStatus(clientId, secret, scope)) {
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return status;
  };
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
    expect(await settledTokenStatus(id, rotated.client_secret, 200), 'the secret rotated in Gatehouse').to.equal(200);
    expect(await settledTokenStatus(id, row.client_secret, 401), 'the leaked one stays refused').to.equal(401);
    expect((await show(id)).description).to.equal('set in Gatehouse');

    // A change at the source is written, and nothing else.
    const renamed = await file('le-renamed.jsonl', [{ ...row, name: 'LE partner (renamed at the source)' }]);
    expect(counts((await importFile('clients', renamed)).clients!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect(await show(id)).to.include({ name: 'LE partner (renamed at the source)', description: 'set in Gatehouse' });
    expect(await settledTokenStatus(id, rotated.client_secret, 200)).to.equal(200);
    expect(await settledTokenStatus(id, row.client_secret, 401)).to.equal(401);
    const imported = (await server.services.audit.list({ clientId: id, perPage: 50 })).items.find((event) => event.event === 'client.imported' && event.detail.outcome === 'updated');
    expect(imported?.detail.fields).to.deep.equal(['client_name']);

    // A secret changed at the source is the source's news: it is taken.
    const newSecret = 'changed-at-the-source-0123456789abcdef012';
    const resecreted = await file('le-resecreted.jsonl', [{ ...row, name: 'LE partner (renamed at the source)', client_secret: newSecret }]);
    expect(counts((await importFile('clients', resecreted)).clients!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect(await settledTokenStatus(id, newSecret, 200)).to.equal(200);
    expect(await settledTokenStatus(id, rotated.client_secret, 401)).to.equal(401);
    expect((await show(id)).description).to.equal('set in Gatehouse');
  });

  it('an import of an export in between does not make the next run of the original import undo a change made in Gatehouse (each source keeps its own fingerprints)', async () => {
    const id = `restored-${stamp}`;
    const row = { client_id: id, client_secret: 'the-old-servers-secret-0123456789abcdef', name: 'Restored', description: 'from the source', grant_types: 'client_credentials', scope: 'read' };
    const path = await file('restored.jsonl', [row]);
    expect(counts((await importFile('clients', path)).clients!)).to.deep.equal({ created: 1, updated: 0, unchanged: 0, skipped: 0 });
    // Changed in Gatehouse before the export, and again after its import.
    await json(cli(server, 'client', 'rotate-secret', id, '--json'));
    expect((await cli(server, 'client', 'update', id, '--description', 'set in Gatehouse')).code).to.equal(0);
    const everything = join(dir, 'restored-export.jsonl');
    expect((await cli(server, 'export', '--file', everything)).code).to.equal(0);
    // The export holds only this client: the rest of a shared database is not this test's to rewrite.
    const own = (await readFile(everything, 'utf8')).split('\n').filter((line) => line.includes(`"${id}"`));
    const restore = await file('restored-own-export.jsonl', own.map((line) => JSON.parse(line)));
    await importFile('gatehouse', restore);
    const rotated = await json<{ client_secret: string }>(cli(server, 'client', 'rotate-secret', id, '--json'));

    // Before: the export's fingerprint had replaced the file's, so the file looked changed at the source.
    expect(counts((await importFile('clients', path)).clients!), 'the file did not change').to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(await settledTokenStatus(id, rotated.client_secret, 200), 'the secret rotated in Gatehouse').to.equal(200);
    expect(await settledTokenStatus(id, row.client_secret, 401), 'the old server’s stays refused').to.equal(401);
    expect((await show(id)).description).to.equal('set in Gatehouse');
    expect(counts((await importFile('gatehouse', restore)).clients!), 'nor did the export').to.deep.include({ updated: 0 });
    expect(await settledTokenStatus(id, rotated.client_secret, 200)).to.equal(200);
  });

  it('a fingerprint recorded before sources were told apart answers for the next import, which then keeps its own', async () => {
    const id = `unsourced-${stamp}`;
    const row = { client_id: id, client_secret: 'recorded-before-sources-0123456789abcdef', name: 'Unsourced', grant_types: 'client_credentials', scope: 'read' };
    const path = await file('unsourced.jsonl', [row]);
    await importFile('clients', path);
    const db = sqlDatabaseOf(server.services.storage);
    // As migration 0015 leaves a row recorded before it.
    await db.query("UPDATE import_fingerprints SET source = '' WHERE kind = 'client' AND key = $1", [id]);
    const rotated = await json<{ client_secret: string }>(cli(server, 'client', 'rotate-secret', id, '--json'));
    expect(counts((await importFile('clients', path)).clients!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(await settledTokenStatus(id, rotated.client_secret, 200)).to.equal(200);
    // A change at the source is known as one against that row, and recorded as the file's own.
    const renamed = await file('unsourced-renamed.jsonl', [{ ...row, name: 'Unsourced, renamed at the source' }]);
    expect(counts((await importFile('clients', renamed)).clients!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect(await settledTokenStatus(id, rotated.client_secret, 200)).to.equal(200);
    const { rows } = await db.query<{ source: string }>("SELECT source FROM import_fingerprints WHERE kind = 'client' AND key = $1", [id]);
    expect(rows.map((r) => r.source), 'the row of no source is taken over').to.deep.equal(['clients']);
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
    expect(await settledTokenStatus(id, rotated.client_secret, 200, 'user')).to.equal(200);
    expect(await settledTokenStatus(id, secret, 401, 'user')).to.equal(401);
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
    expect(await settledTokenStatus(id, rotated.client_secret, 200)).to.equal(200);
    expect(await settledTokenStatus(id, row.client_secret, 401)).to.equal(401);
    const adopted = (await server.services.audit.list({ clientId: id, perPage: 50 })).items.find((event) => event.event === 'client.import_adopted');
    expect(adopted?.detail.kept).to.deep.equal(['client_secret']);
    expect(counts((await importFile('users', users)).users!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(await server.services.accounts.show(username)).to.deep.include({ roles: ['user'], active: false });

    // From now on the source's changes are known as changes.
    const renamed = await file('upgraded-client-2.jsonl', [{ ...row, name: 'Upgraded, renamed at the source' }]);
    expect(counts((await importFile('clients', renamed)).clients!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect((await show(id)).name).to.equal('Upgraded, renamed at the source');
    expect(await settledTokenStatus(id, rotated.client_secret, 200)).to.equal(200);
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

  // Scopes and resource servers, as `gatehouse export` writes them (an old deployment's export, re-imported until the cut-over).
  const registryFile = async (name: string, tag: string, scope: { description: string; warning?: boolean }, server: { access_token_ttl?: number | null; signing_alg?: string } = {}) => {
    const scopeName = `reports:${tag}`;
    const uri = `https://reports-${tag}.example.test/`;
    const path = await file(name, [
      { kind: 'scope', name: scopeName, description: scope.description, warning: scope.warning ?? false },
      { kind: 'resource_server', uri, scope: `openid ${scopeName}`, token_format: 'jwt', access_token_ttl: 600, signing_alg: 'RS256', ...server },
    ]);
    return { path, scopeName, uri };
  };
  const importExport = (path: string, ...extra: string[]) => importFile('gatehouse', path, ...extra);
  const auditOf = async (event: string, matches: (detail: Record<string, unknown>) => boolean) =>
    (await server.services.audit.search({ event, perPage: 500 })).items.filter((item) => matches(item.detail));
  const fingerprinted = async (kind: string, key: string) =>
    (await sqlDatabaseOf(server.services.storage).query('SELECT 1 FROM import_fingerprints WHERE kind = $1 AND key = $2', [kind, key])).rows.length > 0;

  it('import gatehouse: a scope made restricted and a resource server lifetime changed in Gatehouse survive a re-run of the old export', async () => {
    const tag = `kept-${stamp}`;
    const old = await registryFile('old-export.jsonl', tag, { description: 'Reads reports' });
    const first = await importExport(old.path);
    expect(counts(first.scopes!)).to.deep.equal({ created: 1, updated: 0, unchanged: 0, skipped: 0 });
    expect(counts(first.resource_servers!)).to.deep.equal({ created: 1, updated: 0, unchanged: 0, skipped: 0 });
    // The file re-run below is what `gatehouse export` writes of these two (its clients and users are other tests' matter).
    const everything = join(dir, 'export-everything.jsonl');
    expect((await cli(server, 'export', '--file', everything)).code).to.equal(0);
    const exported = (await readFile(everything, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.name === old.scopeName || line.uri === old.uri);
    expect(exported).to.have.length(2);
    const exportPath = await file('export.jsonl', exported);

    expect((await cli(server, 'scope', 'add', '--name', old.scopeName, '--description', 'Reads reports', '--warning', '--replace')).code).to.equal(0);
    expect((await cli(server, 'resource', 'add', '--uri', old.uri, '--scope', `openid ${old.scopeName}`, '--ttl', '120')).code).to.equal(0);

    const again = await importExport(exportPath);
    expect(counts(again.scopes!), 'the source did not change').to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(counts(again.resource_servers!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect((await server.services.scopes.show(old.scopeName)).warning, 'still restricted: flagged on the consent page').to.equal(true);
    expect((await server.services.resourceServers.show(old.uri)).accessTokenTtl).to.equal(120);

    // A description changed at the source is written, and nothing else.
    const described = await registryFile('old-export-described.jsonl', tag, { description: 'Reads and lists reports' });
    const changed = await importExport(described.path);
    expect(counts(changed.scopes!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect(counts(changed.resource_servers!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(await server.services.scopes.show(old.scopeName)).to.deep.equal({ name: old.scopeName, description: 'Reads and lists reports', warning: true });
    expect((await server.services.resourceServers.show(old.uri)).accessTokenTtl).to.equal(120);
    const [imported] = await auditOf('scope.imported', (detail) => detail.name === old.scopeName && detail.outcome === 'updated');
    expect(imported?.detail.fields).to.deep.equal(['description']);

    // Removed in Gatehouse: not registered again.
    expect((await cli(server, 'resource', 'remove', old.uri)).code).to.equal(0);
    const removed = (await importExport(described.path)).resource_servers!;
    expect(counts(removed)).to.deep.equal({ created: 0, updated: 0, unchanged: 0, skipped: 1 });
    expect(removed.skips[0]!.reason).to.match(/deleted in Gatehouse after an earlier import/);
    expect((await server.services.resourceServers.list()).some((known) => known.uri === old.uri)).to.equal(false);
  });

  it('import gatehouse: a resource server setting changed at the source is written alone, onto the lifetime set in Gatehouse', async () => {
    const tag = `alg-${stamp}`;
    const old = await registryFile('alg.jsonl', tag, { description: 'Reads reports' });
    await importExport(old.path);
    expect((await cli(server, 'resource', 'add', '--uri', old.uri, '--scope', `openid ${old.scopeName}`, '--ttl', '90')).code).to.equal(0);
    const moved = await registryFile('alg-2.jsonl', tag, { description: 'Reads reports' }, { signing_alg: 'ES256' });
    expect(counts((await importExport(moved.path)).resource_servers!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect(await server.services.resourceServers.show(old.uri)).to.deep.include({ signingAlg: 'ES256', accessTokenTtl: 90 });
    const [imported] = await auditOf('resource_server.imported', (detail) => detail.uri === old.uri && detail.outcome === 'updated');
    expect(imported?.detail.fields).to.deep.equal(['signing_alg']);
  });

  it('import gatehouse, first re-run after upgrading: scopes and resource servers keep what Gatehouse has, the source recorded from then on', async () => {
    const tag = `adopted-${stamp}`;
    const old = await registryFile('adopted.jsonl', tag, { description: 'Reads reports' });
    await importExport(old.path);
    expect((await cli(server, 'scope', 'add', '--name', old.scopeName, '--description', 'Reads reports', '--warning', '--replace')).code).to.equal(0);
    expect((await cli(server, 'resource', 'add', '--uri', old.uri, '--scope', `openid ${old.scopeName}`, '--ttl', '120')).code).to.equal(0);
    // As an import made before fingerprints were kept for them left them.
    await forgetFingerprints('scope', old.scopeName);
    await forgetFingerprints('resource_server', old.uri);

    const dry = await importExport(old.path, '--dry-run');
    expect(counts(dry.scopes!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(await fingerprinted('scope', old.scopeName), 'a dry run records nothing').to.equal(false);
    const adopted = await importExport(old.path);
    expect(counts(adopted.scopes!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect(counts(adopted.resource_servers!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    expect((await server.services.scopes.show(old.scopeName)).warning).to.equal(true);
    expect((await server.services.resourceServers.show(old.uri)).accessTokenTtl).to.equal(120);
    expect((await auditOf('scope.import_adopted', (detail) => detail.name === old.scopeName))[0]?.detail.kept).to.deep.equal(['warning']);
    expect((await auditOf('resource_server.import_adopted', (detail) => detail.uri === old.uri))[0]?.detail.kept).to.deep.equal(['access_token_ttl']);

    // From now on the source's changes are known as changes.
    const described = await registryFile('adopted-2.jsonl', tag, { description: 'Reads and lists reports' });
    expect(counts((await importExport(described.path)).scopes!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect(await server.services.scopes.show(old.scopeName)).to.deep.include({ description: 'Reads and lists reports', warning: true });
  });

  it('import gatehouse into a deployment that has the scope but never imported it: a restriction at the source is carried, the rest kept', async () => {
    // As a move into a fresh deployment meets its built-in scopes.
    const tag = `restricted-${stamp}`;
    const source = await registryFile('restricted.jsonl', tag, { description: 'Reads reports (source wording)', warning: true });
    expect((await cli(server, 'scope', 'add', '--name', source.scopeName, '--description', 'Reads reports')).code).to.equal(0);
    expect(counts((await importExport(source.path, '--dry-run')).scopes!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect((await server.services.scopes.show(source.scopeName)).warning).to.equal(false);
    expect(counts((await importExport(source.path)).scopes!)).to.deep.equal({ created: 0, updated: 1, unchanged: 0, skipped: 0 });
    expect(await server.services.scopes.show(source.scopeName)).to.deep.include({ description: 'Reads reports', warning: true });
    expect((await auditOf('scope.import_adopted', (detail) => detail.name === source.scopeName))[0]?.detail.kept).to.deep.equal(['description']);
    const [imported] = await auditOf('scope.imported', (detail) => detail.name === source.scopeName);
    expect(imported?.detail).to.deep.include({ fields: ['warning'], changes: { warning: { from: false, to: true } } });
  });

  it('import gatehouse --dry-run records no scope or resource server: the real run after it still sees the source change', async () => {
    const tag = `dry-${stamp}`;
    const fresh = await registryFile('dry-registry.jsonl', tag, { description: 'Reads reports' });
    const planned = await importExport(fresh.path, '--dry-run');
    expect(counts(planned.scopes!)).to.deep.equal({ created: 1, updated: 0, unchanged: 0, skipped: 0 });
    expect(counts(planned.resource_servers!)).to.deep.equal({ created: 1, updated: 0, unchanged: 0, skipped: 0 });
    expect((await server.services.scopes.names()).includes(fresh.scopeName)).to.equal(false);
    expect(await fingerprinted('scope', fresh.scopeName)).to.equal(false);
    expect(await fingerprinted('resource_server', fresh.uri)).to.equal(false);

    await importExport(fresh.path);
    // A dry run answers what the real run would do: nothing, over a change made in Gatehouse.
    expect((await cli(server, 'scope', 'add', '--name', fresh.scopeName, '--description', 'Reads reports', '--warning', '--replace')).code).to.equal(0);
    expect(counts((await importExport(fresh.path, '--dry-run')).scopes!)).to.deep.equal({ created: 0, updated: 0, unchanged: 1, skipped: 0 });
    const changed = await registryFile('dry-registry-2.jsonl', tag, { description: 'New at the source' }, { access_token_ttl: 300 });
    const dry = await importExport(changed.path, '--dry-run');
    expect(counts(dry.scopes!).updated).to.equal(1);
    expect(counts(dry.resource_servers!).updated).to.equal(1);
    expect((await server.services.scopes.show(fresh.scopeName)).description).to.equal('Reads reports');
    expect((await server.services.resourceServers.show(fresh.uri)).accessTokenTtl).to.equal(600);
    const real = await importExport(changed.path);
    expect(counts(real.scopes!).updated).to.equal(1);
    expect(counts(real.resource_servers!).updated).to.equal(1);
    expect(await server.services.scopes.show(fresh.scopeName)).to.deep.include({ description: 'New at the source', warning: true });
    expect((await server.services.resourceServers.show(fresh.uri)).accessTokenTtl).to.equal(300);
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
