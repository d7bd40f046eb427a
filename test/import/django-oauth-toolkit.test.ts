import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { basicAuth, postForm, send } from '../support/http.js';
import { runCli } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  createSourceDatabase, DotService, ensureDjangoOAuthToolkit, type SeededApplication, type SeededUser, sourceServerProblem,
} from '../support/dot-service.js';

interface Summary {
  dry_run: boolean;
  tables: Record<string, { created: number; updated: number; unchanged: number; skipped: number; vanished: number; reasons: Record<string, number> }>;
  skipped: Array<{ table: string; key: string; reason: string }>;
  vanished: Array<{ table: string; key: string }>;
}

interface DotTokens { access_token: string; refresh_token?: string }

/**
 * The cut-over from a real django-oauth-toolkit service: Debian's DOT 1.7 on
 * Django 3.2, its schema made by its own migrations, its users hashed by
 * Django's own hashers, its tokens issued by its own token endpoint. Then
 * `gatehouse import django-oauth-toolkit` and the same credentials and token
 * strings at Gatehouse.
 */
describe('gatehouse import django-oauth-toolkit: a real DOT service brought across', function () {
  this.timeout(900_000);
  let dot: DotService | undefined;
  let server: TestServer | undefined;
  let users: Record<string, SeededUser>;
  let apps: Record<string, SeededApplication>;
  const tokens: Record<string, DotTokens> = {};
  /** Whether DOT itself refused the refresh token of the logged-out pair. */
  let dotRefusesLoggedOut: boolean;

  const app = (clientId: string) => ({ id: clientId, secret: apps[clientId]!.client_secret });
  const importArgs = (...extra: string[]) => ['import', 'django-oauth-toolkit', '--database-url', dot!.database.url, ...extra];
  async function importJson(...extra: string[]): Promise<Summary> {
    const result = await runCli(server!, ...importArgs('--json', ...extra));
    expect(result.code, result.stderr).to.equal(0);
    return JSON.parse(result.stdout) as Summary;
  }
  const whoami = (token: string) => send(`${server!.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
  const dotToken = (clientId: string, form: Record<string, string>) => postForm(`${server!.url}/auth/oauth2/token/`, form,
    apps[clientId]!.client_type === 'public' ? {} : { authorization: basicAuth(clientId, apps[clientId]!.client_secret) });
  const signIn = (username: string, password = users[username]!.password) => dotToken('community-app', { grant_type: 'password', username, password });

  before(async function () {
    const missing = await sourceServerProblem() ?? await ensureDjangoOAuthToolkit();
    if (missing) {
      this.test!.parent!.title += ` (skipped: ${missing})`;
      this.skip();
    }
    dot = await DotService.create();
    const seeded = await dot.seed();
    users = Object.fromEntries(seeded.users.map((u) => [u.username, u]));
    apps = Object.fromEntries(seeded.applications.map((a) => [a.client_id, a]));

    // Tokens from DOT's own token endpoint (pbkdf2_sha256 users only: Django
    // rehashes any other format to its first hasher when it checks a password).
    await dot.serve();
    const password = (username: string, clientId: string) => dot!.post('/o/token/', {
      grant_type: 'password', username, password: users[username]!.password,
      ...(apps[clientId]!.client_type === 'public' ? { client_id: clientId } : {}),
    }, apps[clientId]!.client_type === 'public' ? undefined : app(clientId));
    for (const [name, username, clientId] of [['holder', 'holder', 'community-app'], ['mobile', 'holder', 'mobile-app'],
      ['revoked', 'revoked-holder', 'community-app'], ['expired', 'expired-holder', 'community-app'], ['loggedOut', 'holder', 'community-app']] as const) {
      const reply = await password(username, clientId);
      expect(reply.status, JSON.stringify(reply.json)).to.equal(200);
      tokens[name] = reply.json as unknown as DotTokens;
    }
    const machine = await dot.post('/o/token/', { grant_type: 'client_credentials' }, app('batch-job'));
    expect(machine.status, JSON.stringify(machine.json)).to.equal(200);
    tokens.machine = machine.json as unknown as DotTokens;
    // DOT's own revocation endpoint: the refresh token is marked revoked, its access token deleted.
    const revoked = await dot.post('/o/revoke_token/', { token: tokens.revoked!.refresh_token!, token_type_hint: 'refresh_token' }, app('community-app'));
    expect(revoked.status).to.equal(200);
    // A logout: the access token revoked, which deletes it and leaves its refresh token without one.
    const loggedOut = await dot.post('/o/revoke_token/', { token: tokens.loggedOut!.access_token, token_type_hint: 'access_token' }, app('community-app'));
    expect(loggedOut.status).to.equal(200);
    dotRefusesLoggedOut = await fetch(`${dot.baseUrl}/o/token/`, {
      method: 'POST',
      headers: { authorization: basicAuth('community-app', apps['community-app']!.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.loggedOut!.refresh_token! }),
    }).then((reply) => reply.status !== 200);
    await dot.python('seed.py', 'expire', tokens.expired!.access_token);
    await dot.stopServing();

    server = await startTestServer();
  });

  after(async () => {
    await server?.stop();
    await dot?.destroy();
  });

  it('DOT issued 30-character tokens, the length Gatehouse must not turn away', () => {
    expect(tokens.holder!.access_token).to.have.length(30);
    expect(tokens.holder!.refresh_token).to.have.length(30);
  });

  it('refuses an unreachable database, with a clear error and nothing written', async () => {
    const result = await runCli(server!, 'import', 'django-oauth-toolkit', '--database-url', 'postgres://postgres@127.0.0.1:1/nothing');
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/cannot reach the django-oauth-toolkit database/);
    expect(await server!.services.clients.exists('community-app')).to.equal(false);
  });

  it('refuses a database whose schema is not DOT\'s, naming what is missing, and writes nothing', async () => {
    const empty = await createSourceDatabase('gh_dot_empty');
    try {
      const result = await runCli(server!, 'import', 'django-oauth-toolkit', '--database-url', empty.url, '--json');
      expect(result.code).to.equal(1);
      const error = JSON.parse(result.stderr.trim().split('\n').pop()!) as { error: string; error_description: string };
      expect(error.error).to.equal('invalid_source');
      expect(error.error_description).to.match(/not a django-oauth-toolkit database.*oauth2_provider_application\.client_id/);
    } finally {
      await empty.drop();
    }
    expect(await server!.services.clients.exists('community-app')).to.equal(false);
  });

  it('lists, by user, the password hashes it cannot verify and writes nothing unless told to skip them', async () => {
    const result = await runCli(server!, ...importArgs('--json'));
    expect(result.code).to.equal(1);
    const error = JSON.parse(result.stderr.trim().split('\n').pop()!) as { error: string; fields: Array<{ field: string; message: string }> };
    expect(error.error).to.equal('invalid_input');
    expect(error.fields.filter((f) => f.field.startsWith('user '))).to.deep.equal([
      { field: 'user legacy-md5', message: 'password hash format django md5 cannot be verified by Gatehouse' },
    ]);
    expect(await server!.services.clients.exists('community-app')).to.equal(false);
    expect((await whoami(tokens.holder!.access_token)).status).to.equal(401);
  });

  it('--dry-run counts what it would create and writes nothing', async () => {
    const summary = await importJson('--dry-run', '--skip-unverifiable');
    expect(summary.dry_run).to.equal(true);
    expect(summary.tables.applications).to.include({ created: 4, skipped: 1, updated: 0, unchanged: 0 });
    expect(summary.tables.users).to.include({ created: 10, skipped: 1 });
    expect(summary.tables.accessTokens!.created).to.equal(2);
    expect(await server!.services.clients.exists('community-app')).to.equal(false);
    expect((await whoami(tokens.holder!.access_token)).status).to.equal(401);
  });

  it('imports applications, users and live tokens, and says what it skipped and why', async () => {
    const summary = await importJson('--skip-unverifiable');
    expect(summary.dry_run).to.equal(false);
    // DOT lets a public client use the password grant; Gatehouse's client rules do not (RFC 9700 §2.4).
    expect(summary.tables.applications).to.include({ created: 4, skipped: 1 });
    expect(summary.skipped.find((s) => s.key === 'mobile-app')?.reason).to.match(/public client.*password/);
    expect(summary.tables.users).to.include({ created: 10, skipped: 1 });
    expect(summary.skipped.find((s) => s.key === 'legacy-md5')?.reason).to.match(/md5/);
    // holder's and expired-holder's (a refresh token outlives its access token);
    // revoked-holder's was revoked, the logged-out one's access token was revoked,
    // the mobile app's client was refused.
    expect(summary.tables.refreshTokens).to.include({ created: 2, skipped: 3 });
    expect(summary.tables.refreshTokens!.reasons).to.deep.equal({
      revoked: 1, 'its access token was revoked or deleted at the source, so django-oauth-toolkit refuses it': 1, 'its client was not imported': 1,
    });
    expect(summary.tables.accessTokens).to.include({ created: 2, skipped: 2 });
    expect(summary.tables.accessTokens!.reasons).to.deep.equal({ expired: 1, 'its client was not imported': 1 });
  });

  it('the same access token strings work at /api/whoami, for the same user and client', async () => {
    const holder = await whoami(tokens.holder!.access_token);
    expect(holder.status, holder.text).to.equal(200);
    expect(holder.json).to.include({ client_id: 'community-app', scope: 'read write' });
    expect(holder.json.sub).to.equal((await account('holder')).id);
    const machine = await whoami(tokens.machine!.access_token);
    expect(machine.status, machine.text).to.equal(200);
    expect(machine.json).to.include({ client_id: 'batch-job', sub: null });
  });

  it('introspection calls imported tokens active, with their original expiry', async () => {
    const auth = { authorization: basicAuth('community-app', apps['community-app']!.client_secret) };
    const access = await postForm(`${server!.url}/token/introspection`, { token: tokens.holder!.access_token }, auth);
    expect(access.json).to.include({ active: true, client_id: 'community-app', scope: 'read write' });
    const refresh = await postForm(`${server!.url}/token/introspection`, { token: tokens.holder!.refresh_token! }, auth);
    expect(refresh.json).to.include({ active: true, client_id: 'community-app' });
  });

  it('expired and revoked tokens stay dead', async () => {
    expect((await whoami(tokens.expired!.access_token)).status).to.equal(401);
    expect((await whoami(tokens.revoked!.access_token)).status).to.equal(401);
    const reply = await dotToken('community-app', { grant_type: 'refresh_token', refresh_token: tokens.revoked!.refresh_token! });
    expect(reply.status).to.equal(400);
    expect(reply.json.error).to.equal('invalid_grant');
  });

  it('a refresh token DOT itself refuses, its access token revoked at DOT (a logout), stays dead', async () => {
    expect(dotRefusesLoggedOut, 'DOT refuses it').to.equal(true);
    const reply = await dotToken('community-app', { grant_type: 'refresh_token', refresh_token: tokens.loggedOut!.refresh_token! });
    expect(reply.status, reply.text).to.equal(400);
    expect(reply.json.error).to.equal('invalid_grant');
    expect((await whoami(tokens.loggedOut!.access_token)).status).to.equal(401);
  });

  it('an imported refresh token refreshes at /auth/oauth2/token/, and is rotated as Gatehouse rotates', async () => {
    const refreshed = await dotToken('community-app', { grant_type: 'refresh_token', refresh_token: tokens.holder!.refresh_token! });
    expect(refreshed.status, refreshed.text).to.equal(200);
    expect(refreshed.json).to.include({ token_type: 'Bearer', scope: 'read write' });
    expect((await whoami(refreshed.json.access_token as string)).status).to.equal(200);
    const reused = await dotToken('community-app', { grant_type: 'refresh_token', refresh_token: tokens.holder!.refresh_token! });
    expect(reused.json.error).to.equal('invalid_grant');
    // The refresh token whose access token expired at DOT still refreshes.
    const late = await dotToken('community-app', { grant_type: 'refresh_token', refresh_token: tokens.expired!.refresh_token! });
    expect(late.status, late.text).to.equal(200);
  });

  it('an imported access token is revoked at /auth/oauth2/revoke_token/', async () => {
    const machineAuth = { authorization: basicAuth('batch-job', apps['batch-job']!.client_secret) };
    const revoked = await postForm(`${server!.url}/auth/oauth2/revoke_token/`, { token: tokens.machine!.access_token }, machineAuth);
    expect(revoked.status, revoked.text).to.equal(200);
    expect((await whoami(tokens.machine!.access_token)).status).to.equal(401);
  });

  it('users sign in with their Django passwords, whatever the hasher, and the hash becomes argon2id', async () => {
    for (const hasher of ['pbkdf2-sha256', 'pbkdf2-sha1', 'bcrypt-sha256', 'bcrypt', 'argon2']) {
      const username = `user-${hasher}`;
      const reply = await signIn(username);
      expect(reply.status, `${username}: ${reply.text}`).to.equal(200);
      const wrong = await signIn(username, 'not the password at all');
      expect(wrong.status, `${username} with a wrong password`).to.equal(400);
    }
    expect(await storedHash('user-bcrypt')).to.match(/^\$argon2id\$/);
  });

  it('an inactive user cannot sign in; a superuser is an admin; names and emails came across', async () => {
    expect((await signIn('inactive')).status).to.equal(400);
    const root = await account('root');
    expect(root.roles).to.include('admin');
    const ada = await account('user-argon2');
    expect(ada).to.include({ email: 'user-argon2@example.org', name: 'Ada argon2' });
  });

  it('clients came across as DOT had them: two redirect URIs, a public client, a Django-hashed secret verified', async () => {
    const web = await server!.services.clients.show('web-app');
    expect(web.redirectUris).to.deep.equal(['https://web.example.org/callback', 'https://web.example.org/other']);
    expect(web.grantTypes).to.include('authorization_code');
    expect(await server!.services.clients.exists('mobile-app'), 'the refused public password client').to.equal(false);
    const hashed = await dotToken('hashed-app', { grant_type: 'password', username: 'holder', password: users.holder!.password });
    expect(hashed.status, hashed.text).to.equal(200);
    const wrongSecret = await postForm(`${server!.url}/auth/oauth2/token/`, { grant_type: 'password', username: 'holder', password: users.holder!.password },
      { authorization: basicAuth('hashed-app', 'not-the-secret-0123456789abcdef') });
    expect(wrongSecret.status).to.equal(401);
  });

  it('a re-run changes nothing, and never brings back a token rotated or revoked in Gatehouse', async () => {
    const summary = await importJson('--skip-unverifiable');
    for (const table of ['applications', 'users']) {
      expect(summary.tables[table], table).to.include({ created: 0, updated: 0 });
    }
    expect(summary.tables.accessTokens).to.include({ created: 0, updated: 0 });
    expect(summary.tables.refreshTokens).to.include({ created: 0, updated: 0 });
    expect((await whoami(tokens.machine!.access_token)).status, 'the revoked machine token').to.equal(401);
    const reused = await dotToken('community-app', { grant_type: 'refresh_token', refresh_token: tokens.holder!.refresh_token! });
    expect(reused.json.error, 'the rotated refresh token').to.equal('invalid_grant');
  });

  it('a re-run updates a changed row and reports, without deleting, one that is gone from the source', async () => {
    await dot!.python('seed.py', 'set-email', 'user-argon2', 'ada@example.org');
    await dot!.python('seed.py', 'delete-app', 'web-app');
    const summary = await importJson('--skip-unverifiable');
    expect(summary.tables.users).to.include({ updated: 1, created: 0 });
    expect(summary.vanished).to.deep.equal([{ table: 'applications', key: 'web-app' }]);
    expect((await account('user-argon2')).email).to.equal('ada@example.org');
    expect(await server!.services.clients.exists('web-app')).to.equal(true);
  });

  it('prints no progress bar when stderr is not a terminal', async () => {
    const result = await runCli(server!, ...importArgs('--skip-unverifiable', '--dry-run'));
    expect(result.code).to.equal(0);
    expect(result.stderr).not.to.match(/rows\/s/);
    expect(result.stdout).to.match(/dry run: nothing was written/);
  });

  it('draws a progress bar per table, with counts and rate, when stderr is a terminal', async function () {
    // util-linux `script` runs the CLI on a pseudo-terminal, as an operator's shell would.
    const command = [process.execPath, 'dist/src/cli/main.js', ...importArgs('--skip-unverifiable', '--dry-run')]
      .map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
    let output: string;
    try {
      ({ stdout: output } = await promisify(execFile)('script', ['-qec', command, '/dev/null'], {
        env: { ...process.env, GATEHOUSE_DATA_DIR: server!.config.dataDir, DATABASE_URL: process.env.DATABASE_URL ?? '', REDIS_URL: process.env.REDIS_URL ?? '' },
      }));
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') this.skip();
      throw error;
    }
    expect(output).to.match(/applications\s+\[#+\] (\d+)\/\1\s+[\d,]+ rows\/s/);
    expect(output).to.match(/users and tokens\s+\[[#-]+\] [\d,]+\/[\d,]+\s+[\d,]+ rows\/s/);
  });

  async function account(username: string) {
    return server!.services.accounts.show(username);
  }

  async function storedHash(username: string): Promise<string> {
    return (await server!.services.storage.accounts.findById((await account(username)).id))!.passwordHash;
  }
});
