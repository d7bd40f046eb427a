import { chmod, lstat, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { expect } from 'chai';
import pg from 'pg';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { type CliResult, cliEnvironment, runCliIn } from '../support/built-cli.js';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth, postForm, postJson } from '../support/http.js';
import { removeRevocationSet, startTestServer, storageMode, tempDir, type TestServer } from '../support/server.js';

/** The built CLI against a server's own storage (its database, which may not be the environment's). */
function cli(server: TestServer, ...args: string[]): Promise<CliResult> {
  return runCliIn(cliEnvironment(server), args);
}

async function json(result: Promise<CliResult>): Promise<Record<string, unknown>> {
  const done = await result;
  expect(done.code, done.stderr).to.equal(0);
  return JSON.parse(done.stdout) as Record<string, unknown>;
}

const counts = (summary: Record<string, unknown>, kind: string) => {
  const { created, updated, unchanged, skipped } = summary[kind] as Record<string, number>;
  return { created, updated, unchanged, skipped };
};

describe('gatehouse import and export', function () {
  this.timeout(60_000);
  let server: TestServer;
  let dir: string;
  const stamp = Date.now();

  before(async () => {
    server = await startTestServer();
    dir = await tempDir('gh-import-');
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const clientCredentials = (id: string, secret: string, scope = 'user') =>
    postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope }, { authorization: basicAuth(id, secret) });

  it('import northstar: GET /v2/clients pages keep their client_id and secret; a re-run changes nothing, a changed title updates', async () => {
    const page = (clients: unknown[], current: number) => ({ data: clients, meta: { pagination: { total: 3, count: clients.length, per_page: 2, current_page: current, total_pages: 2, links: [] } } });
    const ns = (n: number, extra: Record<string, unknown> = {}) => ({
      title: `Northstar client ${n}`, description: 'A trusted example client.', client_id: `northstar-${stamp}-${n}`,
      client_secret: `Mq3kXQZldCXmDKs2XxJvC2qsuzfUus${n}Q`, scope: ['admin', 'user', 'role:admin'], refresh_tokens: 28,
      updated_at: '2016-07-07T15:46:21+0000', created_at: '2016-07-06T18:26:04+0000', ...extra,
    });
    const pages = [page([ns(1), ns(2, { redirect_uri: 'https://ns.example.test/callback' })], 1), page([ns(3, { scope: ['user'] })], 2)];
    const path = await file('northstar.json', JSON.stringify(pages));
    const first = await json(cli(server, 'import', 'northstar', '--file', path, '--json'));
    expect(counts(first, 'clients')).to.deep.equal({ created: 3, updated: 0, unchanged: 0, skipped: 0 });
    expect((await clientCredentials(`northstar-${stamp}-1`, 'Mq3kXQZldCXmDKs2XxJvC2qsuzfUus1Q')).status).to.equal(200);
    expect((await clientCredentials(`northstar-${stamp}-1`, 'Mq3kXQZldCXmDKs2XxJvC2qsuzfUus2Q')).status).to.equal(401);
    const shown = await json(cli(server, 'client', 'show', `northstar-${stamp}-2`, '--json'));
    expect(shown).to.include({ client_name: 'Northstar client 2', token_format: 'jwt', scope: 'admin user role:admin' });
    expect(shown.redirect_uris).to.deep.equal(['https://ns.example.test/callback']);
    expect(shown.grant_types).to.include('authorization_code');

    // One page a line is read the same way.
    const lines = await file('northstar.jsonl', pages.map((p) => JSON.stringify(p)).join('\n'));
    expect(counts(await json(cli(server, 'import', 'northstar', '--file', lines, '--json')), 'clients')).to.deep.equal({ created: 0, updated: 0, unchanged: 3, skipped: 0 });
    pages[1]!.data[0] = ns(3, { scope: ['user'], title: 'Renamed at Northstar' });
    const changed = await file('northstar-2.json', JSON.stringify(pages));
    expect(counts(await json(cli(server, 'import', 'northstar', '--file', changed, '--json')), 'clients')).to.deep.equal({ created: 0, updated: 1, unchanged: 2, skipped: 0 });
    expect(await json(cli(server, 'client', 'show', `northstar-${stamp}-3`, '--json'))).to.include({ client_name: 'Renamed at Northstar' });
  });

  it('import clients from CSV (quoted fields, two redirect URIs) and JSON Lines (public, skip_consent, dialect lifetimes); --dry-run writes nothing', async () => {
    const csv = await file('clients.csv', [
      'client_id,client_secret,name,description,grant_types,redirect_uris,scope,token_format,public',
      `lux-${stamp},"a-lux-secret-with-""quotes""-and,comma-0123456789",Lux app,"Said ""hello""",authorization_code refresh_token,"https://lux.example.test/cb https://lux.example.test/cb2",openid read,jwt,false`,
      `los-${stamp},short-los-secret,LOS service,,client_credentials,,read,opaque,false`,
    ].join('\r\n'));
    const dry = await json(cli(server, 'import', 'clients', '--file', csv, '--dry-run', '--json'));
    expect(dry.dry_run).to.equal(true);
    expect(counts(dry, 'clients')).to.deep.equal({ created: 2, updated: 0, unchanged: 0, skipped: 0 });
    expect((await cli(server, 'client', 'show', `lux-${stamp}`)).code, 'the dry run wrote nothing').to.equal(1);

    expect(counts(await json(cli(server, 'import', 'clients', '--file', csv, '--json')), 'clients')).to.deep.equal({ created: 2, updated: 0, unchanged: 0, skipped: 0 });
    expect(counts(await json(cli(server, 'import', 'clients', '--file', csv, '--json')), 'clients')).to.deep.equal({ created: 0, updated: 0, unchanged: 2, skipped: 0 });
    const lux = await json(cli(server, 'client', 'show', `lux-${stamp}`, '--json'));
    expect(lux).to.include({ description: 'Said "hello"', token_format: 'jwt' });
    expect(lux.redirect_uris).to.deep.equal(['https://lux.example.test/cb', 'https://lux.example.test/cb2']);
    expect((await clientCredentials(`los-${stamp}`, 'short-los-secret', 'read')).status, 'a legacy secret is kept as it was').to.equal(200);

    const jsonl = await file('clients.jsonl', [
      JSON.stringify({ client_id: `dot-${stamp}`, client_secret: 'dot-secret-0123456789-0123456789-abcdef', name: 'DOT app', grant_types: ['password', 'refresh_token'], scope: 'read write', access_token_lifetime: 3600, refresh_token_lifetime: 7200 }),
      JSON.stringify({ client_id: `spa-${stamp}`, name: 'Public SPA', public: true, grant_types: 'authorization_code', redirect_uris: ['https://spa.example.test/cb'], scope: 'openid', skip_consent: true }),
    ].join('\n'));
    expect(counts(await json(cli(server, 'import', 'clients', '--file', jsonl, '--json')), 'clients')).to.deep.equal({ created: 2, updated: 0, unchanged: 0, skipped: 0 });
    expect(await json(cli(server, 'client', 'show', `spa-${stamp}`, '--json'))).to.include({ public: true });
    // The client's own lifetimes, through the dialect it used to call.
    const user = { username: `dotuser-${stamp}`, password: 'dot user password' };
    await server.services.accounts.create(user);
    const reply = await postJson(`${server.url}/auth/oauth2/token/`, { grant_type: 'password', ...user }, { authorization: basicAuth(`dot-${stamp}`, 'dot-secret-0123456789-0123456789-abcdef') });
    expect(reply.status).to.equal(200);
    expect(reply.json.expires_in).to.equal(3600);
  });

  it('a client imported with skip_consent signs users in without the consent page; one without asks', async () => {
    const user = { username: `consenter-${stamp}`, password: 'consenting password' };
    await server.services.accounts.create(user);
    const path = await file('consent.jsonl', [true, false].map((skip) => JSON.stringify({
      client_id: `consent-${skip}-${stamp}`, name: 'Consent', public: true, grant_types: 'authorization_code', redirect_uris: 'https://spa.example.test/cb', scope: 'openid', skip_consent: skip,
    })).join('\n'));
    await json(cli(server, 'import', 'clients', '--file', path, '--json'));
    for (const skip of [true, false]) {
      const url = new URL(`${server.url}/auth`);
      const verifier = oidc.randomPKCECodeVerifier();
      for (const [key, value] of Object.entries({ client_id: `consent-${skip}-${stamp}`, redirect_uri: 'https://spa.example.test/cb', response_type: 'code', scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })) url.searchParams.set(key, value);
      const browser = new FormBrowser((next) => next.href.startsWith('https://spa.example.test/cb'));
      const page = await browser.submit(await browser.navigate(url.href), '/login', user);
      expect(page.url.startsWith('https://spa.example.test/cb?code='), `skip_consent ${skip}`).to.equal(skip);
      if (!skip) expect(page.html, 'the consent page').to.include('/confirm"');
    }
  });

  it('a skip_consent client still sends the user to the consent page, with its warning, for a restricted scope', async () => {
    const user = { username: `restricted-${stamp}`, password: 'restricted password' };
    await server.services.accounts.create({ ...user, roles: ['admin'] });
    const clientId = `trusted-admin-tool-${stamp}`;
    await json(cli(server, 'import', 'clients', '--json', '--file', await file('trusted.jsonl', JSON.stringify({
      client_id: clientId, name: 'Trusted admin tool', public: true, grant_types: 'authorization_code', redirect_uris: 'https://spa.example.test/cb', scope: 'openid role:admin', skip_consent: true,
    }))));
    const client = { clientId };
    for (const [scope, consentShown] of [['openid', false], ['openid role:admin', true]] as const) {
      const url = new URL(`${server.url}/auth`);
      const verifier = oidc.randomPKCECodeVerifier();
      for (const [key, value] of Object.entries({ client_id: client.clientId, redirect_uri: 'https://spa.example.test/cb', response_type: 'code', scope, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })) url.searchParams.set(key, value);
      const browser = new FormBrowser((next) => next.href.startsWith('https://spa.example.test/cb'));
      const page = await browser.submit(await browser.navigate(url.href), '/login', user);
      expect(page.html.includes('/confirm"'), `${scope}: the consent page`).to.equal(consentShown);
      expect(page.url.startsWith('https://spa.example.test/cb?code='), `${scope}: straight back with a code`).to.equal(!consentShown);
    }
  });

  it('a skip_consent client sends the user to the consent page for a scope restricted since the server started', async () => {
    const user = { username: `restricted-later-${stamp}`, password: 'restricted password' };
    await server.services.accounts.create(user);
    // A scope the server knew at start-up (one added since reaches the provider only at a restart).
    const scopeName = 'email';
    const before = await server.services.scopes.show(scopeName);
    const clientId = `trusted-ledger-${stamp}`;
    await json(cli(server, 'import', 'clients', '--json', '--file', await file('trusted-ledger.jsonl', JSON.stringify({
      client_id: clientId, name: 'Trusted ledger tool', public: true, grant_types: 'authorization_code', redirect_uris: 'https://spa.example.test/cb', scope: `openid ${scopeName}`, skip_consent: true,
    }))));
    // Restricted now, by an administrator, while this server runs.
    await server.services.scopes.update(scopeName, { description: before.description, warning: true });
    try {
      const url = new URL(`${server.url}/auth`);
      const verifier = oidc.randomPKCECodeVerifier();
      for (const [key, value] of Object.entries({ client_id: clientId, redirect_uri: 'https://spa.example.test/cb', response_type: 'code', scope: `openid ${scopeName}`, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })) url.searchParams.set(key, value);
      const browser = new FormBrowser((next) => next.href.startsWith('https://spa.example.test/cb'));
      const page = await browser.submit(await browser.navigate(url.href), '/login', user);
      expect(page.html.includes('/confirm"'), 'the consent page, with its warning').to.equal(true);
    } finally {
      await server.services.scopes.update(scopeName, { description: before.description, warning: before.warning });
    }
  });

  it('import users: hashes kept and verified at sign-in, re-runs idempotent, unverifiable hashes stop the import unless skipped', async () => {
    const users = [
      { username: `laravel-${stamp}`, email: 'laravel@example.test', name: 'Laravel User', role: 'user', active: true, password_hash: bcrypt.hashSync('northstar password', 6).replace('$2b$', '$2y$') },
      { username: `admin-${stamp}`, first_name: 'Ada', last_name: 'Admin', roles: ['admin'], active: true, password_hash: await hashPassword('gatehouse password') },
      { username: `gone-${stamp}`, active: false, password_hash: await hashPassword('inactive password') },
    ];
    const path = await file('users.jsonl', users.map((u) => JSON.stringify(u)).join('\n'));
    expect(counts(await json(cli(server, 'import', 'users', '--file', path, '--json')), 'users')).to.deep.equal({ created: 3, updated: 0, unchanged: 0, skipped: 0 });
    expect(counts(await json(cli(server, 'import', 'users', '--file', path, '--json')), 'users')).to.deep.equal({ created: 0, updated: 0, unchanged: 3, skipped: 0 });
    expect(await json(cli(server, 'user', 'show', `admin-${stamp}`, '--json'))).to.include({ name: 'Ada Admin', active: true }).and.have.deep.property('roles', ['admin']);
    expect(await server.services.accounts.authenticate(`laravel-${stamp}`, 'northstar password')).to.have.property('username', `laravel-${stamp}`);
    expect(await server.services.accounts.authenticate(`gone-${stamp}`, 'inactive password')).to.equal(undefined);

    const withBad = await file('users-bad.jsonl', [...users.slice(0, 1), { username: `new-${stamp}`, password_hash: await hashPassword('x'.repeat(10)) }, { username: `md5-${stamp}`, password_hash: 'md5$salt$1f3870be274f6c49b3e31a0c6728957f' }].map((u) => JSON.stringify(u)).join('\n'));
    const refused = await cli(server, 'import', 'users', '--file', withBad, '--json');
    expect(refused.code).to.equal(1);
    expect(JSON.parse(refused.stderr).error_description).to.match(/users-bad\.jsonl:3: .*md5.*cannot be verified.*--skip-unverifiable/s);
    expect((await cli(server, 'user', 'show', `new-${stamp}`)).code, 'nothing written').to.equal(1);
    const skipped = await json(cli(server, 'import', 'users', '--file', withBad, '--skip-unverifiable', '--json'));
    expect(counts(skipped, 'users')).to.deep.equal({ created: 1, updated: 0, unchanged: 1, skipped: 1 });
    expect((skipped.users as { skips: Array<{ id: string; reason: string }> }).skips).to.deep.equal([{ id: `md5-${stamp}`, reason: 'password hash format django md5 cannot be verified' }]);
  });

  it('refuses bad files with one clear error naming the line, and writes nothing from them', async function () {
    this.timeout(180_000); // three CLI processes a case, each opening the storage
    const good = JSON.stringify({ client_id: `good-${stamp}`, client_secret: 'good-secret-0123456789-0123456789-01', name: 'Good', grant_types: 'client_credentials', scope: 'read' });
    const cases: Array<{ name: string; command: string; text: string; code: number; message: RegExp }> = [
      { name: 'a line that is not JSON', command: 'clients', text: `${good}\n{"client_id": "x",`, code: 2, message: /bad\.jsonl line 2: not JSON/ },
      { name: 'an unknown scope', command: 'clients', text: `${good}\n${JSON.stringify({ client_id: `bad-${stamp}`, client_secret: 's'.repeat(40), name: 'Bad', grant_types: 'client_credentials', scope: 'teleport' })}`, code: 1, message: /bad\.jsonl:2: .*unknown scope: teleport/ },
      { name: 'a grant type that does not exist', command: 'clients', text: `${good}\n${JSON.stringify({ client_id: `bad-${stamp}`, client_secret: 's'.repeat(40), name: 'Bad', grant_types: 'implicit', scope: 'read' })}`, code: 1, message: /bad\.jsonl:2: grant_types/ },
      { name: 'a confidential client without a secret', command: 'clients', text: `${good}\n${JSON.stringify({ client_id: `bad-${stamp}`, name: 'Bad', grant_types: 'client_credentials', scope: 'read' })}`, code: 1, message: /exactly one of client_secret/ },
      { name: 'the same client_id twice', command: 'clients', text: `${good}\n${good}`, code: 1, message: /line 2: client_id "good-\d+" already appears on line 1/ },
      { name: 'the same username twice, in another case', command: 'users', text: `${JSON.stringify({ username: `twice-${stamp}`, password_hash: 'md5$salt$1f3870be274f6c49b3e31a0c6728957f' })}\n${JSON.stringify({ username: `TWICE-${stamp}`, password_hash: 'md5$salt$1f3870be274f6c49b3e31a0c6728957f' })}`, code: 1, message: /line 2: username "TWICE-\d+" already appears on line 1/ },
      { name: 'the dashboard’s reserved client', command: 'clients', text: `${good}\n${JSON.stringify({ client_id: 'gatehouse-dashboard', client_secret: 's'.repeat(40), name: 'Mine now', grant_types: 'client_credentials', scope: 'read' })}`, code: 1, message: /managed by Gatehouse itself/ },
      { name: 'a user without a password hash', command: 'users', text: JSON.stringify({ username: `nohash-${stamp}` }), code: 1, message: /line 1: password_hash is required/ },
      { name: 'a Northstar body without data', command: 'northstar', text: '{"clients": []}', code: 2, message: /page 1: not a Northstar GET \/v2\/clients body/ },
    ];
    for (const c of cases) {
      const path = await file(c.command === 'northstar' ? 'bad.json' : 'bad.jsonl', c.text);
      const result = await cli(server, 'import', c.command, '--file', path);
      expect(result.code, `${c.name}: ${result.stderr}`).to.equal(c.code);
      expect(result.stderr, c.name).to.match(c.message);
      expect((await cli(server, 'client', 'show', `good-${stamp}`)).code, `${c.name}: nothing written`).to.equal(1);
      // With --json, the same refusal as a JSON error: a bad row (exit 1) or a file that cannot be read (exit 2).
      const asJson = await cli(server, 'import', c.command, '--file', path, '--json');
      expect(asJson.code, `${c.name} --json`).to.equal(c.code);
      const body = JSON.parse(asJson.stderr) as { error: string; error_description: string };
      if (c.code === 2) expect(body.error, `${c.name} --json`).to.equal('invalid_usage');
      else expect(body.error, `${c.name} --json`).to.be.oneOf(['invalid_import', 'invalid_input', 'conflict']);
      expect(body.error_description, `${c.name} --json`).to.match(c.message);
    }
    const csv = await file('bad.csv', 'client_id,name\nx,y,z\n');
    expect((await cli(server, 'import', 'clients', '--file', csv)).stderr).to.match(/bad\.csv line 2: 3 fields, the header has 2/);
    expect((await cli(server, 'import', 'clients', '--file', join(dir, 'missing.jsonl'))).stderr).to.match(/cannot read .*ENOENT/);
  });

  it('import django-oauth-toolkit refuses a --scope that is not registered before it reads or writes anything, naming it', async () => {
    // A database that cannot be reached: refused for the scope, so it was never opened.
    const args = ['import', 'django-oauth-toolkit', '--database-url', 'postgres://reader@127.0.0.1:1/dot', '--scope', `read write groups-${stamp}`];
    const refused = await cli(server, ...args);
    expect(refused.code, refused.stderr).to.equal(1);
    expect(refused.stderr).to.include(`unknown scope: groups-${stamp}`).and.include('gatehouse scope add').and.not.include('cannot reach');
    const asJson = await cli(server, ...args, '--json');
    expect(asJson.code).to.equal(1);
    expect(JSON.parse(asJson.stderr)).to.include({ error: 'invalid_input' }).and.have.nested.property('fields[0].field', '--scope');
    expect((await cli(server, 'import', 'django-oauth-toolkit', '--database-url', 'postgres://reader@127.0.0.1:1/dot', '--scope', '')).code, 'no scope at all').to.equal(2);
  });

  it('export → import into a fresh server: every client and user comes across and works; the default export holds no secret in the clear', async () => {
    const secretOf = 'export-secret-0123456789-0123456789-abc';
    // Its own storage, so the export holds exactly what this test put there.
    const source = await freshServer();
    const server = source.server;
    try {
      await json(cli(server, 'client', 'create', '--name', 'Exported', '--client-id', `exported-${stamp}`, '--grant-types', 'password,refresh_token', '--scope', 'read', '--client-secret', secretOf, '--json'));
      await json(cli(server, 'client', 'create', '--name', 'Exported PAR', '--client-id', `exported-par-${stamp}`, '--grant-types', 'authorization_code', '--redirect-uris', 'https://par.example.test/cb', '--scope', 'openid', '--require-par', '--backchannel-logout-uri', 'https://par.example.test/logout', '--json'));
      const exportedUser = await server.services.accounts.create({ username: `exported-${stamp}`, password: 'exported password', roles: ['staff'] });
      await json(cli(server, 'resource', 'add', '--uri', `https://api-${stamp}.example.test`, '--scope', 'read', '--json'));

      const sealedPath = join(dir, 'export.jsonl');
      const exported = await json(cli(server, 'export', '--file', sealedPath, '--json'));
      expect(exported.users).to.be.greaterThan(0);
      expect(((await stat(sealedPath)).mode & 0o777).toString(8), 'owner-only: it holds password hashes').to.equal('600');
      const sealedText = await readFile(sealedPath, 'utf8');
      expect(sealedText).not.to.include(secretOf);
      expect(sealedText).to.match(/"client_secret_sealed":"aes-256-gcm\./);

      const clearPath = join(dir, 'export-clear.jsonl');
      // What was at the path before does not decide who can read the export:
      // a world-readable file keeps no mode of its own, a planted link is replaced, not followed.
      await writeFile(clearPath, 'old', { mode: 0o644 });
      await chmod(clearPath, 0o644);
      await json(cli(server, 'export', '--file', clearPath, '--include-secrets', '--json'));
      expect(await readFile(clearPath, 'utf8')).to.include(`"client_secret":"${secretOf}"`);
      expect(((await stat(clearPath)).mode & 0o777).toString(8)).to.equal('600');
      const linkTarget = join(dir, 'someone-elses.txt');
      await writeFile(linkTarget, 'not to be overwritten', { mode: 0o666 });
      const linked = join(dir, 'linked-export.jsonl');
      await symlink(linkTarget, linked);
      await json(cli(server, 'export', '--file', linked, '--include-secrets', '--json'));
      expect(await readFile(linkTarget, 'utf8')).to.equal('not to be overwritten');
      expect((await lstat(linked)).isSymbolicLink()).to.equal(false);
      expect(((await stat(linked)).mode & 0o777).toString(8)).to.equal('600');
      expect((await readdir(dir)).filter((name) => name.endsWith('.tmp')), 'no temporary file left').to.deep.equal([]);

      // Read back into the deployment that wrote it (a restore): the same accounts, made here, are unchanged, not refused.
      const restored = await json(cli(server, 'import', 'gatehouse', '--file', sealedPath, '--json'));
      expect(counts(restored, 'users')).to.include({ created: 0, updated: 0, unchanged: exported.users });

      const fresh = await freshServer();
      try {
        const first = await json(cli(fresh.server, 'import', 'gatehouse', '--file', clearPath, '--json'));
        expect(counts(first, 'clients').created).to.equal(exported.clients);
        expect(counts(first, 'users').created).to.equal(exported.users);
        expect(counts(first, 'resource_servers').created).to.equal(exported.resource_servers);
        const again = await json(cli(fresh.server, 'import', 'gatehouse', '--file', clearPath, '--json'));
        for (const kind of ['scopes', 'resource_servers', 'clients', 'users']) expect(counts(again, kind), kind).to.include({ created: 0, updated: 0 });

        const grant = await postForm(`${fresh.server.url}/token`, { grant_type: 'password', username: `exported-${stamp}`, password: 'exported password', scope: 'read' }, { authorization: basicAuth(`exported-${stamp}`, secretOf) });
        expect(grant.status, JSON.stringify(grant.json)).to.equal(200);
        // The account keeps its id, so its tokens' `sub` is the one relying parties know (OIDC Core §5.7).
        expect((await fresh.server.services.accounts.show(`exported-${stamp}`)).id).to.equal(exportedUser.id);
        const introspected = await postForm(`${fresh.server.url}/token/introspection`, { token: grant.json.access_token as string }, { authorization: basicAuth(`exported-${stamp}`, secretOf) });
        expect(introspected.json.sub).to.equal(exportedUser.id);
        // The fresh server's export is the same document.
        const roundTrip = join(dir, 'export-round-trip.jsonl');
        await json(cli(fresh.server, 'export', '--file', roundTrip, '--include-secrets', '--json'));
        const sorted = async (path: string) => (await readFile(path, 'utf8')).trim().split('\n').sort();
        expect(await sorted(roundTrip)).to.deep.equal(await sorted(clearPath));
      } finally {
        await fresh.stop();
      }
    } finally {
      await source.stop();
    }
  });
});

let freshServers = 0;

/**
 * A second server with empty storage: its own embedded folder, or with
 * PostgreSQL its own database (created here, dropped after) and Redis prefix.
 */
async function freshServer(): Promise<{ server: TestServer; stop(): Promise<void> }> {
  if (!storageMode.postgres) {
    const server = await startTestServer();
    return { server, stop: () => server.stop() };
  }
  freshServers += 1;
  const name = `gh_imp_fresh_${process.pid}_${Date.now()}_${freshServers}`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${name}`;
  const server = await startTestServer({ DATABASE_URL: url.toString(), REDIS_PREFIX: `${name}:` });
  return {
    server,
    async stop() {
      await server.stop();
      await removeRevocationSet(server.config);
      // FORCE: behind a pooler (CI runs the suite through PgBouncer) the
      // pooler, not the stopped server, still holds connections to it.
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
