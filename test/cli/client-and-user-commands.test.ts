import { expect } from 'chai';
import { type CliResult, runCli, runCliWithInput } from '../support/built-cli.js';
import { basicAuth, postForm, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sleep } from '../support/waiting.js';

describe('CLI: client and user commands for the day of the switch', function () {
  this.timeout(60_000);
  let server: TestServer;
  const stamp = Date.now();
  const cli = (...args: string[]): Promise<CliResult> => runCli(server, ...args);
  const ok = async (...args: string[]) => {
    const result = await cli(...args, '--json');
    expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(0);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  };
  const tokenStatus = async (clientId: string, secret: string) =>
    (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(clientId, secret) })).status;

  before(async () => { server = await startTestServer(); });
  after(() => server.stop());

  it('audit --since refuses a time the audit trail cannot be searched by (year 0), as a usage error, and takes year 1', async () => {
    for (const since of ['0000-01-01', '0001-01-01T00:00:00+05:00']) {
      const refused = await cli('audit', '--since', since);
      expect(refused.code, `${since}: ${refused.stderr}`).to.equal(2);
      expect(refused.stderr).to.include('0001 to 9999');
    }
    expect(await ok('audit', '--since', '0001-01-02', '--limit', '1')).to.be.an('array');
  });

  it('client create --client-secret keeps a secret that exists elsewhere, and refuses one shorter than 32 characters', async () => {
    const short = await cli('client', 'create', '--name', 'Short', '--grant-types', 'client_credentials', '--scope', 'read', '--client-secret', 'too-short-secret', '--json');
    expect(short.code).to.equal(1);
    expect(JSON.parse(short.stderr).fields).to.deep.include({ field: 'client_secret', message: 'must be 32 to 512 characters, without spaces or control characters' });
    const secret = 'an-existing-secret-0123456789-0123456789';
    const created = await ok('client', 'create', '--name', 'Given secret', '--client-id', `given-${stamp}`, '--grant-types', 'client_credentials', '--scope', 'read', '--client-secret', secret);
    expect(created.client_secret).to.equal(secret);
    expect(await tokenStatus(`given-${stamp}`, secret)).to.equal(200);
  });

  it('client rotate-secret --grace: the old secret keeps working until the grace ends, then 401; the new one works at once', async () => {
    const created = await ok('client', 'create', '--name', 'Rotating', '--client-id', `rotating-${stamp}`, '--grant-types', 'client_credentials', '--scope', 'read');
    const old = created.client_secret as string;
    const rotated = await ok('client', 'rotate-secret', `rotating-${stamp}`, '--grace', '3');
    const fresh = rotated.client_secret as string;
    expect(fresh).to.be.a('string').and.not.equal(old);
    const graceEnds = Date.parse(rotated.previous_secret_valid_until as string);
    expect(graceEnds - Date.now()).to.be.within(0, 3000);
    expect(await tokenStatus(`rotating-${stamp}`, fresh)).to.equal(200);
    // The old secret, asked until it is refused: every answer before the end of the grace is 200.
    let refusedAt: number | undefined;
    while (refusedAt === undefined) {
      const askedAt = Date.now();
      const status = await tokenStatus(`rotating-${stamp}`, old);
      if (status === 401) refusedAt = askedAt;
      else expect(status, 'within the grace period').to.equal(200);
      expect(Date.now() - graceEnds, 'refused soon after the grace ends').to.be.below(3000);
      if (refusedAt === undefined) await sleep(100);
    }
    expect(refusedAt, 'not refused before the grace ended').to.be.at.least(graceEnds - 50);
    expect(await tokenStatus(`rotating-${stamp}`, fresh)).to.equal(200);

    // Without --grace the old secret stops at once in the CLI's process, and
    // within a second in the server's (its client cache, clients-store.ts).
    const again = await ok('client', 'rotate-secret', `rotating-${stamp}`);
    expect(again).not.to.have.property('previous_secret_valid_until');
    const rotatedAt = Date.now();
    let oldSecret = await tokenStatus(`rotating-${stamp}`, fresh);
    while (oldSecret === 200 && Date.now() - rotatedAt < 1500) {
      await sleep(100);
      oldSecret = await tokenStatus(`rotating-${stamp}`, fresh);
    }
    expect(oldSecret).to.equal(401);
    expect(Date.now() - rotatedAt, 'the old secret refused within a second').to.be.below(1300);
    expect(await tokenStatus(`rotating-${stamp}`, again.client_secret as string)).to.equal(200);
    const trail = await ok('audit', '--client', `rotating-${stamp}`) as unknown as Array<{ event: string }>;
    expect(trail.filter((e) => e.event === 'client.secret_rotated')).to.have.length(2);
  });

  it('client update changes what it is told under the same rules, client delete kills its tokens; the dashboard client is refused', async () => {
    const created = await ok('client', 'create', '--name', 'Updatable', '--client-id', `upd-${stamp}`, '--grant-types', 'client_credentials', '--scope', 'read');
    const updated = await ok('client', 'update', `upd-${stamp}`, '--name', 'Renamed', '--scope', 'read write', '--token-format', 'jwt');
    expect(updated).to.include({ client_name: 'Renamed', scope: 'read write', token_format: 'jwt' });
    const bad = await cli('client', 'update', `upd-${stamp}`, '--grant-types', 'authorization_code', '--json');
    expect(bad.code).to.equal(1);
    expect(JSON.parse(bad.stderr).fields.map((f: { field: string }) => f.field)).to.include('redirect_uris');
    expect(await ok('client', 'show', `upd-${stamp}`)).to.have.deep.property('grant_types', ['client_credentials']);

    const token = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(`upd-${stamp}`, created.client_secret as string) })).json.access_token as string;
    expect((await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status).to.equal(200);
    expect(await ok('client', 'delete', `upd-${stamp}`)).to.deep.equal({ deleted: `upd-${stamp}` });
    // Deleted by another process (the CLI): the server sees it within its client cache's second
    // (at once with Redis, which announces the deletion).
    const deadline = Date.now() + 2000;
    let status = 0;
    do {
      status = (await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status;
      if (status !== 401) await sleep(50);
    } while (status !== 401 && Date.now() < deadline);
    expect(status).to.equal(401);
    expect((await cli('client', 'show', `upd-${stamp}`)).code).to.equal(1);

    for (const args of [['rotate-secret', 'gatehouse-dashboard'], ['delete', 'gatehouse-dashboard'], ['update', 'gatehouse-dashboard', '--name', 'x']]) {
      const refused = await cli('client', ...args, '--json');
      expect(refused.code, args.join(' ')).to.equal(1);
      expect(JSON.parse(refused.stderr).error, args.join(' ')).to.equal('reserved_client');
    }
  });

  describe('users', () => {
    const username = `ursula-${stamp}`;
    const password = 'first password here';
    let client: { id: string; secret: string };

    before(async () => {
      const created = await server.services.clients.create({ name: 'Password app', grantTypes: ['password', 'refresh_token'], scope: ['read'] });
      client = { id: created.client.clientId, secret: created.clientSecret! };
      await ok('user', 'create', '--username', username, '--password', password, '--email', 'ursula@example.test', '--name', 'Ursula');
    });

    const signIn = (pass: string) => postForm(`${server.url}/token`, { grant_type: 'password', username, password: pass, scope: 'read' }, { authorization: basicAuth(client.id, client.secret) });
    const whoami = async (token: string) => (await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status;
    const refresh = async (token: string) => (await postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: token }, { authorization: basicAuth(client.id, client.secret) })).status;

    it('user list --search, user show by username or id', async () => {
      const found = await ok('user', 'list', '--search', 'URSULA@example') as unknown as Array<{ username: string; id: string }>;
      expect(found.map((u) => u.username)).to.deep.equal([username]);
      expect(await ok('user', 'show', found[0]!.id)).to.include({ username, email: 'ursula@example.test', name: 'Ursula', active: true });
      expect(await ok('user', 'show', username.toUpperCase())).to.include({ id: found[0]!.id });
      expect((await ok('user', 'list', '--search', `nobody-${stamp}`) as unknown as unknown[])).to.deep.equal([]);
      expect((await cli('user', 'show', `nobody-${stamp}`)).code).to.equal(1);
    });

    it('user update changes email, name and roles; --active false signs the user out everywhere and keeps them out', async () => {
      expect(await ok('user', 'update', username, '--email', 'u@example.test', '--name', 'Ursula K.', '--role', 'staff'))
        .to.include({ email: 'u@example.test', name: 'Ursula K.' }).and.have.deep.property('roles', ['staff']);
      const bad = await cli('user', 'update', username, '--email', 'not-an-email', '--json');
      expect(bad.code).to.equal(1);
      expect((await cli('user', 'update', username, '--active', 'maybe')).code).to.equal(2);

      const tokens = (await signIn(password)).json as { access_token: string; refresh_token: string };
      expect(await whoami(tokens.access_token)).to.equal(200);
      expect(await ok('user', 'update', username, '--active', 'false')).to.include({ active: false });
      expect(await whoami(tokens.access_token), 'access token revoked').to.equal(401);
      expect(await refresh(tokens.refresh_token), 'refresh token revoked').to.equal(400);
      expect((await signIn(password)).status, 'cannot sign in').to.equal(400);
      await ok('user', 'update', username, '--active', 'true');
      expect((await signIn(password)).status).to.equal(200);
    });

    it('user update --role taking admin away ends the old JWT and refresh token (introspection active:false, /api/whoami 401); the next token says user', async () => {
      const jwtApp = await server.services.clients.create({ name: 'Password JWT app', grantTypes: ['password', 'refresh_token'], scope: ['read'], tokenFormat: 'jwt' });
      const jwtAuth = { authorization: basicAuth(jwtApp.client.clientId, jwtApp.clientSecret!) };
      const admin = { username: `demoted-${stamp}`, password: 'demoted admin password' };
      await ok('user', 'create', '--username', admin.username, '--password', admin.password, '--role', 'admin');
      const jwtSignIn = async () => (await postForm(`${server.url}/token`, { grant_type: 'password', ...admin, scope: 'read' }, jwtAuth)).json as { access_token: string; refresh_token: string };
      const roleIn = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { role?: string }).role;
      const introspect = async (token: string) => (await postForm(`${server.url}/token/introspection`, { token }, jwtAuth)).json;
      const tokens = await jwtSignIn();
      expect(roleIn(tokens.access_token)).to.equal('admin');
      expect(await introspect(tokens.access_token)).to.include({ active: true, role: 'admin' });
      expect(await whoami(tokens.access_token)).to.equal(200);

      expect(await ok('user', 'update', admin.username, '--role', 'user')).to.have.deep.property('roles', ['user']);

      expect(await introspect(tokens.access_token), 'the old access token').to.deep.equal({ active: false });
      expect(await introspect(tokens.refresh_token), 'the old refresh token').to.deep.equal({ active: false });
      expect(await whoami(tokens.access_token), 'the resource check').to.equal(401);
      expect(roleIn((await jwtSignIn()).access_token), 'the next token').to.equal('user');
    });

    it('takes a password or a client secret from standard input when given as -, never from the command line', async () => {
      const stdinUser = `stdin-${Date.now()}`;
      const created = await runCliWithInput(server, 'a password from stdin\n', 'user', 'create', '--username', stdinUser, '--password', '-', '--json');
      expect(created.code, created.stderr).to.equal(0);
      expect(await server.services.accounts.authenticate(stdinUser, 'a password from stdin')).to.not.equal(undefined);
      const changed = await runCliWithInput(server, 'another password from stdin\n', 'user', 'set-password', stdinUser, '--password', '-', '--json');
      expect(changed.code, changed.stderr).to.equal(0);
      expect(await server.services.accounts.authenticate(stdinUser, 'another password from stdin')).to.not.equal(undefined);
      const secret = 'a-client-secret-from-stdin-0123456789abcdef';
      const client = await runCliWithInput(server, `${secret}\n`, 'client', 'create', '--name', 'From stdin', '--grant-types', 'client_credentials', '--scope', 'read', '--client-secret', '-', '--json');
      expect(client.code, client.stderr).to.equal(0);
      const { client_id: clientId } = JSON.parse(client.stdout) as { client_id: string };
      expect((await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(clientId, secret) })).status).to.equal(200);
      const empty = await runCliWithInput(server, '', 'user', 'set-password', stdinUser, '--password', '-');
      expect(empty.code).to.equal(2);
      expect(empty.stderr).to.include('found nothing on standard input');
    });

    it('user set-password: the old password stops working, the new one works', async () => {
      expect(await ok('user', 'set-password', username, '--password', 'second password here')).to.include({ password: 'set' });
      expect((await signIn(password)).status).to.equal(400);
      expect((await signIn('second password here')).status).to.equal(200);
      expect((await cli('user', 'set-password', username, '--password', 'short', '--json')).code).to.equal(1);
    });

    it('user delete removes the user with their grants: access and refresh tokens die at once; audited', async () => {
      const tokens = (await signIn('second password here')).json as { access_token: string; refresh_token: string };
      expect(await whoami(tokens.access_token)).to.equal(200);
      const deleted = await ok('user', 'delete', username);
      expect(deleted).to.include({ username });
      expect(deleted.revoked_grants).to.be.at.least(1);
      expect(await whoami(tokens.access_token)).to.equal(401);
      expect(await refresh(tokens.refresh_token)).to.equal(400);
      const introspected = await postForm(`${server.url}/token/introspection`, { token: tokens.refresh_token }, { authorization: basicAuth(client.id, client.secret) });
      expect(introspected.json.active).to.equal(false);
      expect((await cli('user', 'show', username)).code).to.equal(1);
      const trail = await ok('audit', '--limit', '50') as unknown as Array<{ event: string; detail: Record<string, unknown> }>;
      expect(trail.find((e) => e.event === 'account.deleted' && e.detail.username === username)).to.not.equal(undefined);
    });
  });
});
