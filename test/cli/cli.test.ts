import { expect } from 'chai';
import * as oidc from 'openid-client';
import { type CliResult, runCli } from '../support/built-cli.js';
import { discover } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('CLI, beside a running server', () => {
  let server: TestServer;

  const cli = (...args: string[]): Promise<CliResult> => runCli(server, ...args);

  before(async () => { server = await startTestServer(); });
  after(() => server.stop());

  it('creates a client whose credentials the running server accepts at once', async () => {
    const result = await cli('client', 'create', '--name', 'CLI client', '--grant-types', 'client_credentials', '--scope', 'read write', '--json');
    expect(result.code, result.stderr).to.equal(0);
    const created = JSON.parse(result.stdout) as { client_id: string; client_secret: string; scope: string };
    expect(created.client_id).to.match(/^[0-9a-f-]{36}$/);
    expect(created.client_secret).to.have.length.of.at.least(43);
    expect(created.scope).to.equal('read write');
    const config = await discover(server, created.client_id, created.client_secret);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'write' });
    expect(tokens.scope).to.equal('write');

    const shown = JSON.parse((await cli('client', 'show', created.client_id, '--json')).stdout) as Record<string, unknown>;
    expect(shown.client_name).to.equal('CLI client');
    expect(shown, 'the secret is shown only at creation').not.to.have.property('client_secret');
    const listed = JSON.parse((await cli('client', 'list', '--name', 'cli CLIENT', '--json')).stdout) as Array<{ client_id: string }>;
    expect(listed.map((c) => c.client_id)).to.include(created.client_id);
  });

  it('honours --client-id and refuses a taken one', async () => {
    const id = `fixed-${Date.now()}`;
    expect((await cli('client', 'create', '--name', 'Fixed', '--grant-types', 'client_credentials', '--client-id', id, '--scope', 'read', '--json')).code).to.equal(0);
    const again = await cli('client', 'create', '--name', 'Fixed', '--grant-types', 'client_credentials', '--client-id', id, '--scope', 'read', '--json');
    expect(again.code).to.equal(1);
    expect(JSON.parse(again.stderr)).to.include({ error: 'conflict' });
  });

  it('explains invalid input and changes nothing', async () => {
    const before = (JSON.parse((await cli('client', 'list', '--json')).stdout) as unknown[]).length;
    const bad = await cli('client', 'create', '--name', 'Bad', '--grant-types', 'authorization_code,teleport', '--redirect-uris', 'http://evil.example.test/cb', '--scope', 'read nonsense', '--json');
    expect(bad.code).to.equal(1);
    const error = JSON.parse(bad.stderr) as { fields: Array<{ field: string; message: string }> };
    expect(error.fields.map((f) => f.field)).to.include.members(['grant_types', 'redirect_uris']);
    const unknownScope = await cli('client', 'create', '--name', 'Bad', '--grant-types', 'client_credentials', '--scope', 'nonsense', '--json');
    expect(JSON.parse(unknownScope.stderr).error_description).to.match(/unknown scope: nonsense/);
    expect((JSON.parse((await cli('client', 'list', '--json')).stdout) as unknown[]).length).to.equal(before);
  });

  it('creates a user who can then sign in, and refuses a duplicate username', async () => {
    const username = `dora-${Date.now()}`;
    const created = await cli('user', 'create', '--username', username, '--password', 'long enough password', '--role', 'admin', '--email', 'dora@example.test', '--json');
    expect(created.code, created.stderr).to.equal(0);
    expect(JSON.parse(created.stdout)).to.include({ username }).and.have.deep.property('roles', ['admin']);
    expect(await server.services.accounts.authenticate(username, 'long enough password')).to.have.property('username', username);
    const duplicate = await cli('user', 'create', '--username', username.toUpperCase(), '--password', 'long enough password');
    expect(duplicate.code).to.equal(1);
    expect(duplicate.stderr).to.match(/already taken/);
  });

  it('rotates keys: the new key is listed as active for its algorithm and the old one is kept', async () => {
    const before = JSON.parse((await cli('keys', 'list', '--json')).stdout) as Array<{ kid: string; active: boolean }>;
    const rotated = JSON.parse((await cli('keys', 'rotate', '--json')).stdout) as { kid: string; active: boolean };
    expect(rotated.active).to.equal(true);
    const after = JSON.parse((await cli('keys', 'list', '--json')).stdout) as Array<{ kid: string; alg: string; active: boolean }>;
    expect(after[0]).to.include({ kid: rotated.kid, active: true });
    expect(after.map((k) => k.kid)).to.include.members(before.map((k) => k.kid));
    // One active key per algorithm (RS256, ES256, EdDSA); rotation replaces only RS256's.
    const active = after.filter((k) => k.active);
    expect(active.map((k) => k.alg).sort()).to.deep.equal(['ES256', 'EdDSA', 'RS256']);
    const es256 = JSON.parse((await cli('keys', 'rotate', '--alg', 'ES256', '--json')).stdout) as { kid: string; alg: string; active: boolean };
    expect(es256).to.include({ alg: 'ES256', active: true });
    const afterEs = JSON.parse((await cli('keys', 'list', '--json')).stdout) as Array<{ kid: string; active: boolean }>;
    expect(afterEs.find((k) => k.kid === rotated.kid)?.active, 'the RS256 key stays active').to.equal(true);
    expect((await cli('keys', 'rotate', '--alg', 'HS256')).code).to.equal(1);
  });

  it('prints usage and exits 2 for an unknown command', async () => {
    const result = await cli('frobnicate');
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/unknown command: frobnicate/).and.match(/Usage:/);
  });
});
